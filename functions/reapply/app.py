"""Reapply: a call that stripped a protection gets it put back, recorded in the ledger, and one alert.

Thin adapter: the logic lives in the leash layer (leash.reapply, leash.protections, leash.notify).
"""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics

from leash.actors import ActorConfig, RoleTagCache
from leash.ledger import Ledger
from leash.lockdown import AutoLockdown, EventBusRequester
from leash.observability import report_outcome
from leash.notify import Notifier, SnsPublisher, once_per_event
from leash.protections import Settings
from leash.reapply import Reapplier, boto3_clients

logger = Logger()
metrics = Metrics()

_actor_config = ActorConfig.from_env(os.environ)
_tags = RoleTagCache(lambda: boto3.client("iam"))
_dynamodb = boto3.client("dynamodb")
_once, _idempotency = once_per_event(os.environ["IDEMPOTENCY_TABLE"], key_prefix="reapply")
reapplier = Reapplier(
    boto3_clients(),
    Settings.from_env(os.environ),
    _actor_config,
    tag_lookup=_tags,
    ledger=Ledger(_dynamodb, os.environ["LEDGER_TABLE"], int(os.environ.get("LEDGER_RETENTION_DAYS", "365"))).record,
)
notifier = Notifier(
    _actor_config,
    SnsPublisher(boto3.client("sns"), os.environ["ALERTS_TOPIC_ARN"]),
    _tags,
    respond=reapplier,
    once=_once,
    auto_lockdown=AutoLockdown.from_env(os.environ),
    request_lockdown=EventBusRequester(lambda: boto3.client("events"), os.environ["LEASH_EVENT_BUS"]),
)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    _idempotency.register_lambda_context(context)
    return report_outcome(notifier.handle(event), metrics, logger)
