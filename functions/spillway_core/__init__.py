"""Code shared by the Spillway Lambda functions (bundled into every function's asset).

Layers, as in the handler cookbook: handlers (functions/*/handler.py) parse and shape;
logic modules decide; ``store``/``domain_store`` are the only modules that talk to AWS.
"""
