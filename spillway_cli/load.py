"""`spillway load`: a burst of real-shaped webhooks, then a check that every effect happened once.

The plan is generated up front (deterministic for a seed): leads, each with its own sends, opens,
replies, interested-markings, untracked replies, bounces and unsubscribes; at least 20 % of the
requests are exact re-sends of an earlier request (a provider retrying), and a few are malformed or
unauthenticated. After the burst the generator waits for the backlog to drain and compares the
domain state with the state it computes itself from what it sent.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import random
import socket
import statistics
import sys
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from spillway_core.keys import NO_INSTANCE, Tenant, lead_pk

TYPE_WEIGHTS = {
    "EMAIL_SENT": 55,
    "EMAIL_OPENED": 15,
    "MANUAL_EMAIL_SENT": 6,
    "LEAD_REPLIED": 8,
    "LEAD_INTERESTED": 4,
    "UNTRACKED_REPLY_RECEIVED": 4,
    "EMAIL_BOUNCED": 4,
    "LEAD_UNSUBSCRIBED": 4,
}
WORKSPACE = 4242


@dataclass(frozen=True)
class PlannedRequest:
    kind: str  # valid | duplicate | malformed | unauthenticated
    body: bytes
    lead: int | None = None
    event_type: str | None = None
    fact: tuple[str, str] | None = None  # what a valid event contributes to its lead's model


@dataclass
class Result:
    index: int  # into the plan
    kind: str
    status: int  # 0: no answer (connection error, timeout)
    started_s: float
    latency_ms: float
    answer: str = ""


def _lead(n: int, workspace: int) -> dict[str, Any]:
    # Provider lead ids are unique per provider instance, so they are unique across workspaces here too.
    email = f"load.lead{n}.ws{workspace}@prospect.example"
    return {"id": workspace * 1_000_000 + n, "email": email, "first_name": f"Lead{n}", "last_name": "Load"}


def _envelope(event_type: str, data: dict[str, Any], workspace: int) -> dict[str, Any]:
    info = {"type": event_type, "name": event_type.title(), "workspace_id": workspace, "workspace_name": "Load"}
    return {"event": info, "data": data}


def _event(
    event_type: str, lead: int, ids: Counter[str], minute: int, workspace: int
) -> tuple[dict[str, Any], tuple[str, str]]:
    """A payload and the fact it contributes to its lead's model."""
    at = f"2026-11-28T{10 + minute // 60:02d}:{minute % 60:02d}:00Z"
    ids["all"] += 1  # one id space for all types: reply ids of replies and untracked replies never collide
    n = workspace * 100_000_000 + ids["all"]  # ids unique across workspaces, so runs never collide
    campaign = {"id": 77, "name": "Load campaign"}
    person = _lead(lead, workspace)
    big_body = "<p>" + "Hello there, this is a realistic email body. " * 40 + "</p>"
    match event_type:
        case "EMAIL_SENT":
            data = {
                "scheduled_email": {"id": n, "email_subject": "Hi", "email_body": big_body, "sent_at": at},
                "lead": person,
                "campaign": campaign,
                "sender_email": {"id": 5, "email": "sdr@outbound.example"},
            }
            return _envelope(event_type, data, workspace), ("outbound", f"SE#{n}")
        case "MANUAL_EMAIL_SENT":
            data = {
                "reply": {"id": n, "email_subject": "Re: Hi", "date_received": at, "html_body": big_body},
                "lead": person,
            }
            return _envelope(event_type, data, workspace), ("outbound", f"RE#{n}")
        case "EMAIL_OPENED" | "EMAIL_BOUNCED":
            opened = event_type == "EMAIL_OPENED"
            data = {
                "campaign_event": {"id": n, "type": "opened" if opened else "bounced", "created_at": at},
                "scheduled_email": {"id": n},
                "lead": person,
                "campaign": campaign,
            }
            return _envelope(event_type, data, workspace), ("open", str(n)) if opened else ("bounced", "")
        case "LEAD_REPLIED" | "LEAD_INTERESTED":
            reply = {
                "id": n,
                "email_subject": "Re: Hi",
                "from_email_address": person["email"],
                "date_received": at,
                "html_body": big_body,
            }
            flag = "replied" if event_type == "LEAD_REPLIED" else "interested"
            return _envelope(event_type, {"reply": reply, "lead": person, "campaign": campaign}, workspace), (
                flag,
                f"RE#{n}",
            )
        case "UNTRACKED_REPLY_RECEIVED":
            reply = {"id": n, "email_subject": "Question", "from_email_address": person["email"], "date_received": at}
            return _envelope(event_type, {"reply": reply, "lead": None}, workspace), ("untracked", f"RE#{n}")
        case _:
            data = {"campaign_event": {"id": n, "type": "unsubscribed", "created_at": at}, "lead": person}
            return _envelope(event_type, data, workspace), ("unsubscribed", "")


def plan_burst(
    total: int, duplicate_ratio: float = 0.2, invalid: int = 10, seed: int = 2026, workspace: int = WORKSPACE
) -> list[PlannedRequest]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible load plan, not cryptography
    leads = max(1, total // 8)
    ids: Counter[str] = Counter()
    types, weights = zip(*TYPE_WEIGHTS.items(), strict=True)
    planned: list[PlannedRequest] = []
    unsubscribed: set[int] = set()
    duplicates = int(total * duplicate_ratio)
    for i in range(total - duplicates - invalid):
        lead = rng.randrange(leads)
        event_type = rng.choices(types, weights)[0]
        if event_type == "LEAD_UNSUBSCRIBED":
            # A lead unsubscribes once: a second unsubscribe is, by its dedupe key, the same event.
            if lead in unsubscribed:
                event_type = "EMAIL_SENT"
            unsubscribed.add(lead)
        payload, fact = _event(event_type, lead, ids, i % 600, workspace)
        planned.append(PlannedRequest("valid", json.dumps(payload).encode(), lead, event_type, fact))
    originals = list(planned)
    for _ in range(duplicates):
        original = rng.choice(originals)
        planned.append(PlannedRequest("duplicate", original.body, original.lead, original.event_type, original.fact))
    for i in range(invalid):
        if i % 2:
            planned.append(PlannedRequest("malformed", b'{"event": {"type": "EMAIL_SENT"}, "data": {'))
        else:
            planned.append(PlannedRequest("unauthenticated", originals[i % len(originals)].body))
    # Shuffle, but keep every duplicate after its original (a provider retries after the first try).
    rng.shuffle(planned)
    seen: set[bytes] = set()
    ordered: list[PlannedRequest] = []
    for request in planned:
        if request.kind in {"valid", "duplicate"}:
            kind = "duplicate" if request.body in seen else "valid"
            seen.add(request.body)
            ordered.append(PlannedRequest(kind, request.body, request.lead, request.event_type, request.fact))
        else:
            ordered.append(request)
    return ordered


def plan_typed(event_types: list[str], leads: int, workspace: int) -> list[PlannedRequest]:
    """One valid request per given type, in that order, spread over ``leads`` leads."""
    ids: Counter[str] = Counter()
    planned = []
    for i, event_type in enumerate(event_types):
        payload, fact = _event(event_type, i % leads, ids, i % 600, workspace)
        planned.append(PlannedRequest("valid", json.dumps(payload).encode(), i % leads, event_type, fact))
    return planned


def expected_leads(planned: list[PlannedRequest]) -> dict[int, dict[str, Any]]:
    """Each lead's counts if every valid event took effect exactly once: one per unique message or open.

    A minimal check of its own, on the counts a duplicate or a redelivery would double; the lead's
    flags and status are the domain's rules, which the property tests hold against their model
    (tests/integration/test_domain_properties.py), not repeated here."""
    facts: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for request in planned:
        if request.kind == "valid" and request.lead is not None and request.fact:
            facts[request.lead].add(request.fact)
    return {
        lead: {
            "outboundCount": sum(1 for kind, _ in lead_facts if kind == "outbound"),
            "inboundCount": len({ref for kind, ref in lead_facts if kind in {"replied", "interested", "untracked"}}),
            "openCount": sum(1 for kind, _ in lead_facts if kind == "open"),
        }
        for lead, lead_facts in facts.items()
    }


def check_target_is_local(url: str, allow_remote: bool) -> None:
    host = urllib.parse.urlsplit(url).hostname or ""
    addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    if not allow_remote and not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise SystemExit(f"refusing to load {host} ({', '.join(sorted(addresses))}): not loopback; pass --allow-remote")


@dataclass
class BurstReport:
    results: list[Result] = field(default_factory=list)
    sent_s: float = 0.0

    def by_kind(self) -> dict[str, Counter[int]]:
        table: dict[str, Counter[int]] = defaultdict(Counter)
        for result in self.results:
            table[result.kind][result.status] += 1
        return dict(table)

    def accepted_once_each(self, planned: list[PlannedRequest]) -> bool:
        """Every distinct valid body was answered "accepted" exactly once, all its re-sends "duplicate"
        (which of two concurrent copies wins is up to the store, not the order they were planned in)."""
        accepted: Counter[bytes] = Counter()
        for result in self.results:
            if planned[result.index].kind in {"valid", "duplicate"}:
                accepted[planned[result.index].body] += '"accepted"' in result.answer
        return set(accepted.values()) == {1}

    def valid_non_2xx(self) -> int:
        return sum(1 for r in self.results if r.kind in {"valid", "duplicate"} and not 200 <= r.status < 300)

    def throughput(self) -> float:
        return len(self.results) / self.sent_s if self.sent_s else 0.0

    def percentiles(self, results: list[Result] | None = None) -> dict[str, float]:
        latencies = sorted(r.latency_ms for r in (results if results is not None else self.results))
        if len(latencies) < 2:
            return {"p50": latencies[0] if latencies else 0.0, "p95": 0.0, "p99": 0.0}
        q = statistics.quantiles(latencies, n=100, method="inclusive")
        return {"p50": q[49], "p95": q[94], "p99": q[98]}

    def per_second(self) -> list[dict[str, float]]:
        buckets: dict[int, list[Result]] = defaultdict(list)
        for result in self.results:
            buckets[int(result.started_s)].append(result)
        return [{"second": s, "requests": len(rs), **self.percentiles(rs)} for s, rs in sorted(buckets.items())]


def send_burst(
    url: str,
    token: str,
    planned: list[PlannedRequest],
    concurrency: int,
    rate: float | None = None,
    timeout_s: float = 30.0,
    progress: bool = True,
) -> BurstReport:
    parts = urllib.parse.urlsplit(url)
    path = parts.path + "?" + urllib.parse.urlencode({"token": token})
    bad_path = parts.path + "?token=not-the-token"
    local = threading.local()
    report = BurstReport()
    lock = threading.Lock()
    start = time.perf_counter()
    interval = 1.0 / rate if rate else 0.0

    def connection() -> http.client.HTTPConnection:
        if not hasattr(local, "conn"):
            cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            local.conn = cls(parts.hostname or "127.0.0.1", parts.port, timeout=timeout_s)
        return local.conn

    def send(index: int) -> None:
        request = planned[index]
        if interval:
            delay = start + index * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # request n leaves at start + n x interval: the offered rate
        began = time.perf_counter()
        status, answer = 0, ""
        try:
            conn = connection()
            conn.request(
                "POST",
                bad_path if request.kind == "unauthenticated" else path,
                body=request.body,
                headers={"content-type": "application/json"},
            )
            response = conn.getresponse()
            status, answer = response.status, response.read().decode(errors="replace")[:200]
        except (OSError, http.client.HTTPException) as exc:
            answer = type(exc).__name__
            if hasattr(local, "conn"):
                local.conn.close()
                del local.conn
        result = Result(index, request.kind, status, began - start, (time.perf_counter() - began) * 1000, answer)
        with lock:
            report.results.append(result)
            done = len(report.results)
        if progress and (done % 100 == 0 or done == len(planned)):
            bar = "#" * int(30 * done / len(planned))
            print(f"\r  sending [{bar:<30}] {done}/{len(planned)}", end="", file=sys.stderr, flush=True)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(send, range(len(planned))))
    report.sent_s = time.perf_counter() - start
    if progress:
        print(file=sys.stderr)
    return report


def domain_leads(dynamodb: Any, table: str, leads: list[int], workspace: int) -> dict[int, dict[str, Any]]:
    found = {}
    for lead in leads:
        key = {
            "pk": {"S": lead_pk(Tenant("emailbison", NO_INSTANCE, str(workspace)), _lead(lead, workspace)["email"])},
            "sk": {"S": "LEAD"},
        }
        item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item") or {}
        found[lead] = {
            "outboundCount": int(item.get("outboundCount", {"N": "0"})["N"]),
            "inboundCount": int(item.get("inboundCount", {"N": "0"})["N"]),
            "openCount": int(item.get("openCount", {"N": "0"})["N"]),
        }
    return found


def verify_exactly_once(
    dynamodb: Any, table: str, planned: list[PlannedRequest], workspace: int = WORKSPACE
) -> list[str]:
    """Differences between the domain and the model; empty when every effect happened once."""
    expected = expected_leads(planned)
    actual = domain_leads(dynamodb, table, sorted(expected), workspace)
    return [
        f"lead {lead}: expected {expected[lead]}, found {actual[lead]}"
        for lead in sorted(expected)
        if expected[lead] != actual[lead]
    ]
