"""API Gateway HTTP API (payload format 2.0) request/response shapes used by the ingest."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WebhookRequest:
    provider: str
    headers: dict[str, str]  # lower-cased names
    query: dict[str, str]
    body: bytes
    body_error: str | None = None  # the body could not be read (invalid base64): a 400

    @classmethod
    def from_api_gateway(cls, event: dict[str, Any]) -> WebhookRequest:
        raw_body = str(event.get("body") or "")
        body_error = None
        # surrogatepass: a lone surrogate becomes bytes that are not UTF-8, answered 400 later.
        body = raw_body.encode("utf-8", "surrogatepass")
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                body, body_error = b"", "invalid_base64"
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        return cls(
            provider=str((event.get("pathParameters") or {}).get("provider", "")).lower(),
            headers=headers,
            query={str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()},
            body=body,
            body_error=body_error,
        )


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def to_api_gateway(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "headers": {"content-type": "application/json", **self.headers},
            "body": json.dumps(self.body, separators=(",", ":")),
        }


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(status, {"error": code, "message": message}, headers or {})
