"""Notify: a CloudTrail call matched by a Leash rule becomes at most one alert on the alerts topic.

Thin adapter: the logic lives in the leash layer (leash.notify).
"""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics

from leash.actors import ActorConfig, RoleTagCache
from leash.lockdown import AutoLockdown, EventBusRequester
from leash.observability import report_outcome
from leash.notify import Notifier, SnsPublisher, once_per_event

logger = Logger()
metrics = Metrics()

_once, _idempotency = once_per_event(os.environ["IDEMPOTENCY_TABLE"], key_prefix="notify")
notifier = Notifier(
    ActorConfig.from_env(os.environ),
    SnsPublisher(boto3.client("sns"), os.environ["ALERTS_TOPIC_ARN"]),
    RoleTagCache(lambda: boto3.client("iam")),
    once=_once,
    auto_lockdown=AutoLockdown.from_env(os.environ),
    request_lockdown=EventBusRequester(lambda: boto3.client("events"), os.environ["LEASH_EVENT_BUS"]),
)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    _idempotency.register_lambda_context(context)
    return report_outcome(notifier.handle(event), metrics, logger)
