"""boto3 clients as the handlers build them: per region on first use, or lazily for a rare path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

Clients = Callable[[str, str], Any]
"""(service, region) -> boto3 client."""

# Bounded retries with backoff: a throttled call is retried, never for longer than the function may run.
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 5}, connect_timeout=5, read_timeout=15)


def boto3_clients() -> Clients:
    """A client per (service, region), built on first use, with botocore's bounded retries and backoff."""
    cache: dict[tuple[str, str], Any] = {}

    def client(service: str, region: str) -> Any:
        if (service, region) not in cache:
            cache[(service, region)] = boto3.client(service, region_name=region, config=RETRIES)
        return cache[(service, region)]

    return client


class LazyClient:
    """A boto3 client built on its first use: for a path most invocations never take (a dead-letter
    queue, an alert that a batch rarely raises), so that cold start does not pay for it."""

    def __init__(self, service: str):
        self._service = service
        self._client: Any = None

    def __getattr__(self, operation: str) -> Any:
        if self._client is None:
            self._client = boto3.client(self._service)
        return getattr(self._client, operation)
