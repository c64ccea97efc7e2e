"""Every answer of the ingest, with a store that records whether it was called."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from ingest.logic import authenticate, ingest_webhook
from spillway_cli.tokens import binding, bindings_json
from spillway_core.errors import DuplicateEvent, StoreRejected, StoreUnavailable
from spillway_core.event_store import NewEvent
from spillway_core.http import WebhookRequest
from spillway_core.settings import IngestSettings
from tests.support.environment import stack_with
from tests.support.keys import key_of

TOKEN = "correct-horse-battery-staple-0123456789"
OLD_TOKEN = "previous-token-still-valid-during-rotation"
OTHER_WORKSPACE_TOKEN = "a-token-for-workspace-13-only-0123456789"
PINNED_INSTANCE_TOKEN = "a-token-pinned-to-another-instance-012345"
NOW_MS = 1_795_000_000_000


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


SETTINGS = IngestSettings.from_env(
    stack_with(
        {
            "EVENTS_TABLE": "events",
            "INGEST_TOKEN_BINDINGS": bindings_json(
                {
                    digest(TOKEN): binding("emailbison", ["12", "1"]),
                    digest(OLD_TOKEN): binding("emailbison", ["12", "1"]),  # rotation: both until the switch
                    digest(OTHER_WORKSPACE_TOKEN): binding("emailbison", ["13"]),
                    digest(PINNED_INSTANCE_TOKEN): binding("emailbison", ["12"], ["other.example-outreach.com"]),
                }
            ),
            "MAX_BODY_BYTES": "4096",
        }
    )
)


class RecordingStore:
    def __init__(self, fail_with: Exception | None = None) -> None:
        self.puts: list[NewEvent] = []
        self.fail_with = fail_with

    def put_new(self, event: NewEvent) -> None:
        self.puts.append(event)
        if self.fail_with:
            raise self.fail_with


def request(
    body: bytes | dict[str, Any],
    *,
    token: str | None = TOKEN,
    header_token: bool = False,
    content_type: str = "application/json",
    provider: str = "emailbison",
) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": content_type}
    query = {}
    if token is not None:
        if header_token:
            headers["x-spillway-token"] = token
        else:
            query["token"] = token
    return WebhookRequest(provider=provider, headers=headers, query=query, body=raw)


def run(req: WebhookRequest, store: RecordingStore | None = None) -> tuple[int, dict[str, Any], RecordingStore]:
    store = store or RecordingStore()
    outcome = ingest_webhook(req, SETTINGS, store, NOW_MS)  # type: ignore[arg-type]
    response = outcome.response.to_api_gateway()
    return response["statusCode"], json.loads(response["body"]), store


def test_valid_event_is_stored_once_and_accepted(email_sent: dict[str, Any]) -> None:
    status, body, store = run(request(email_sent))

    assert status == 200
    assert body == {"status": "accepted", "id": key_of(email_sent)}
    assert len(store.puts) == 1
    stored = store.puts[0]
    assert stored.dedupe_key == key_of(email_sent)
    assert stored.max_attempts == SETTINGS.max_attempts
    assert stored.expires_at_s == NOW_MS // 1000 + 14 * 86_400
    assert stored.pending_due_at_ms == NOW_MS + 300_000
    assert json.loads(stored.normalised_json)["lead_email"] == "jane.doe@prospect.example"


def test_duplicate_answers_200_duplicate(email_sent: dict[str, Any]) -> None:
    status, body, _ = run(request(email_sent), RecordingStore(DuplicateEvent("k")))

    assert (status, body["status"]) == (200, "duplicate")


def test_store_failure_is_503_with_retry_after_never_200(email_sent: dict[str, Any]) -> None:
    store = RecordingStore(StoreUnavailable("ProvisionedThroughputExceededException"))
    outcome = ingest_webhook(request(email_sent), SETTINGS, store, NOW_MS)  # type: ignore[arg-type]
    response = outcome.response.to_api_gateway()

    assert response["statusCode"] == 503
    assert response["headers"]["retry-after"] == "5"
    assert json.loads(response["body"])["error"] == "store_unavailable"


def test_a_permanent_store_error_is_422_never_503(email_sent: dict[str, Any]) -> None:
    status, body, _ = run(request(email_sent), RecordingStore(StoreRejected("ValidationException")))

    assert (status, body["error"]) == (422, "not_storable")


@pytest.mark.parametrize(
    ("token", "change", "expected"),
    [
        (OTHER_WORKSPACE_TOKEN, {}, 403),  # workspace 12's event with workspace 13's token
        (OTHER_WORKSPACE_TOKEN, {"workspace_id": 13}, 200),
        (TOKEN, {"workspace_id": 13}, 403),
        (TOKEN, {"workspace_id": "12 "}, 200),  # the same workspace, as text with a space
        (TOKEN, {"workspace_id": "012"}, 403),  # another id, not a number to compare
        (PINNED_INSTANCE_TOKEN, {}, 403),  # the right workspace on another instance
        (PINNED_INSTANCE_TOKEN, {"instance_url": "https://OTHER.example-outreach.com/x"}, 200),
        (PINNED_INSTANCE_TOKEN, {"instance_url": None}, 403),  # pinned: an event must name its instance
    ],
)
def test_a_token_writes_only_for_its_workspaces_and_instances(
    email_sent: dict[str, Any], token: str, change: dict[str, Any], expected: int
) -> None:
    email_sent["event"].update(change)

    status, body, store = run(request(email_sent, token=token))

    assert status == expected, body
    assert len(store.puts) == (1 if expected == 200 else 0)
    if expected == 403:
        assert body["error"] == "forbidden"


def test_a_token_bound_to_one_provider_cannot_post_as_the_other(email_sent: dict[str, Any]) -> None:
    status, body, store = run(request(email_sent, provider="inboxxia"))

    assert (status, body["error"], store.puts) == (403, "forbidden", [])


@pytest.mark.parametrize(
    ("token", "in_header"),
    [(TOKEN, True), (OLD_TOKEN, False), (OLD_TOKEN, True)],  # the header alone; the rotated-out token too
)
def test_a_token_in_the_header_or_a_rotated_one_is_accepted(
    email_sent: dict[str, Any], token: str, in_header: bool
) -> None:
    status, body, store = run(request(email_sent, token=token, header_token=in_header))

    assert (status, body["status"], len(store.puts)) == (200, "accepted", 1)


@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN + "x", TOKEN.upper()])
def test_unauthenticated_is_401_and_stores_nothing(email_sent: dict[str, Any], token: str | None) -> None:
    status, body, store = run(request(email_sent, token=token))

    assert status == 401
    assert body["error"] == "unauthorized"
    assert store.puts == []


def test_authentication_comes_before_every_other_check() -> None:
    oversized_garbage = b"x" * 10_000
    status, _, store = run(request(oversized_garbage, token="wrong", content_type="text/plain"))

    assert status == 401
    assert store.puts == []


@pytest.mark.parametrize(
    ("req", "status", "code"),
    [
        (request(b"{}", provider="mailchimp"), 404, "unknown_provider"),
        (request(b" " * 4097), 413, "payload_too_large"),
        (request(b"{}", content_type="text/plain"), 415, "unsupported_media_type"),
        (request(b"{}", content_type=""), 415, "unsupported_media_type"),
        (request(b"{not json"), 400, "invalid_json"),
        (request(b"\xff\xfe"), 400, "invalid_utf8"),
        (request(b"[1, 2]"), 400, "invalid_json"),
        (request(b'"a string"'), 400, "invalid_json"),
        (request(b"\xef\xbb\xbf\xff{}"), 400, "invalid_utf8"),
        (request(b'{"event": {"type": "\\ud800"}}'), 400, "invalid_utf8"),
        (request(b"[" * 2000 + b"]" * 2000), 400, "too_deeply_nested"),
        (request(b'{"event": {"type": "X", "workspace_id": NaN}}'), 400, "invalid_json"),
        (request({"event": {"type": "EMAIL_SENT"}, "data": {}}), 422, "missing_workspace"),
        (request({"event": {"type": "EMAIL_SENT", "workspace_id": 12}, "data": {}}), 422, "missing_dedupe_id"),
        (request({"event": {"type": "EMAIL_SENT", "workspace_id": "w" * 65}}), 422, "invalid_payload"),
        (request({"event": {"type": "T" * 65, "workspace_id": 12}}), 422, "invalid_event_type"),
        (
            request({"event": {"type": "EMAIL_SENT", "workspace_id": 12, "instance_url": "https://a b"}}),
            422,
            "invalid_instance",
        ),
        (
            request({"event": {"type": "EMAIL_SENT", "workspace_id": 12}, "data": {"scheduled_email": {"id": True}}}),
            422,
            "invalid_payload",
        ),
        (
            request(
                {"event": {"type": "EMAIL_SENT", "workspace_id": 12}, "data": {"scheduled_email": {"id": "a:b c"}}}
            ),
            422,
            "invalid_payload",
        ),
        (
            request(
                {"event": {"type": "EMAIL_SENT", "workspace_id": 12}, "data": {"scheduled_email": {"id": "1" * 65}}}
            ),
            422,
            "invalid_payload",
        ),
    ],
)
def test_bad_input_gets_a_json_error_and_stores_nothing(req: WebhookRequest, status: int, code: str) -> None:
    got_status, body, store = run(req)

    assert got_status == status
    assert body["error"] == code
    assert body["message"]
    assert store.puts == []


def test_json_content_type_variants_are_accepted(email_sent: dict[str, Any]) -> None:
    for content_type in ("application/json; charset=utf-8", "Application/JSON", "application/vnd.emailbison+json"):
        assert run(request(email_sent, content_type=content_type))[0] == 200


def test_body_at_the_limit_is_accepted(email_sent: dict[str, Any]) -> None:
    body = json.dumps(email_sent).encode()
    padded = body[:-1] + b" " * (SETTINGS.max_body_bytes - len(body)) + b"}"

    assert len(padded) == SETTINGS.max_body_bytes
    assert run(request(padded))[0] == 200


def test_authenticate_rejects_empty_configured_and_presented() -> None:
    req = WebhookRequest(provider="emailbison", headers={}, query={}, body=b"")

    assert authenticate(req, {digest(""): binding_of("emailbison")}) is None


def binding_of(provider: str) -> Any:
    from spillway_core.settings import TokenBinding

    return TokenBinding.from_json(binding(provider, ["1"]))


def test_unknown_event_type_is_kept_as_ignored_and_answered_2xx() -> None:
    document = {"event": {"type": "TAG_ATTACHED", "workspace_id": 1}, "data": {"tag": {"id": 5}}}

    status, body, store = run(request(document))

    assert (status, body["status"]) == (200, "ignored")
    [stored] = store.puts
    assert stored.status.value == "IGNORED"
    assert stored.intake_shard is None and stored.pending_due_at_ms is None  # invisible to processor/sweeper
    assert stored.expires_at_s == NOW_MS // 1000 + 86_400
    assert body["id"].startswith("emailbison::1:TAG_ATTACHED:sha256-")


@pytest.mark.parametrize(
    "fixture",
    [
        "manual_email_sent.json",
        "lead_replied.json",
        "lead_interested.json",
        "untracked_reply_received.json",
        "email_opened.json",
        "email_bounced.json",
        "lead_unsubscribed.json",
    ],
)
def test_every_supported_type_is_accepted(fixture: str) -> None:
    from tests.conftest import load_fixture

    status, body, store = run(request(load_fixture(fixture)))

    assert (status, body["status"]) == (200, "accepted")
    assert store.puts[0].status.value == "PENDING"
