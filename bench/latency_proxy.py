"""A DynamoDB endpoint in front of the emulator that adds a fixed latency to domain writes
(TransactWriteItems): the simulated slow, contended database of the incident, for both designs."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_TARGET = "DynamoDB_20120810.TransactWriteItems"


class LatencyProxy:
    def __init__(self, upstream: str, latency_ms: float) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("x-amz-target") == SLOW_TARGET:
                    time.sleep(latency_ms / 1000)  # the injected downstream latency itself
                    proxy.slowed += 1
                headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}}
                request = urllib.request.Request(upstream + self.path, data=body, headers=headers, method="POST")
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status, payload, reply_headers = response.status, response.read(), response.headers
                except urllib.error.HTTPError as error:
                    status, payload, reply_headers = error.code, error.read(), error.headers
                self.send_response(status)
                for name in ("content-type", "x-amzn-requestid", "x-amz-crc32"):
                    if reply_headers.get(name):
                        self.send_header(name, reply_headers[name])
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.slowed = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LatencyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
