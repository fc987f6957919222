"""The AWS wiring that the notify and reapply handlers share, built from the function's environment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

from leash.actors import RoleTagCache, TagLookup
from leash.alerts import Alert
from leash.aws import LazyClient, boto3_clients
from leash.claims import DynamoDbClaims
from leash.idempotency import once_per_event
from leash.incidents import incidents_from_env
from leash.itself import CachedLeashResources, LeashResources, from_stack_resources
from leash.ledger import Ledger
from leash.lockdown import AutoLockdown, EventBusRequester
from leash.notify import Notifier, Respond
from leash.protections import PROTECTION_NAMES
from leash.publish import SnsPublisher
from leash.reapply import Reapplier
from leash.second_path import POSTED, AlertSender, Report
from leash.settings import (
    ActorConfig,
    LockdownSettings,
    ReapplySettings,
    SettingsError,
    SlackWebhook,
    required,
    slack_buttons,
    text,
    whole_number,
)
from leash.slack import (
    SlackDelivery,
    SqsDeadLetter,
    TimeLeft,
    bot_token_from_secret,
    secret_reader,
    unlimited,
    webhook_url_from_secret,
)
from leash.slack_incidents import SLACK_API_URL, IncidentSlack, WebApi


def alert_sender_from_env(
    env: Mapping[str, str],
    *,
    time_left: TimeLeft = unlimited,
    sns_client: Any = None,
    dynamodb_client: Any = None,
    report: Report | None = None,
) -> AlertSender:
    """How every Leash sender sends an alert: to the alerts topic, and a second-path one to Slack directly too.

    The health check calls it like the Notifier does: `alert_sender_from_env(os.environ)(alert)`. It needs
    ALERTS_TOPIC_ARN and, for the second path, SLACK_BOT_TOKEN_SECRET_ARN + SLACK_CHANNEL_ID or
    SLACK_WEBHOOK_SECRET_ARN, and SLACK_DEAD_LETTER_QUEUE_URL;
    with LEASH_INCIDENT_TABLE each alert opens or joins its principal's incident.
    """
    sqs = LazyClient("sqs")
    return AlertSender(
        SnsPublisher(
            sns_client or boto3.client("sns"),
            required(env, "ALERTS_TOPIC_ARN"),
            incidents_from_env(env, dynamodb_client or LazyClient("dynamodb")),
        ),
        slack_from_env(
            env, sqs
        ),  # neither secret set: it answers "not-configured", the topic alone carries it
        SqsDeadLetter(sqs, SlackWebhook.from_env(env).dead_letter_queue_url),
        time_left=time_left,
        report=report or log_and_count,
    )


def log_and_count(metric: str, alert: Alert, detail: str) -> None:
    """The second path's report: one metric and one log line (an error when a path failed)."""
    from aws_lambda_powertools import Logger, Metrics  # the handler's own: same service, shared metric set
    from aws_lambda_powertools.metrics import MetricUnit

    Metrics().add_metric(name=metric, unit=MetricUnit.Count, value=1)
    log = Logger().info if metric == POSTED else Logger().error
    log(detail, extra={"secondPath": metric, "eventId": alert.event_id, "severity": str(alert.severity)})


def _time_left(idempotency: IdempotencyConfig) -> TimeLeft:
    """The invocation's remaining seconds, from the Lambda context the handler registers on its config."""

    def left() -> float:
        context = idempotency.lambda_context
        return float(context.get_remaining_time_in_millis()) / 1000 if context else float("inf")

    return left


def slack_from_env(env: Mapping[str, str], sqs_client: Any = None) -> IncidentSlack:
    """How Leash posts to Slack: threads through the Web API with a bot token, else the incoming webhook.

    SLACK_BOT_TOKEN_SECRET_ARN (+ SLACK_CHANNEL_ID) for threads, SLACK_WEBHOOK_SECRET_ARN for the fallback,
    SLACK_DEAD_LETTER_QUEUE_URL for what cannot be posted; LEASH_SLACK_BUTTONS=on with the interaction endpoint.
    """
    slack = SlackWebhook.from_env(env)
    bot_token_arn = text(env, "SLACK_BOT_TOKEN_SECRET_ARN")
    dead_letter_url = (
        required(env, "SLACK_DEAD_LETTER_QUEUE_URL") if bot_token_arn else slack.dead_letter_queue_url
    )
    dead_letter = SqsDeadLetter(sqs_client or LazyClient("sqs"), dead_letter_url)
    webhook = SlackDelivery(
        secret_reader(slack.secret_arn, webhook_url_from_secret), dead_letter, buttons=slack_buttons(env)
    )
    web_api = (
        WebApi(
            secret_reader(bot_token_arn, bot_token_from_secret),
            required(env, "SLACK_CHANNEL_ID"),
            text(env, "SLACK_API_URL") or SLACK_API_URL,
        )
        if bot_token_arn
        else None
    )
    return IncidentSlack(incidents_from_env(env, LazyClient("dynamodb")), webhook, dead_letter, web_api)


def notifier_from_env(
    env: Mapping[str, str],
    *,
    key_prefix: str,
    respond: Respond | None = None,
    tag_lookup: TagLookup | None = None,
    dynamodb_client: Any = None,
    leash_resources: Callable[[], LeashResources] | None = None,
) -> tuple[Notifier, IdempotencyConfig]:
    """A Notifier sending alerts (leash.second_path), once per eventID, requesting lockdowns on Leash's bus.

    Returns it with the IdempotencyConfig, on which the handler registers each Lambda context.
    """
    dynamodb_client = dynamodb_client or boto3.client("dynamodb")
    actor_config, lockdown = ActorConfig.from_env(env), LockdownSettings.from_env(env)
    table = required(env, "IDEMPOTENCY_TABLE")
    once, idempotency = once_per_event(table, key_prefix=key_prefix, dynamodb_client=dynamodb_client)
    notifier = Notifier(
        actor_config,
        alert_sender_from_env(env, time_left=_time_left(idempotency), dynamodb_client=dynamodb_client),
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
