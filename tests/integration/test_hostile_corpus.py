"""Hostile requests through the real ingest handler, in-process against moto.

Every case: no 5xx; a 4xx stores nothing; a 2xx event is stored, and an accepted one reaches
SUCCEEDED when the in-process processor runs it. Across all of them, no token, lead address or body
text reaches a log line, a metric or an alert. A hypothesis fuzz of the body runs on top.
"""

from __future__ import annotations

import base64
import copy
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

import ingest.handler
from processor.logic import process_event
from tests.conftest import load_fixture
from tests.support.capture import function_output
from tests.support.hostile import FIXTURES, SECRETS, SENSITIVE, TOKEN, corpus, doc, ingest_environment
from tests.support.lambda_events import FakeContext
from tests.support.pipeline import CapturedAlerts, processor_deps
from tests.support.tables import EVENTS_TABLE_NAME, create_tables, event_item

MIN_CORPUS = 300


@dataclass
class World:
    dynamodb: Any
    alerts: CapturedAlerts
    clock: int = 1_795_000_000_000
    output: list[str] = field(default_factory=list)
    writes: int = 0  # PutItem calls that succeeded: the ingest's only way to store anything

    def count_write(self, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        if "Error" not in parsed:
            self.writes += 1

    def tick(self) -> int:
        self.clock += 7
        return self.clock

    def stored(self) -> int:
        return self.writes

    def status_of(self, key: str) -> str | None:
        item = event_item(self.dynamodb, key) or {}
        return item.get("status", {}).get("S")

    def post(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with function_output(ingest.handler.logger) as buffer:
            response = ingest.handler.lambda_handler(copy.deepcopy(event), FakeContext())
        self.output.append(buffer.getvalue())
        return response["statusCode"], json.loads(response["body"])

    def process(self, key: str) -> str:
        deps = processor_deps(self.dynamodb, self.alerts, self.tick, seed=1)
        return process_event(key, "corpus", deps)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for name, value in {"EVENTS_TABLE": EVENTS_TABLE_NAME, **ingest_environment()}.items():
            patch.setenv(name, value)
        dynamodb = boto3.client("dynamodb")
        create_tables(dynamodb)
        world = World(dynamodb, CapturedAlerts())
        # Clients copy the session's hooks when created: the ingest's client (built at its first
        # call, after this) reports every PutItem.
        session_events = boto3._get_default_session().events
        session_events.register("after-call.dynamodb.PutItem", world.count_write)
        ingest.handler._dependencies.cache_clear()
        yield world
        session_events.unregister("after-call.dynamodb.PutItem", world.count_write)
        ingest.handler._dependencies.cache_clear()


def check(world: World, event: dict[str, Any]) -> tuple[int, dict[str, Any], list[str]]:
    """Posts one request and checks the invariants; returns the answer and what went wrong."""
    problems: list[str] = []
    before = world.stored()
    status, body = world.post(event)
    after = world.stored()
    if status >= 500:
        problems.append(f"answered {status}: {body}")
    elif status >= 400:
        if after != before:
            problems.append(f"answered {status} but stored {after - before} item(s)")
        if not body.get("error") or not body.get("message"):
            problems.append(f"a {status} without a JSON error: {body}")
    else:
        key = str(body.get("id"))
        expected_growth = 1 if body.get("status") in {"accepted", "ignored"} else 0
        if after - before != expected_growth:
            problems.append(f"{body.get('status')} but stored {after - before} item(s)")
        if body.get("status") == "accepted":
            outcome = world.process(key)
            if world.status_of(key) != "SUCCEEDED":
                problems.append(f"accepted but processing ended {outcome} / {world.status_of(key)}")
        elif body.get("status") == "ignored" and world.status_of(key) != "IGNORED":
            problems.append("ignored but not stored as IGNORED")
        elif body.get("status") == "duplicate" and world.status_of(key) not in {"SUCCEEDED", "IGNORED"}:
            problems.append(f"duplicate of an event that is {world.status_of(key)}")
    return status, body, problems


def assert_nothing_sensitive_leaked(world: World) -> None:
    written = "\n".join(world.output) + "\n" + json.dumps([alert.document() for alert in world.alerts.sent])
    for secret in (*SECRETS, *SENSITIVE):
        assert secret not in written, f"{secret[:12]}... reached a log line, metric or alert"
    assert "jane.doe" not in written.lower()


def test_the_hostile_corpus(world: World) -> None:
    cases = corpus()
    assert len(cases) >= MIN_CORPUS
    failures: list[str] = []
    answers: Counter[str] = Counter()
    keys: dict[str, str] = {}
    for case in cases:
        status, body, problems = check(world, case.event)
        answers[f"{status} {body.get('status') or body.get('error')}"] += 1
        if case.expect is not None and status != case.expect:
            problems.append(f"expected {case.expect}, answered {status}: {body}")
        if status < 300:
            keys[case.name] = body["id"]
        if case.same_key_as and keys.get(case.name) != keys.get(case.same_key_as):
            problems.append(f"should alias {case.same_key_as}: {keys.get(case.name)} vs {keys.get(case.same_key_as)}")
        if case.other_key_than and (case.name not in keys or keys[case.name] == keys.get(case.other_key_than)):
            problems.append(f"should not alias {case.other_key_than}")
        failures += [f"{case.name}: {problem}" for problem in problems]

    by_status = Counter(answer.split()[0] for answer in answers.elements())
    print(f"\nhostile corpus: {len(cases)} cases; by status {dict(sorted(by_status.items()))}")
    print("by answer:", dict(sorted(answers.items())))
    assert failures == []
    assert world.alerts.sent == []  # nothing accepted went on to fail
    assert_nothing_sensitive_leaked(world)


# --- fuzz ---------------------------------------------------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from(":#%<>@&'`\\/\u0301\ufffd"),
    max_size=80,
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=20,
)
_PATHS = [
    (member, *rest)
    for fixture in FIXTURES
    for member, value in load_fixture(fixture).items()
    for rest in [(), *((k,) for k in value)]
    if isinstance(value, dict)
]


@st.composite
def _bodies(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        # A real payload with some fields replaced: most reach the deeper rules.
        payload = load_fixture(draw(st.sampled_from(FIXTURES)))
        for path in draw(st.lists(st.sampled_from(_PATHS), max_size=4)):
            target = payload
            for step in path[:-1]:
                target = target.setdefault(step, {}) if isinstance(target.get(step), dict) else {}
            target[path[-1]] = draw(_JSON)
        return json.dumps(payload, ensure_ascii=draw(st.booleans())).encode()
    if draw(st.booleans()):
        return json.dumps(draw(_JSON)).encode()
    return draw(st.binary(max_size=200))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=_bodies())
def test_fuzzed_bodies_keep_the_invariants(world: World, body: bytes) -> None:
    event = doc({})
    event["body"] = base64.b64encode(body).decode()
    _, _, problems = check(world, event)

    assert problems == []
    assert_nothing_sensitive_leaked(world)


def test_the_token_is_checked_before_anything_else(world: World) -> None:
    event = doc(load_fixture("email_sent.json"), token=TOKEN + "x")
    status, body, problems = check(world, event)

    assert (status, body["error"], problems) == (401, "unauthorized", [])
