"""Event lifecycle states and the attribute names of the events table (one place for both)."""

from enum import StrEnum


class EventStatus(StrEnum):
    PENDING = "PENDING"  # stored, waiting for the processor (the stream filter passes only this state)
    RUNNING = "RUNNING"  # claimed by a processor under a lease
    RETRY_WAIT = "RETRY_WAIT"  # failed retryably; the sweeper wakes it at runAt
    SUCCEEDED = "SUCCEEDED"  # terminal: domain effects applied
    FAILED = "FAILED"  # terminal: gave up, an alert was published
    IGNORED = "IGNORED"  # terminal: an event type Spillway does not handle, kept briefly for visibility


LIVE_STATUSES = (EventStatus.PENDING, EventStatus.RUNNING, EventStatus.RETRY_WAIT)


class EventAttr:
    """Attribute names of an item in the events table."""

    PK = "pk"  # the dedupe key (event record) or STATE#<dedupe key> (lifecycle item)
    # The event record (write-once): PENDING while live, so the processor's stream filter passes its
    # INSERT; IGNORED records carry ``status`` instead (terminal, listed by the status index).
    INTAKE = "intake"
    PROVIDER = "provider"
    EVENT_TYPE = "eventType"
    STATUS = "status"
    RECEIVED_AT = "receivedAt"  # epoch ms
    UPDATED_AT = "updatedAt"  # epoch ms
    RUN_AT = "runAt"  # epoch ms: earliest time the processor should run it
    ATTEMPTS = "attempts"
    MAX_ATTEMPTS = "maxAttempts"
    LEASE_OWNER = "leaseOwner"
    LEASE_EXPIRES_AT = "leaseExpiresAt"  # epoch ms
    # Sparse sweep index: only live (non-terminal) events carry these two attributes.
    SWEEP_SHARD = "sweepShard"
    DUE_AT = "dueAt"  # epoch ms: when the sweeper should look at it if nothing else did
    WAKES = "wakes"
    BODY_ZLIB = "bodyZlib"  # zlib of the normalised event's JSON, a newline, and the raw body
    RAW_TRIMMED = "rawTrimmed"  # true when the raw body was too large to keep
    # The event record's body as written before bodyZlib: read until those records' retention ends.
    NORMALISED = "normalised"  # JSON of the normalised event
    RAW = "raw"  # raw body, when small
    RAW_ZLIB = "rawZlib"  # zlib-compressed raw body, when large
    ALERT_PENDING = "alertPending"  # FAILED, alert not yet confirmed published (the sweeper retries)
    LAST_ERROR = "lastError"
    ERROR_CLASS = "errorClass"
    COMPLETED_AT = "completedAt"
    EXPIRES_AT = "expiresAt"  # TTL, epoch seconds
    WORKSPACE = "workspace"  # the provider workspace id, when the payload names one (operator filters)
    LANE = "lane"  # the processing lane (spillway_core.lanes); each lane's stream filter matches on it
    PROBE_AT = "probeAt"  # lane probe items: when the sweeper wrote the probe (epoch ms)
    WATERMARK = "watermark"  # lane watermark items: probeAt of the newest probe the lane has processed


SWEEP_INDEX = "bySweepShard"
# Operators list events by status, newest change first (`spillway events`); every event is in it.
STATUS_INDEX = "byStatus"
# What a listing shows without reading the item itself: small, and never lead data.
STATUS_INDEX_ATTRIBUTES = (
    EventAttr.PROVIDER,
    EventAttr.EVENT_TYPE,
    EventAttr.RECEIVED_AT,
    EventAttr.ATTEMPTS,
    EventAttr.ERROR_CLASS,
    EventAttr.WORKSPACE,
    EventAttr.EXPIRES_AT,
)
