"""Domain exceptions raised by the data-access layer (AWS error codes never leak past it)."""


class StoreUnavailable(Exception):
    """The store could not be reached or throttled us: retry later (ingest answers 503)."""


class DuplicateEvent(Exception):
    """An event with the same dedupe key is already stored."""


class RetryableProcessingError(Exception):
    """A transient failure: the event goes to RETRY_WAIT with backoff."""


class PermanentProcessingError(Exception):
    """The event can never succeed (for example an invalid stored payload): it goes to FAILED."""


class StoreRejected(Exception):
    """The store refused the write for good (a validation error): retrying cannot help."""


class EventTooLarge(StoreRejected):
    """The event's item would exceed the store's item size budget, even without its raw body."""
