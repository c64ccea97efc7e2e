"""AWS client construction: every client gets explicit timeouts and bounded retries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spillway_core.settings import AwsClientSettings


def client(service: str, settings: AwsClientSettings) -> Any:
    # Imported here so that modules which only need types (and the tests) don't pay for boto3.
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=settings.aws_timeout_seconds,
        read_timeout=settings.aws_timeout_seconds,
        retries={"mode": "standard", "max_attempts": settings.aws_max_attempts},
    )
    return boto3.client(service, config=config)  # type: ignore[call-overload]
