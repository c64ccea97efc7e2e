"""A local stand-in for Slack's incoming webhooks: an HTTP server on loopback that keeps what it gets."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class SlackStandIn:
    def __init__(self, answer_status: int = 200) -> None:
        self.answer_status = answer_status  # e.g. 400 or 500 to play a Slack that refuses
        self.messages: list[dict[str, Any]] = []
        self._received = threading.Condition()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if stand_in.answer_status >= 300:
                    self.send_response(stand_in.answer_status)
                    self.end_headers()
                    self.wfile.write(b"invalid_blocks")
                    return
                with stand_in._received:
                    stand_in.messages.append(json.loads(body))
                    stand_in._received.notify_all()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/services/T000/B000/XXXX"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def wait_for_messages(self, count: int, timeout_s: float) -> list[dict[str, Any]]:
        """Blocks until `count` messages arrived (a condition variable, not a sleep)."""
        with self._received:
            if not self._received.wait_for(lambda: len(self.messages) >= count, timeout=timeout_s):
                raise AssertionError(f"Slack got {len(self.messages)} messages, expected {count}")
            return list(self.messages)

    def __enter__(self) -> SlackStandIn:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
