"""The AWS wiring that the notify and reapply handlers share, built from the function's environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leash.actors import ActorConfig, RoleTagCache, TagLookup
from leash.lockdown import AutoLockdown, EventBusRequester
from leash.notify import Notifier, Respond, SnsPublisher, once_per_event


def notifier_from_env(env: Mapping[str, str], *, key_prefix: str, respond: Respond | None = None,
                      tag_lookup: TagLookup | None = None) -> tuple[Notifier, Any]:
    """A Notifier publishing to the alerts topic, once per eventID, requesting lockdowns on Leash's bus.

    Returns it with the IdempotencyConfig, on which the handler registers each Lambda context.
    """
    import boto3

    once, idempotency = once_per_event(env["IDEMPOTENCY_TABLE"], key_prefix=key_prefix)
    notifier = Notifier(
        ActorConfig.from_env(env),
        SnsPublisher(boto3.client("sns"), env["ALERTS_TOPIC_ARN"]),
        tag_lookup or RoleTagCache(lambda: boto3.client("iam")),
        respond=respond,
        once=once,
        auto_lockdown=AutoLockdown.from_env(env),
        request_lockdown=EventBusRequester(lambda: boto3.client("events"), env["LEASH_EVENT_BUS"]),
    )
    return notifier, idempotency
