"""Real-sized EmailBison webhooks for every supported type, generated deterministically.

The envelope is the provider's (``{"event": {...}, "data": {campaign, campaign_event, lead, reply,
scheduled_email, sender_email}}``, as in ``spillway_core.payloads``). Sizes follow what the provider
sends: an EMAIL_SENT carries the email's HTML body (~3 KB); a reply carries the full MIME source in
``raw_body``, its ``headers``, ``html_body`` and ``text_body`` (~40 KB in all); a bounce carries the
delivery status notice (~10 KB). Same arguments, same bytes.
"""

from __future__ import annotations

import json
import random
from typing import Any

WORKSPACE = 12
INSTANCE = "https://send.example-outreach.com"
CAMPAIGN: dict[str, Any] = {"id": 311, "name": "Q4 SDR hiring"}
SENDER: dict[str, Any] = {
    "id": 77,
    "email": "alex@outbound.example",
    "name": "Alex Seller",
    "daily_limit": 40,
    "type": "Google Workspace",
    "status": "Connected",
}
TYPES = (
    "EMAIL_SENT",
    "MANUAL_EMAIL_SENT",
    "EMAIL_OPENED",
    "LEAD_REPLIED",
    "UNTRACKED_REPLY_RECEIVED",
    "LEAD_INTERESTED",
    "EMAIL_BOUNCED",
    "LEAD_UNSUBSCRIBED",
)
REPLY_TARGET_BYTES = 40_000
BOUNCE_TARGET_BYTES = 10_000
# fmt: off
_WORDS = (
    "pipeline", "quarter", "team", "hiring", "outbound", "revenue", "meeting", "calendar", "pricing",
    "review", "follow", "next", "week", "thanks", "budget", "demo", "onboarding", "contract", "integration",
    "workflow", "replies", "sequence", "inbox", "schedule",
)
# fmt: on


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "."


def _paragraphs(rng: random.Random, count: int, words: int = 40) -> list[str]:
    return [_text(rng, words) for _ in range(count)]


def _at(minute: int) -> str:
    return f"2026-11-28T{9 + minute // 60:02d}:{minute % 60:02d}:07.000000Z"


def lead(n: int) -> dict[str, Any]:
    return {
        "id": 40_000 + n,
        "email": f"Lead.{n}@Prospect{n % 7}.example",
        "first_name": f"Lee{n}",
        "last_name": "Doe",
        "status": "verified",
        "title": "VP Sales",
        "company": f"Prospect {n % 7} Inc",
        "custom_variables": [{"name": "industry", "value": "SaaS"}, {"name": "city", "value": "Lyon"}],
        "emails_sent": 1,
        "opens": 0,
        "replies": 0,
    }


def _envelope(event_type: str, name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": {
            "type": event_type,
            "name": name,
            "instance_url": INSTANCE,
            "workspace_id": WORKSPACE,
            "workspace_name": "Acme Outbound",
        },
        "data": data,
    }


def email_html(rng: random.Random) -> str:
    """A cold email as the provider renders it: paragraphs, signature, unsubscribe footer, pixel."""
    body = "".join(f'<p style="margin:0 0 12px 0;font-family:Arial,sans-serif">{p}</p>' for p in _paragraphs(rng, 5))
    signature = (
        '<table cellpadding="0" cellspacing="0" style="font-family:Arial"><tr><td><b>Alex Seller</b><br>'
        'Account Executive, Outbound Co<br><a href="https://outbound.example/?utm_source=email">'
        "outbound.example</a><br>+1 555 0100</td></tr></table>"
    )
    footer = (
        '<p style="font-size:11px;color:#888">If you would rather not hear from me, '
        '<a href="https://send.example-outreach.com/unsubscribe/aXJyZWxldmFudC10b2tlbi1mb3ItYmVuY2g">'
        'unsubscribe here</a>.</p><img src="https://send.example-outreach.com/t/o/'
        f'{rng.getrandbits(128):032x}.gif" width="1" height="1" alt="">'
    )
    return f"<html><body>{body}{signature}{footer}</body></html>"


def _scheduled(n: int, step: int, rng: random.Random, body: bool) -> dict[str, Any]:
    scheduled: dict[str, Any] = {
        "id": 880_000 + n * 10 + step,
        "lead_id": 40_000 + n,
        "sequence_step_id": 300 + step,
        "email_subject": "Quick question about {{company}}",
        "status": "sent",
        "scheduled_date_local": "2026-11-28 09:14:00",
        "sent_at": _at(step),
        "opens": 0,
        "replies": 0,
        "raw_message_id": f"<{rng.getrandbits(64):016x}@mail.example-outreach.com>",
    }
    if body:
        scheduled["email_body"] = email_html(rng)
    return scheduled


def _headers(rng: random.Random, sender: str, to: str, subject: str, count: int) -> list[dict[str, str]]:
    base = [
        {"name": "Return-Path", "value": f"<{sender}>"},
        {"name": "From", "value": sender},
        {"name": "To", "value": to},
        {"name": "Subject", "value": subject},
        {"name": "Date", "value": "Sat, 28 Nov 2026 11:02:44 +0000"},
        {"name": "Message-ID", "value": f"<{rng.getrandbits(96):024x}@mail.prospect.example>"},
        {"name": "MIME-Version", "value": "1.0"},
        {"name": "Content-Type", "value": 'multipart/alternative; boundary="000000000000b0un6ary"'},
    ]
    for i in range(count):  # the relays' trail: Received, ARC and DKIM headers make up most of it
        base.append(
            {
                "name": "Received",
                "value": f"from relay{i}.prospect.example (relay{i}.prospect.example "
                f"[10.0.{i}.{rng.randrange(255)}]) by mx.google.com with ESMTPS id {rng.getrandbits(80):020x} "
                f"for <{to}> (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256); "
                "Sat, 28 Nov 2026 03:02:44 -0800 (PST)",
            }
        )
        base.append(
            {
                "name": "ARC-Message-Signature",
                "value": "i=1; a=rsa-sha256; c=relaxed/relaxed; d=google.com; "
                f"s=arc-20160816; bh={rng.getrandbits(256):064x}; b={rng.getrandbits(512):0128x}",
            }
        )
    return base


def _mime(headers: list[dict[str, str]], text: str, html: str) -> str:
    head = "\r\n".join(f"{h['name']}: {h['value']}" for h in headers)
    return (
        f'{head}\r\n\r\n--000000000000b0un6ary\r\nContent-Type: text/plain; charset="UTF-8"\r\n'
        f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{text}\r\n\r\n--000000000000b0un6ary\r\n"
        f'Content-Type: text/html; charset="UTF-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
        f"{html}\r\n\r\n--000000000000b0un6ary--\r\n"
    )


def _reply_message(
    rng: random.Random,
    reply_id: int,
    sender: str,
    to: str,
    subject: str,
    minute: int,
    target: int,
    relays: int = 6,
    **extra: Any,
) -> dict[str, Any]:
    """A reply with the quoted thread below it; grown until the whole webhook is about ``target`` bytes."""
    reply: dict[str, Any] = {
        "id": reply_id,
        "uuid": f"{rng.getrandbits(128):032x}",
        "email_subject": subject,
        "from_name": sender.split("@", maxsplit=1)[0],
        "from_email_address": sender,
        "primary_to_email_address": to,
        "date_received": _at(minute),
        "type": "Tracked Reply",
        "folder": "Inbox",
        "interested": False,
        "automated_reply": False,
        **extra,
    }
    paragraphs = 0
    while True:
        own = _paragraphs(rng, 2, 25)
        quoted = _paragraphs(rng, paragraphs)
        text = "\n\n".join(own) + "\n\nOn Sat, 28 Nov 2026 Alex Seller wrote:\n" + "\n".join(f"> {q}" for q in quoted)
        html = (
            '<div dir="ltr">' + "".join(f"<p>{p}</p>" for p in own) + '</div><div class="gmail_quote">'
            '<blockquote class="gmail_quote" style="margin:0 0 0 .8ex;border-left:1px #ccc solid;'
            'padding-left:1ex">'
            + "".join(f'<p style="font-family:Arial">{q}</p>' for q in quoted)
            + "</blockquote></div>"
        )
        headers = _headers(rng, sender, to, subject, relays)
        reply |= {"text_body": text, "html_body": html, "headers": headers, "raw_body": _mime(headers, text, html)}
        if len(json.dumps(reply)) >= target - 1_500 or paragraphs > 400:
            return reply
        paragraphs += 2


def payload(event_type: str, n: int, step: int = 0) -> dict[str, Any]:
    """The webhook for lead ``n``'s ``step``-th event of this type (distinct steps, distinct events)."""
    rng = random.Random(f"{event_type}:{n}:{step}")
    the_lead = lead(n)
    address = the_lead["email"]
    subject = "Re: Quick question about Prospect Inc"
    event = {"id": 9_900_000 + n * 100 + step, "created_at": _at(step + 1)}
    data: dict[str, Any]
    if event_type == "EMAIL_SENT":
        data = {
            "scheduled_email": _scheduled(n, step, rng, body=True),
            "lead": the_lead,
            "campaign": CAMPAIGN,
            "sender_email": SENDER,
            "campaign_event": {**event, "type": "sent"},
        }
        return _envelope(event_type, "Email Sent", data)
    if event_type == "MANUAL_EMAIL_SENT":
        reply = {
            "id": 5_600_000 + n * 100 + step,
            "email_subject": subject,
            "from_email_address": SENDER["email"],
            "primary_to_email_address": address.lower(),
            "date_received": _at(step + 30),
            "type": "Outgoing Email",
            "folder": "Sent",
            "html_body": email_html(rng),
            "text_body": "\n\n".join(_paragraphs(rng, 3)),
        }
        data = {"reply": reply, "lead": the_lead, "sender_email": SENDER, "campaign": None}
        return _envelope(event_type, "Manual Email Sent", data)
    if event_type == "EMAIL_OPENED":
        scheduled = _scheduled(n, 0, rng, body=False) | {"opens": step + 1}
        data = {
            "campaign_event": {**event, "type": "opened"},
            "scheduled_email": scheduled,
            "lead": the_lead,
            "campaign": CAMPAIGN,
            "sender_email": SENDER,
        }
        return _envelope(event_type, "Email Opened", data)
    if event_type in {"LEAD_REPLIED", "LEAD_INTERESTED", "UNTRACKED_REPLY_RECEIVED"}:
        untracked = event_type == "UNTRACKED_REPLY_RECEIVED"
        sender = f"Someone.{n}@NewProspect{n % 5}.example" if untracked else address
        reply_id = 5_500_000 + n * 100 + step
        reply = _reply_message(
            rng,
            reply_id,
            sender,
            SENDER["email"],
            subject,
            step + 60,
            REPLY_TARGET_BYTES,
            interested=event_type == "LEAD_INTERESTED",
        )
        if untracked:
            reply["type"] = "Untracked Reply"
            data = {"reply": reply, "lead": None, "sender_email": SENDER}
            return _envelope(event_type, "Untracked Reply Received", data)
        kind = "interested" if event_type == "LEAD_INTERESTED" else "replied"
        scheduled = _scheduled(n, 0, rng, body=False)
        data = {
            "reply": reply,
            "lead": the_lead,
            "campaign": CAMPAIGN,
            "sender_email": SENDER,
            "scheduled_email": scheduled,
            "campaign_event": {**event, "type": kind},
        }
        name = "Contact Interested" if kind == "interested" else "Contact Replied"
        return _envelope(event_type, name, data)
    if event_type == "EMAIL_BOUNCED":
        daemon = "mailer-daemon@prospect.example"
        notice = _reply_message(
            rng,
            5_700_000 + n * 100 + step,
            daemon,
            SENDER["email"],
            "Undeliverable: Quick question",
            step + 2,
            BOUNCE_TARGET_BYTES,
            relays=1,
            type="Bounced",
        )
        data = {
            "campaign_event": {**event, "type": "bounced"},
            "scheduled_email": _scheduled(n, 0, rng, body=False),
            "reply": notice,
            "lead": the_lead,
            "campaign": CAMPAIGN,
        }
        return _envelope(event_type, "Email Bounced", data)
    if event_type == "LEAD_UNSUBSCRIBED":
        data = {"campaign_event": {**event, "type": "unsubscribed"}, "lead": the_lead, "campaign": CAMPAIGN}
        return _envelope(event_type, "Contact Unsubscribed", data)
    raise ValueError(f"no realistic payload for {event_type}")


def body_bytes(document: dict[str, Any]) -> int:
    return len(json.dumps(document).encode())
