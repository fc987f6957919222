"""The AWS wiring that the notify and reapply handlers share, built from the function's environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

from leash.actors import RoleTagCache, TagLookup
from leash.claims import DynamoDbClaims
from leash.idempotency import once_per_event
from leash.incidents import DynamoDbIncidents, IncidentStore
from leash.lockdown import AutoLockdown, EventBusRequester
from leash.notify import Notifier, Respond
from leash.publish import SnsPublisher
from leash.settings import ActorConfig, IncidentSettings, LockdownSettings, required


def incidents_from_env(env: Mapping[str, str], dynamodb_client: Any = None) -> IncidentStore | None:
    """The incident store of LEASH_INCIDENT_TABLE, or None when the function has none."""
    settings = IncidentSettings.from_env(env)
    if not settings.table:
        return None
    return DynamoDbIncidents(
        dynamodb_client or boto3.client("dynamodb"), settings.table, settings.quiet_seconds
    )


def notifier_from_env(
    env: Mapping[str, str],
    *,
    key_prefix: str,
    respond: Respond | None = None,
    tag_lookup: TagLookup | None = None,
    dynamodb_client: Any = None,
) -> tuple[Notifier, IdempotencyConfig]:
    """A Notifier publishing to the alerts topic, once per eventID, requesting lockdowns on Leash's bus.

    Returns it with the IdempotencyConfig, on which the handler registers each Lambda context.
    """
    dynamodb_client = dynamodb_client or boto3.client("dynamodb")
    table = required(env, "IDEMPOTENCY_TABLE")
    once, idempotency = once_per_event(table, key_prefix=key_prefix, dynamodb_client=dynamodb_client)
    notifier = Notifier(
        ActorConfig.from_env(env),
        SnsPublisher(
            boto3.client("sns"), required(env, "ALERTS_TOPIC_ARN"), incidents_from_env(env, dynamodb_client)
        ),
        tag_lookup or RoleTagCache(lambda: boto3.client("iam")),
        respond=respond,
        once=once,
        auto_lockdown=AutoLockdown(LockdownSettings.from_env(env)),
        # Claimed in the idempotency table: a retry after a failed publish does not ask a second time.
        request_lockdown=EventBusRequester(
            lambda: boto3.client("events"),
            required(env, "LEASH_EVENT_BUS"),
            claims=DynamoDbClaims(dynamodb_client, table),
        ),
    )
    return notifier, idempotency
