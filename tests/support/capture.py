"""Everything the functions write: their Powertools log lines and metrics (EMF on stdout)."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

from aws_lambda_powertools import Logger


@contextlib.contextmanager
def function_output(*loggers: Logger) -> Iterator[io.StringIO]:
    """Collects the given loggers' lines, stdout (metrics flush there) and the root logger."""
    buffer = io.StringIO()
    handlers = [h for h in (logger.registered_handler for logger in loggers) if isinstance(h, logging.StreamHandler)]
    # Swapped without setStream, which flushes the old stream: that may be an output capture pytest
    # has closed since the handler was made (a test run in one process, as the mutation tool runs it).
    previous = [h.stream for h in handlers]
    for handler in handlers:
        handler.stream = buffer
    root = logging.StreamHandler(buffer)
    logging.getLogger().addHandler(root)
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield buffer
    finally:
        logging.getLogger().removeHandler(root)
        for handler, stream in zip(handlers, previous, strict=True):
            handler.stream = stream
