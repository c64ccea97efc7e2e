"""Real-shaped events about one lead, for property tests and the end-to-end type checks."""

from __future__ import annotations

from typing import Any

WORKSPACE = 12
LEAD = {"id": 40211, "email": "Jane.Doe@Prospect.example", "first_name": "Jane", "last_name": "Doe"}
LEAD_EMAIL = "jane.doe@prospect.example"
CAMPAIGN = {"id": 311, "name": "Q4 SDR hiring"}
SENDER = {"id": 77, "email": "alex@outbound.example", "name": "Alex Seller"}


def _envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": {"type": event_type, "name": event_type.title(), "workspace_id": WORKSPACE, "workspace_name": "Acme"},
        "data": data,
    }


def _at(minute: int) -> str:
    return f"2026-11-28T10:{minute:02d}:00.000000Z"


def _reply(reply_id: int, minute: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": reply_id,
        "email_subject": "Re: Quick question",
        "from_email_address": LEAD["email"],
        "date_received": _at(minute),
        "html_body": "<p>Sounds interesting — tell me more.</p>",
        **extra,
    }


# name -> payload. Times are spread so that "last" and "first" times are meaningful.
EVENTS: dict[str, dict[str, Any]] = {
    "sent_a": _envelope(
        "EMAIL_SENT",
        {
            "scheduled_email": {"id": 1001, "email_subject": "Quick question", "sent_at": _at(1)},
            "lead": LEAD,
            "campaign": CAMPAIGN,
            "sender_email": SENDER,
        },
    ),
    "sent_b": _envelope(
        "EMAIL_SENT",
        {
            "scheduled_email": {"id": "1002", "email_subject": "Following up", "sent_at": _at(3)},
            "lead": LEAD,
            "campaign": CAMPAIGN,
            "sender_email": SENDER,
        },
    ),
    "manual": _envelope(
        "MANUAL_EMAIL_SENT",
        {
            "reply": {"id": 9001, "email_subject": "Re: Quick question", "date_received": _at(9)},
            "lead": LEAD,
            "sender_email": SENDER,
        },
    ),
    "open_a1": _envelope(
        "EMAIL_OPENED",
        {
            "campaign_event": {"id": 7001, "type": "opened", "created_at": _at(2)},
            "scheduled_email": {"id": 1001},
            "lead": LEAD,
            "campaign": CAMPAIGN,
        },
    ),
    "open_a2": _envelope(
        "EMAIL_OPENED",
        {
            "campaign_event": {"id": 7002, "type": "opened", "created_at": _at(5)},
            "scheduled_email": {"id": 1001},
            "lead": LEAD,
            "campaign": CAMPAIGN,
        },
    ),
    "replied": _envelope(
        "LEAD_REPLIED",
        {"reply": _reply(5001, 6), "lead": LEAD, "campaign": CAMPAIGN, "scheduled_email": {"id": 1001}},
    ),
    "interested": _envelope(
        "LEAD_INTERESTED",
        {
            "reply": _reply(5001, 6, interested=True),
            "lead": LEAD,
            "campaign": CAMPAIGN,
            "campaign_event": {"id": 8001, "type": "interested", "created_at": _at(7)},
        },
    ),
    "untracked": _envelope(
        "UNTRACKED_REPLY_RECEIVED",
        {"reply": _reply(5002, 8, email_subject="Another question"), "lead": None, "sender_email": SENDER},
    ),
    "bounced": _envelope(
        "EMAIL_BOUNCED",
        {
            "campaign_event": {"id": 8101, "type": "bounced", "created_at": _at(4)},
            "scheduled_email": {"id": 1002},
            "reply": {
                "id": 5003,
                "email_subject": "Undeliverable",
                "from_email_address": "mailer-daemon@prospect.example",
                "date_received": _at(4),
            },
            "lead": LEAD,
            "campaign": CAMPAIGN,
        },
    ),
    "unsubscribed": _envelope(
        "LEAD_UNSUBSCRIBED",
        {
            "campaign_event": {"id": 8201, "type": "unsubscribed", "created_at": _at(10)},
            "lead": LEAD,
            "campaign": CAMPAIGN,
        },
    ),
}

OUTBOUND_MESSAGES = {"sent_a": "SE#1001", "sent_b": "SE#1002", "manual": "RE#9001"}
INBOUND_LEAD_MESSAGES = {"replied": "RE#5001", "interested": "RE#5001", "untracked": "RE#5002"}
