"""A corpus of hostile webhook requests (API Gateway v2 events) and the world they run in.

Each case names what it probes and, where the answer is fixed by the rules, the status it must get.
The invariants every case is held to live in tests/integration/test_hostile_corpus.py.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from spillway_cli.tokens import binding, bindings_json
from tests.conftest import load_fixture
from tests.support.environment import stack_with
from tests.support.lambda_events import api_request

TOKEN = "hostile-corpus-token-0123456789abcdef"
PINNED_TOKEN = "hostile-corpus-token-pinned-to-an-instance"
INBOXXIA_TOKEN = "hostile-corpus-token-inboxxia-0123456789"
SECRETS = (TOKEN, PINNED_TOKEN, INBOXXIA_TOKEN)
MAX_BODY_BYTES = 256 * 1024
INSTANCE = "send.example-outreach.com"
# Workspaces the main token is bound to: the fixtures' and the ones the limit and aliasing cases use.
WORKSPACES = ["12", "w" * 64, "é" * 64, "a:b", "a", "a%3Ab", "ws#1", "😀"]
FIXTURES = [
    "email_sent.json",
    "manual_email_sent.json",
    "lead_replied.json",
    "lead_interested.json",
    "untracked_reply_received.json",
    "email_opened.json",
    "email_bounced.json",
    "lead_unsubscribed.json",
    "unknown_tag_attached.json",
]
# Text that must never reach a log line, a metric or an alert (besides the tokens).
SENSITIVE = ("@prospect.example", "@newprospect.example", "Saw your team", "hostile body text")


def ingest_environment() -> dict[str, str]:
    digest = lambda token: hashlib.sha256(token.encode()).hexdigest()  # noqa: E731
    bindings = {
        digest(TOKEN): binding("emailbison", WORKSPACES),
        digest(PINNED_TOKEN): binding("emailbison", ["12"], [INSTANCE]),
        digest(INBOXXIA_TOKEN): binding("inboxxia", ["12"]),
    }
    return stack_with({"INGEST_TOKEN_BINDINGS": bindings_json(bindings), "MAX_BODY_BYTES": str(MAX_BODY_BYTES)})


@dataclass(frozen=True)
class Case:
    name: str
    event: dict[str, Any]
    expect: int | None = None  # the status the rules fix, when they do
    same_key_as: str | None = None  # the name of an earlier case whose event this one must alias
    other_key_than: str | None = None  # ... or must not alias


def raw(
    body: bytes,
    *,
    token: str | None = TOKEN,
    provider: str = "emailbison",
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Any bytes, delivered the way API Gateway delivers binary bodies: base64 with the flag set."""
    event = api_request("", provider=provider, token=token, content_type=content_type)
    event["body"] = base64.b64encode(body).decode()
    event["isBase64Encoded"] = True
    event["headers"].update(headers or {})
    return event


def doc(payload: Any, **kwargs: Any) -> dict[str, Any]:
    return raw(json.dumps(payload, ensure_ascii=False).encode(), **kwargs)


def sent(scheduled_id: Any = 884512, **event_fields: Any) -> dict[str, Any]:
    payload = load_fixture("email_sent.json")
    payload["data"]["scheduled_email"]["id"] = scheduled_id
    payload["event"].update(event_fields)
    return payload


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _encoding_cases() -> Iterator[Case]:
    body = json.dumps(sent(710001)).encode()
    yield Case("utf8-bom", raw(b"\xef\xbb\xbf" + json.dumps(sent(710002)).encode()), 200)
    yield Case("utf16-le-bom", raw(b"\xff\xfe" + json.dumps(sent(710003)).encode("utf-16-le")), 400)
    yield Case("utf16-be-bom", raw(b"\xfe\xff" + json.dumps(sent(710004)).encode("utf-16-be")), 400)
    yield Case("utf16-le-no-bom", raw(json.dumps(sent(710005)).encode("utf-16-le")), 400)
    yield Case("utf32", raw(json.dumps(sent(710006)).encode("utf-32")), 400)
    latin = json.dumps(sent(710007, workspace_name="Caf\u00e9"), ensure_ascii=False).encode("latin-1")
    yield Case("latin-1-in-a-string", raw(latin), 400)
    for label, bad in [
        ("overlong-slash", b"\xc0\xaf"),
        ("utf8-encoded-surrogate", b"\xed\xa0\x80"),
        ("truncated-sequence", b"\xe2\x82"),
        ("ff-byte", b"\xff"),
        ("continuation-alone", b"\x80"),
        ("five-byte-form", b"\xf8\x88\x80\x80\x80"),
        ("above-u10ffff", b"\xf4\x90\x80\x80"),
    ]:
        for where in ("workspace_name", "type"):
            payload = json.dumps(sent(710010)).replace('"Acme Outbound"', '"ACME"').encode()
            target = b'"ACME"' if where == "workspace_name" else b'"EMAIL_SENT"'
            yield Case(f"invalid-utf8-{label}-in-{where}", raw(payload.replace(target, b'"' + bad + b'"')), 400)
    for label, escape in [("high", "\\ud800"), ("low", "\\udfff"), ("reversed-pair", "\\udc00\\ud800")]:
        for where in ("type", "workspace_name", "scheduled_id"):
            text = json.dumps(sent(710011))
            if where == "type":
                text = text.replace('"EMAIL_SENT"', f'"{escape}"')
            elif where == "workspace_name":
                text = text.replace('"Acme Outbound"', f'"x{escape}"')
            else:
                text = text.replace("710011", f'"7{escape}"')
            yield Case(f"lone-surrogate-{label}-in-{where}", raw(text.encode()), 400)
    emoji = json.dumps(sent(710012)).replace('"Acme Outbound"', '"\\ud83d\\ude00 team"')
    yield Case("paired-surrogate-escape", raw(emoji.encode()), 200)
    lone_str = api_request("", token=TOKEN)
    lone_str["body"] = json.dumps(sent(710013)).replace('"Acme Outbound"', '"\ud800"')
    lone_str["body"] = lone_str["body"].replace("\\ud800", "\ud800")
    yield Case("lone-surrogate-in-the-lambda-event-string", lone_str, 400)
    yield Case("gzip-declared", raw(gzip.compress(body, mtime=0), headers={"content-encoding": "gzip"}), 415)
    yield Case("gzip-undeclared", raw(gzip.compress(body, mtime=0)), 400)
    yield Case("deflate-declared", raw(body, headers={"content-encoding": "deflate"}), 415)
    yield Case(
        "identity-declared", raw(json.dumps(sent(710014)).encode(), headers={"content-encoding": "identity"}), 200
    )
    yield Case("base64-flag-with-json", raw(json.dumps(sent(710015)).encode()), 200)
    not_b64 = api_request(sent(710016), token=TOKEN)
    not_b64["isBase64Encoded"] = True
    yield Case("base64-flag-on-plain-json", not_b64, 400)
    twice = raw(base64.b64encode(json.dumps(sent(710017)).encode()))
    yield Case("base64-twice", twice, 400)
    plain = api_request(sent(710018), token=TOKEN)
    yield Case("plain-text-body-flag-false", plain, 200)
    empty = api_request("", token=TOKEN)
    yield Case("empty-body", empty, 400)
    null_body = api_request("", token=TOKEN)
    null_body["body"] = None
    yield Case("null-body", null_body, 400)
    yield Case("nul-bytes", raw(b"\x00" * 64), 400)
    yield Case("whitespace-only", raw(b" \n\t "), 400)
    yield Case("trailing-garbage", raw(json.dumps(sent(710019)).encode() + b"x"), 400)
    yield Case("two-documents", raw(json.dumps(sent(710020)).encode() * 2), 400)
    yield Case("bom-only", raw(b"\xef\xbb\xbf"), 400)
    for name, content_type in [
        ("text-plain", "text/plain"),
        ("form", "application/x-www-form-urlencoded"),
        ("missing", None),
        ("json-latin1-charset", "application/json; charset=latin-1"),
        ("json-suffix", "application/vnd.emailbison+json"),
        ("json-upper", "APPLICATION/JSON"),
    ]:
        expect = 415 if name in {"text-plain", "form", "missing"} else 200
        yield Case(f"content-type-{name}", doc(sent(710030 + len(name)), content_type=content_type), expect)


def _shape_cases() -> Iterator[Case]:
    yield Case("array-nesting-5000", raw(b"[" * 5000 + b"]" * 5000), 400)  # the 10 KB body that crashed
    yield Case("object-nesting-5000", raw(b'{"a":' * 5000 + b"1" + b"}" * 5000), 400)
    for depth in (10, 100, 500, 900):
        payload = sent(720000 + depth)
        payload["data"]["extra"] = _nested(depth)
        yield Case(f"nested-{depth}-inside-data", doc(payload), 200)
    for depth in (1000, 1500, 20000):
        body = json.dumps(sent(720100 + depth)).encode()[:-1] + b',"extra":' + b"[" * depth + b"]" * depth + b"}"
        expect = 400 if len(body) <= MAX_BODY_BYTES else 413
        yield Case(f"nested-{depth}-inside-data", raw(body), expect)
    for label, body in [
        ("array", b"[1,2]"),
        ("string", b'"EMAIL_SENT"'),
        ("number", b"12"),
        ("null", b"null"),
        ("true", b"true"),
        ("empty-object", b"{}"),
    ]:
        yield Case(f"top-level-{label}", raw(body), 400 if label != "empty-object" else 422)
    for literal in ("NaN", "Infinity", "-Infinity"):
        yield Case(f"{literal}-in-an-id", raw(json.dumps(sent(1)).replace(": 1,", f": {literal},", 1).encode()), 400)
        yield Case(
            f"{literal}-in-an-extra-field",
            raw(json.dumps(sent(720200)).encode()[:-1] + f',"x":{literal}}}'.encode()),
            400,
        )
    for label, value, expect in [
        ("int-20-digits", 10**19, 200),
        ("int-21-digits", 10**20, 422),
        ("int-5000-digits", "9" * 5000, 400),
        ("float", 1.5, 422),
        ("float-huge", 1e308, 422),
        ("exponent-overflow", "1e400", 422),
        ("negative", -7, 200),
        ("zero", 0, 200),
        ("bool", True, 422),
    ]:
        if isinstance(value, str):  # a number spelled as JSON text, not a string
            body = json.dumps(sent("PLACEHOLDER")).replace('"PLACEHOLDER"', value).encode()
            yield Case(f"number-{label}", raw(body), expect)
        else:
            yield Case(f"number-{label}", doc(sent(value)), expect)
    base = json.dumps(sent(720300)).encode()
    pad = MAX_BODY_BYTES - len(base)
    for delta, expect in [(-1, 200), (0, 200), (1, 413)]:
        body = base[:-1] + b" " * (pad + delta) + b"}"
        yield Case(f"body-size-max{delta:+d}", raw(body.replace(b"720300", str(720310 + delta).encode())), expect)
    noise = random.Random(9)
    incompressible = base64.b64encode(noise.randbytes(180_000)).decode()  # ~240 KB of base64
    for field in ("email_subject", "email_body"):
        payload = sent(720400 + len(field))
        payload["data"]["scheduled_email"][field] = incompressible
        yield Case(f"incompressible-240kb-{field}", doc(payload), 200)
    names = sent(720500)
    names["data"]["lead"]["first_name"] = "hostile body text " * 10_000
    yield Case("lead-name-180kb", doc(names), 200)
    many = sent(720600)
    many["data"]["extra"] = {f"k{n}": n for n in range(15_000)}
    yield Case("fifteen-thousand-keys", doc(many), 200)
    yield Case("long-array", doc(sent(720700) | {"extra": list(range(30_000))}), 200)


def _duplicate_key_cases() -> Iterator[Case]:
    payload = json.dumps(sent(730001))
    yield Case(
        "duplicate-id-last-wins", raw(payload.replace('"id": 730001', '"id": 730001, "id": 730002').encode()), 200
    )
    yield Case("duplicate-id-as-second", doc(sent(730002)), 200, same_key_as="duplicate-id-last-wins")
    yield Case(
        "duplicate-type",
        raw(payload.replace('"type": "EMAIL_SENT"', '"type": "X", "type": "EMAIL_SENT"').encode()),
        200,
    )
    yield Case(
        "duplicate-workspace",
        raw(payload.replace('"workspace_id": 12', '"workspace_id": 12, "workspace_id": 13').encode()),
        403,
    )
    yield Case(
        "duplicate-event-member",
        raw(payload.replace('{"event": ', '{"event": {"type": "X"}, "event": ', 1).encode()),
        200,
    )
    yield Case("duplicate-data-null-last", raw(payload[:-1].encode() + b', "data": null}'), 422)


def _confusions() -> list[Any]:
    return [None, True, [], {}, "", "hostile body text", 1.5, -1, [1, "x"], {"id": 1}, "0" * 65, "<!channel>"]


def _type_confusion_cases() -> Iterator[Case]:
    values = _confusions()
    turn = 0
    for fixture in FIXTURES:
        original = load_fixture(fixture)
        for member in ("event", "data"):
            for name, value in list((original.get(member) or {}).items()):
                paths: list[tuple[str, ...]] = [(member, name)]
                if isinstance(value, dict):
                    paths += [(member, name, child) for child in value]
                for path in paths:
                    payload = copy.deepcopy(original)
                    target = payload
                    for step in path[:-1]:
                        target = target[step]
                    target[path[-1]] = values[turn % len(values)]
                    turn += 1
                    yield Case(f"confuse-{fixture}-{'.'.join(path)}-{turn}", doc(payload))
        for member in ("event", "data"):
            for value in values[:6]:
                payload = copy.deepcopy(original)
                payload[member] = value
                yield Case(f"confuse-{fixture}-{member}-whole-{value!r}"[:80], doc(payload))


def _id_cases() -> Iterator[Case]:
    for label, value in [
        ("colon", "1:2"),
        ("percent-encoded-colon", "1%3A2"),
        ("hash", "1#2"),
        ("slash", "1/2"),
        ("pipe", "1|2"),
        ("quote", "1'2"),
        ("shell", "$(reboot)"),
        ("backtick", "`id`"),
        ("semicolon", "1;2"),
        ("backslash", "1\\2"),
        ("mention", "<!channel>"),
        ("link", "<https://evil.example|x>"),
        ("at", "jane@prospect.example"),
        ("emoji", "😀"),
        ("fullwidth-digits", "\uff11\uff12"),
        ("ligature", "ﬁ"),
    ]:
        yield Case(f"id-{label}", doc(sent(value)), 200)
    for label, value in [
        ("space", "1 2"),
        ("tab", "1\t2"),
        ("newline", "1\n2"),
        ("nul", "1\u00002"),
        ("del", "1\u007f2"),
        ("zero-width-space", "1\u200b2"),
        ("rtl-override", "1\u202e2"),
        ("replacement-char", "1\ufffd2"),
        ("private-use", "1\ue0002"),
        ("nbsp", "1\u00a02"),
        ("line-separator", "1\u20282"),
        ("only-spaces", "   "),
    ]:
        yield Case(f"id-{label}", doc(sent(value)), 422)
    yield Case("id-nfc", doc(sent("caf\u00e9")), 200)
    yield Case("id-nfd", doc(sent("cafe\u0301")), 200, same_key_as="id-nfc")
    yield Case("id-colon-vs-encoded", doc(sent("1%3A2")), 200, other_key_than="id-colon")
    yield Case("id-padded", doc(sent(" 884513 ")), 200)
    yield Case("id-unpadded", doc(sent(884513)), 200, same_key_as="id-padded")
    for length, expect in [(63, 200), (64, 200), (65, 422), (2030, 422), (3000, 422)]:
        yield Case(f"id-length-{length}", doc(sent("7" * length)), expect)
        yield Case(f"id-length-{length}-multibyte", doc(sent("é" * length)), expect)
    yield Case("id-64-four-byte-chars", doc(sent("😀" * 64)), 200)
    for length, expect in [(64, 200), (65, 422), (3000, 422)]:
        yield Case(f"workspace-length-{length}", doc(sent(730100 + length, workspace_id="w" * length)), expect)
    yield Case("workspace-64-multibyte", doc(sent(730200, workspace_id="é" * 64)), 200)
    yield Case(
        "workspace-nfd-aliases-nfc",
        doc(sent(730200, workspace_id="e\u0301" * 64)),
        200,
        same_key_as="workspace-64-multibyte",
    )
    # Separators inside components cannot move a boundary: (workspace "a:b", id "c") is not
    # (workspace "a", id "b:c"), nor workspace "a%3Ab".
    yield Case("alias-workspace-with-colon", doc(sent("c", workspace_id="a:b")), 200)
    yield Case(
        "alias-id-with-colon", doc(sent("b:c", workspace_id="a")), 200, other_key_than="alias-workspace-with-colon"
    )
    yield Case(
        "alias-encoded-workspace",
        doc(sent("c", workspace_id="a%3Ab")),
        200,
        other_key_than="alias-workspace-with-colon",
    )
    yield Case("workspace-with-hash", doc(sent(730300, workspace_id="ws#1")), 200)
    yield Case("workspace-emoji", doc(sent(730301, workspace_id="😀")), 200)
    for label, workspace in [("space-inside", "1 2"), ("control", "1\u00012"), ("empty", ""), ("null", None)]:
        yield Case(f"workspace-{label}", doc(sent(730400, workspace_id=workspace)), 422)
    for length, expect in [(64, 200), (65, 422), (5000, 422)]:
        yield Case(f"event-type-length-{length}", doc(sent(730500, type="T" * length)), expect)
    for label, value, expect in [
        ("lower-case", "email_sent", 200),
        ("padded", "  EMAIL_SENT ", 200),
        ("with-colon", "EMAIL:SENT", 422),
        ("with-space", "EMAIL SENT", 422),
        ("unicode", "\u0415MAIL_SENT", 422),  # a Cyrillic E
        ("mention", "<!channel>", 422),
    ]:
        yield Case(f"event-type-{label}", doc(sent(730600, type=value)), expect)
    for label, url, expect in [
        ("no-scheme", "send.example-outreach.com", 200),
        ("upper-case", "HTTPS://SEND.Example-Outreach.com/", 200),
        ("default-port", "https://send.example-outreach.com:443/app", 200),
        ("other-port", "https://send.example-outreach.com:8443", 200),
        ("host-253", "https://" + ".".join(["a" * 63] * 3 + ["b" * 61]), 200),
        ("host-too-long", "https://" + ".".join(["a" * 63] * 4), 422),
        ("label-too-long", "https://" + "a" * 64 + ".example", 422),
        ("userinfo", "https://user:pw@send.example-outreach.com", 200),
        ("space", "https://send example.com", 422),
        ("unicode-host", "https://exämple.com", 422),
        ("colon-in-host", "https://a:b:c", 422),
        ("empty-host", "https://", 422),
        ("not-a-string", 12, 422),
        ("bad-port", "https://a.example:99999", 422),
        ("ipv6", "https://[::1]/", 422),
    ]:
        yield Case(f"instance-{label}", doc(sent(730700 + len(label), instance_url=url)), expect)


def _binding_cases() -> Iterator[Case]:
    yield Case("wrong-workspace", doc(sent(740001, workspace_id=13)), 403)
    yield Case("workspace-as-text", doc(sent(740002, workspace_id="12")), 200)
    yield Case("workspace-as-number", doc(sent(740002, workspace_id=12)), 200, same_key_as="workspace-as-text")
    yield Case("workspace-leading-zero", doc(sent(740003, workspace_id="012")), 403)
    yield Case("workspace-float", doc(sent(740004, workspace_id=12.0)), 422)
    yield Case("workspace-fullwidth", doc(sent(740005, workspace_id="\uff11\uff12")), 403)
    yield Case("workspace-bound-elsewhere", doc(sent(740006, workspace_id="13")), 403)
    yield Case("pinned-right-instance", doc(sent(740007), token=PINNED_TOKEN), 200)
    yield Case(
        "pinned-other-instance", doc(sent(740008, instance_url="https://other.example"), token=PINNED_TOKEN), 403
    )
    yield Case("pinned-no-instance", doc(sent(740009, instance_url=None), token=PINNED_TOKEN), 403)
    yield Case(
        "pinned-lookalike-instance",
        doc(sent(740010, instance_url=f"https://{INSTANCE}.evil.example"), token=PINNED_TOKEN),
        403,
    )
    yield Case("pinned-other-workspace", doc(sent(740011, workspace_id="a"), token=PINNED_TOKEN), 403)
    yield Case("other-provider-path", doc(sent(740012), provider="inboxxia"), 403)
    yield Case("inboxxia-token-on-inboxxia", doc(sent(740013), token=INBOXXIA_TOKEN, provider="inboxxia"), 200)
    yield Case("inboxxia-token-on-emailbison", doc(sent(740014), token=INBOXXIA_TOKEN), 403)
    yield Case("same-id-other-provider", doc(sent(740015), token=INBOXXIA_TOKEN, provider="inboxxia"), 200)
    yield Case("same-id-first-provider", doc(sent(740015)), 200, other_key_than="same-id-other-provider")
    yield Case("same-id-other-instance", doc(sent(740016, instance_url="https://b.example")), 200)
    yield Case("same-id-first-instance", doc(sent(740016)), 200, other_key_than="same-id-other-instance")
    yield Case("same-id-other-workspace", doc(sent(740017, workspace_id="a")), 200)
    yield Case("same-id-first-workspace", doc(sent(740017)), 200, other_key_than="same-id-other-workspace")
    yield Case("unknown-provider", doc(sent(740018), provider="mailchimp"), 404)
    yield Case("provider-path-traversal", doc(sent(740019), provider="../emailbison"), 404)
    unknown = load_fixture("unknown_tag_attached.json")
    unknown["event"]["workspace_id"] = 13
    yield Case("unknown-type-wrong-workspace", doc(unknown), 403)
    unknown["event"]["workspace_id"] = None
    yield Case("unknown-type-no-workspace", doc(unknown), 422)


def _token_cases() -> Iterator[Case]:
    body = json.dumps(sent(750001)).encode()

    def with_tokens(header: str | None, query: str | None) -> dict[str, Any]:
        event = raw(body, token=None, headers={"X-Spillway-Token": header} if header is not None else {})
        event["headers"] = {k.lower() if k == "content-type" else k: v for k, v in event["headers"].items()}
        if query is not None:
            event["queryStringParameters"] = {"token": query}
        return event

    yield Case("token-header-only", with_tokens(TOKEN, None), 200)
    yield Case("token-query-only", with_tokens(None, TOKEN), 200)
    yield Case("token-both-same", with_tokens(TOKEN, TOKEN), 200)
    yield Case("token-header-right-query-wrong", with_tokens(TOKEN, "wrong"), 200)
    yield Case("token-header-wrong-query-right", with_tokens("wrong", TOKEN), 401)
    yield Case("token-header-empty-query-right", with_tokens("", TOKEN), 200)
    yield Case("token-none", with_tokens(None, None), 401)
    yield Case("token-empty-both", with_tokens("", ""), 401)
    yield Case("token-trailing-space", with_tokens(None, TOKEN + " "), 401)
    yield Case("token-upper-case", with_tokens(None, TOKEN.upper()), 401)
    yield Case("token-repeated-query", with_tokens(None, f"{TOKEN},{TOKEN}"), 401)
    yield Case("token-repeated-header", with_tokens(f"{TOKEN},{TOKEN}", None), 401)
    yield Case("token-lone-surrogate", with_tokens(None, "\ud800"), 401)
    yield Case("token-100kb", with_tokens("x" * 100_000, None), 401)
    yield Case("token-nul", with_tokens(None, TOKEN + "\x00"), 401)
    upper = with_tokens(None, None)
    upper["headers"]["X-SPILLWAY-TOKEN"] = TOKEN
    yield Case("token-header-upper-name", upper, 200)
    yield Case(
        "token-pinned-on-other-provider",
        with_tokens(PINNED_TOKEN, None) | {"pathParameters": {"provider": "inboxxia"}},
        403,
    )
    unauthenticated_garbage = raw(b"[" * 5000, token="wrong", content_type="text/plain")
    yield Case("token-wrong-before-everything", unauthenticated_garbage, 401)


def corpus() -> list[Case]:
    cases = [
        *_encoding_cases(),
        *_shape_cases(),
        *_duplicate_key_cases(),
        *_id_cases(),
        *_binding_cases(),
        *_token_cases(),
        *_type_confusion_cases(),
    ]
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases
