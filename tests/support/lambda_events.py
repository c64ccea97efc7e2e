"""The Lambda event builders and context the tests use (they live in bench/lambda_events.py, which the
benchmarks use too)."""

from bench.lambda_events import FakeContext, api_request, stream_event, stream_record

__all__ = ["FakeContext", "api_request", "stream_event", "stream_record"]
