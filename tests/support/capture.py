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
    handlers = [logger.registered_handler for logger in loggers]
    streams = [h.setStream(buffer) for h in handlers if isinstance(h, logging.StreamHandler)]
    root = logging.StreamHandler(buffer)
    logging.getLogger().addHandler(root)
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield buffer
    finally:
        logging.getLogger().removeHandler(root)
        for handler, stream in zip(handlers, streams, strict=False):
            if isinstance(handler, logging.StreamHandler) and stream is not None:
                handler.setStream(stream)
