"""The design the incident came from, for comparison only: the same event handlers run inline in
the request, on an app server with a fixed worker pool behind a gateway timeout. Not the product."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from spillway_core.domain import plan_effect
from spillway_core.domain_store import AlreadyApplied, ConcurrentChange, DomainStore
from spillway_core.http import WebhookRequest
from spillway_core.payloads import PayloadRejected, dedupe_key, normalise, parse_payload


class SyncWebhookServer:
    """POST /webhooks/<provider>?token=: authenticate, normalise, apply the domain effect, answer.

    ``workers`` requests run at once (an app server's pool); a request that cannot finish within
    ``gateway_timeout_s`` of arriving is answered 504, as the gateway in front of the app did."""

    def __init__(self, dynamodb: Any, domain_table: str, token: str, workers: int = 8, gateway_timeout_s: float = 10):
        slots = threading.BoundedSemaphore(workers)
        store = DomainStore(dynamodb, domain_table)
        digest = hashlib.sha256(token.encode()).hexdigest()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                arrived = time.monotonic()
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if not slots.acquire(timeout=gateway_timeout_s):
                    return self._answer(504, {"error": "gateway_timeout"})
                try:
                    status, answer = handle(self.path, body, arrived)
                finally:
                    slots.release()
                if time.monotonic() - arrived > gateway_timeout_s:
                    status, answer = 504, {"error": "gateway_timeout"}
                self._answer(status, answer)

            def _answer(self, status: int, answer: dict[str, Any]) -> None:
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        def handle(path: str, body: bytes, arrived: float) -> tuple[int, dict[str, Any]]:
            route, _, query = path.partition("?")
            token = dict(part.split("=", 1) for part in query.split("&") if "=" in part).get("token", "")
            request = WebhookRequest(
                route.rsplit("/", 1)[-1], {"content-type": "application/json"}, {"token": token}, body
            )
            presented = hashlib.sha256(token.encode()).hexdigest()
            if not token or not hmac.compare_digest(presented, digest):
                return 401, {"error": "unauthorized"}
            try:
                document = json.loads(body)
                event = normalise(request.provider, parse_payload(document))
                key = dedupe_key(event, document)
            except (ValueError, PayloadRejected):
                return 400, {"error": "invalid"}
            plan = plan_effect(key, event, int(arrived * 1000))
            for _ in range(10):
                snapshot = store.read_snapshot(plan)
                if snapshot.applied:
                    return 200, {"status": "duplicate"}
                try:
                    store.apply(plan, snapshot, int(time.time() * 1000))
                    return 200, {"status": "processed"}
                except AlreadyApplied:
                    return 200, {"status": "duplicate"}
                except ConcurrentChange:
                    continue
            return 500, {"error": "contention"}

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.request_queue_size = 1024
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/emailbison"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SyncWebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
