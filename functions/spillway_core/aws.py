"""AWS client construction: every client gets explicit timeouts and bounded retries."""

from __future__ import annotations

from typing import Any, Protocol


class ClientSettings(Protocol):
    """What building a client reads: AwsClientSettings and the ingest's light IngestSettings both have it."""

    @property
    def aws_timeout_seconds(self) -> float: ...

    @property
    def aws_max_attempts(self) -> int: ...


def client(service: str, settings: ClientSettings) -> Any:
    # Imported here so that modules which only need types (and the tests) don't pay for boto3.
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=settings.aws_timeout_seconds,
        read_timeout=settings.aws_timeout_seconds,
        retries={"mode": "standard", "max_attempts": settings.aws_max_attempts},
    )
    return boto3.client(service, config=config)  # type: ignore[call-overload]
