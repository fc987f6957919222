"""Notify: a CloudTrail call matched by a Leash rule becomes at most one alert on the alerts topic.

Thin adapter: the logic lives in the leash layer (leash.notify).
"""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from leash.actors import ActorConfig, RoleTagCache
from leash.lockdown import AutoLockdown, EventBusRequester
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

_METRIC = {
    "published": "AlertsPublished",
    "duplicate": "DuplicateEvents",
    "ignored": "IgnoredEvents",
    "rejected": "MalformedEvents",
}


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    _idempotency.register_lambda_context(context)
    outcome = notifier.handle(event)
    metrics.add_metric(name=_METRIC[outcome.status], unit=MetricUnit.Count, value=1)
    if outcome.status == "published":
        metrics.add_metric(name=f"Alerts{outcome.alert.severity.capitalize()}", unit=MetricUnit.Count, value=1)
    log = logger.warning if outcome.status == "rejected" else logger.info
    log(f"{outcome.status}: {outcome.reason}", extra=outcome.to_dict())
    return outcome.to_dict()
