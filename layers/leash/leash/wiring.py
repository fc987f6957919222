"""The AWS wiring that the notify and reapply handlers share, built from the function's environment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

from leash.actors import RoleTagCache, TagLookup
from leash.aws import boto3_clients
from leash.claims import DynamoDbClaims
from leash.idempotency import once_per_event
from leash.ledger import Ledger
from leash.lockdown import AutoLockdown, EventBusRequester
from leash.notify import Notifier, Respond
from leash.protections import PROTECTION_NAMES
from leash.publish import SnsPublisher
from leash.reapply import Reapplier
from leash.settings import (
    ActorConfig,
    LockdownSettings,
    ReapplySettings,
    SettingsError,
    required,
    whole_number,
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
        SnsPublisher(boto3.client("sns"), required(env, "ALERTS_TOPIC_ARN")),
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


def reapplier_from_env(
    env: Mapping[str, str], *, tag_lookup: TagLookup, dynamodb_client: Any, warn: Callable[[str], Any]
) -> Reapplier:
    """The reapply step of the reapply function (and of the reconciler), recording in the ledger."""
    try:
        settings = ReapplySettings.from_env(env, PROTECTION_NAMES)
    except SettingsError as exc:
        # Fail safe: an unknown name in AlertOnlyProtections is ignored, loudly (the protection it meant stays
        # remediated), rather than a function that cannot start and so puts nothing back.
        warn(f"{exc}. Leash ignores the unknown names: those protections stay in remediate mode")
        settings = ReapplySettings.from_env(env)
    return Reapplier(
        boto3_clients(),
        settings,
        ActorConfig.from_env(env),
        tag_lookup=tag_lookup,
        ledger=Ledger(
            dynamodb_client,
            required(env, "LEDGER_TABLE"),
            whole_number(env, "LEDGER_RETENTION_DAYS", 365),
        ),
    )
