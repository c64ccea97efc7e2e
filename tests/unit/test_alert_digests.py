"""Which failed events share a digest (and so a summary and its `spillway events` command)."""

from __future__ import annotations

import json
import shlex

from notifier.digests import DIGEST_DUE, flush_message, group_of
from notifier.logic import parse_alert, see_all_command
from tests.unit.test_notifier import FAILED


def alert(key: str, event_type: str = "EMAIL_SENT") -> dict[str, object]:
    return FAILED | {"dedupe_key": key, "event_type": event_type}


def test_a_group_is_provider_instance_workspace_and_type_whatever_the_occurrence() -> None:
    one = group_of(alert("emailbison:mail.example.com:42:EMAIL_SENT:880001"))
    same = group_of(alert("emailbison:mail.example.com:42:EMAIL_SENT:reply-9"))

    assert one == same and one.id == same.id
    assert (one.provider, one.instance, one.workspace, one.event_type) == (
        "emailbison",
        "mail.example.com",
        "42",
        "EMAIL_SENT",
    )
    others = [
        "inboxxia:mail.example.com:42:EMAIL_SENT:880001",
        "emailbison:other.example.com:42:EMAIL_SENT:880001",
        "emailbison:mail.example.com:43:EMAIL_SENT:880001",
        "emailbison:mail.example.com:42:LEAD_REPLIED:880001",
        "emailbison::42:EMAIL_SENT:880001",  # no instance
    ]
    assert len({one.id, *(group_of(alert(k)).id for k in others)}) == 1 + len(others)


def test_components_are_decoded_and_keys_that_are_not_keys_fall_back_to_the_fields() -> None:
    assert group_of(alert("emailbison:mail.example.com:a%3Ab:EMAIL_SENT:1")).workspace == "a:b"
    fallback = group_of(alert("emailbison:x:y:Z:1 ; rm -rf /", event_type="EMAIL_SENT"))
    assert (fallback.provider, fallback.workspace, fallback.event_type) == ("emailbison", "", "EMAIL_SENT")


def test_a_flush_message_is_read_back_and_a_forged_one_is_not_a_flush() -> None:
    digest_id = group_of(alert("emailbison:mail.example.com:42:EMAIL_SENT:1")).id + ":1767225600000"

    assert parse_alert(flush_message(digest_id)).digest_id == digest_id
    assert parse_alert(flush_message(digest_id)).kind == DIGEST_DUE
    forged = json.dumps({"kind": DIGEST_DUE, "digest": "GROUP#x:1 OR 1=1"})
    assert parse_alert(forged).kind == "unknown"


def test_see_all_names_the_workspace_when_the_alerts_share_one() -> None:
    def command(*keys: str) -> list[str]:
        alerts = [parse_alert(json.dumps(alert(k)), queued_at_ms=1_767_225_600_000) for k in keys]
        return shlex.split(see_all_command(alerts))

    shared = command("emailbison:mail.example.com:a%20b:EMAIL_SENT:1", "emailbison:mail.example.com:a%20b:EMAIL_SENT:2")
    assert shared[shared.index("--workspace") + 1] == "a b"  # as the events index holds it
    assert "--workspace" not in command("emailbison:h:42:EMAIL_SENT:1", "emailbison:h:43:EMAIL_SENT:2")
    assert "--workspace" not in command("emailbison:LEAD_REPLIED:5530021")  # no workspace in the key
