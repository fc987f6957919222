"""The AWS wiring that the notify and reapply handlers share, built from the function's environment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

from leash.actors import RoleTagCache, TagLookup
from leash.claims import DynamoDbClaims
from leash.idempotency import once_per_event
from leash.itself import CachedLeashResources, LeashResources, from_stack_resources
from leash.lockdown import AutoLockdown, EventBusRequester
from leash.notify import Notifier, Respond
from leash.publish import SnsPublisher
from leash.settings import ActorConfig, LockdownSettings, required


def notifier_from_env(
    env: Mapping[str, str],
    *,
    key_prefix: str,
    respond: Respond | None = None,
    tag_lookup: TagLookup | None = None,
    dynamodb_client: Any = None,
    leash_resources: Callable[[], LeashResources] | None = None,
) -> tuple[Notifier, IdempotencyConfig]:
    """A Notifier publishing to the alerts topic, once per eventID, requesting lockdowns on Leash's bus.

    Returns it with the IdempotencyConfig, on which the handler registers each Lambda context.
    """
    dynamodb_client = dynamodb_client or boto3.client("dynamodb")
    actor_config, lockdown = ActorConfig.from_env(env), LockdownSettings.from_env(env)
    table = required(env, "IDEMPOTENCY_TABLE")
    once, idempotency = once_per_event(table, key_prefix=key_prefix, dynamodb_client=dynamodb_client)
    notifier = Notifier(
        actor_config,
        SnsPublisher(boto3.client("sns"), required(env, "ALERTS_TOPIC_ARN")),
        tag_lookup or RoleTagCache(lambda: boto3.client("iam")),
        respond=respond,
        once=once,
        auto_lockdown=AutoLockdown(lockdown),
        # Claimed in the idempotency table: a retry after a failed publish does not ask a second time.
        request_lockdown=EventBusRequester(
            lambda: boto3.client("events"),
            required(env, "LEASH_EVENT_BUS"),
            claims=DynamoDbClaims(dynamodb_client, table),
        ),
        leash=leash_resources or own_resources(actor_config, lockdown),
    )
    return notifier, idempotency


def own_resources(actor_config: ActorConfig, lockdown: LockdownSettings) -> CachedLeashResources:
    """Leash's own resources, from its stack's resource list (cloudformation:ListStackResources), cached.

    A failed lookup raises: the invocation fails and is retried (EventBridge's retry policy, then the DLQ),
    rather than a call on Leash's resources being judged as if it were on anyone's.
    """
    return CachedLeashResources(
        lambda: from_stack_resources(
            boto3.client("cloudformation"),
            lockdown.stack_name,
            role_prefix=actor_config.leash_role_prefix,
            secrets=lockdown.secret_arns,
        )
    )
