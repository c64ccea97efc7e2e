"""Processing lanes: which event types a salesperson waits for, and which may wait behind a burst.

The one place lane membership is defined. Ingest writes an event's lane on its item; each lane has
its own event source mapping (filtered on that attribute) and its own processor function, so a
reply never queues behind a burst of sends. Every domain effect is order-independent (see
``domain.py``), so the lanes may reorder events freely, even events of the same lead.

Lane probes: the sweeper writes one probe item per lane per run. Its stream record passes only its
own lane's filter and queues behind that lane's backlog; when the lane's processor reaches it, it
records the probe's time as the lane's watermark. "The lane has read every record written before
the watermark" is what lets the sweeper tell a lost record from one that is still queued.
"""

from __future__ import annotations

from enum import StrEnum


class Lane(StrEnum):
    INTERACTIVE = "interactive"  # replies and the stop signals: someone is waiting, follow-ups must stop
    BULK = "bulk"  # campaign and manual sends, opens: bursts of thousands, nobody waits for one


LANE_OF_TYPE: dict[str, Lane] = {
    "LEAD_REPLIED": Lane.INTERACTIVE,
    "LEAD_INTERESTED": Lane.INTERACTIVE,
    "UNTRACKED_REPLY_RECEIVED": Lane.INTERACTIVE,
    "LEAD_UNSUBSCRIBED": Lane.INTERACTIVE,
    "EMAIL_BOUNCED": Lane.INTERACTIVE,
    "EMAIL_SENT": Lane.BULK,
    "MANUAL_EMAIL_SENT": Lane.BULK,
    "EMAIL_OPENED": Lane.BULK,
}

# Keys of the lane bookkeeping items in the events table. "#" never starts a provider name, so they
# cannot collide with a dedupe key ("<provider>:<type>:<id>").
_LANE_KEY_PREFIX = "LANE#"
_PROBE_SUFFIX = "#probe"
_WATERMARK_SUFFIX = "#watermark"


def lane_of(event_type: str) -> Lane:
    """The lane of a supported event type (KeyError for any other: it is never processed)."""
    return LANE_OF_TYPE[event_type]


def probe_key(lane: Lane) -> str:
    return f"{_LANE_KEY_PREFIX}{lane.value}{_PROBE_SUFFIX}"


def watermark_key(lane: Lane) -> str:
    return f"{_LANE_KEY_PREFIX}{lane.value}{_WATERMARK_SUFFIX}"


def lane_of_probe(key: str) -> Lane | None:
    """The lane a probe key belongs to; None for any other key (an event)."""
    for lane in Lane:
        if key == probe_key(lane):
            return lane
    return None
