"""The Spillway CDK app."""

import os

# jsii warns on every synth that this machine's Node 20 is past end of life; the synth itself works.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "20")
