"""Spikes: batches of denied calls and agent calls from SQS become windowed counters and, on a burst, one alert.

Thin adapter: the logic lives in the leash layer (leash.spike_consumer, leash.spikes, leash.counters).
"""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from leash.actors import RoleTagCache
from leash.aws import LazyClient
from leash.claims import DynamoDbClaims
from leash.counters import DynamoDbCounterStore
from leash.incidents import incidents_from_env
from leash.lockdown import EventBusRequester
from leash.publish import SnsPublisher
from leash.settings import ActorConfig, LockdownSettings, SpikeConfig, required
from leash.spike_consumer import SpikeConsumer

logger = Logger()
metrics = Metrics()

_dynamodb = boto3.client("dynamodb")
_SPIKE_TABLE = required(os.environ, "SPIKE_TABLE")
consumer = SpikeConsumer(
    ActorConfig.from_env(os.environ),
    SpikeConfig.from_env(os.environ),
    DynamoDbCounterStore(_dynamodb, _SPIKE_TABLE),
    SnsPublisher(  # most batches cross no level: the SNS client is built on the first alert
        LazyClient("sns"),
        required(os.environ, "ALERTS_TOPIC_ARN"),
        incidents_from_env(os.environ, _dynamodb),  # a spike joins its principal's incident
    ),
    tag_lookup=RoleTagCache(lambda: boto3.client("iam")),
    lockdown_kinds=LockdownSettings.from_env(os.environ).kinds,
    # A redelivered batch asks once: requests are claimed in the counters table (UpdateItem only).
    request_lockdown=EventBusRequester(
        lambda: boto3.client("events"),
        required(os.environ, "LEASH_EVENT_BUS"),
        claims=DynamoDbClaims(_dynamodb, _SPIKE_TABLE, key_attribute="pk", expiry_attribute="expiresAt"),
    ),
)

_NAMESPACE = required(os.environ, "POWERTOOLS_METRICS_NAMESPACE")
_METRIC = {"denied": "DeniedCalls", "calls": "AgentCalls"}


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    result = consumer.handle(event)
    for (counter, kind), n in result.counted.items():
        with single_metric(
            name=_METRIC[counter],
            unit=MetricUnit.Count,
            value=n,
            namespace=_NAMESPACE,
        ) as metric:
            metric.add_dimension(name="ActorKind", value=kind)
    metrics.add_metric(name="SpikeAlerts", unit=MetricUnit.Count, value=len(result.alerts))
    # Account-wide, without dimensions but the service: what DeniedCallsAlarm watches.
    metrics.add_metric(
        name="DeniedCallsTotal",
        unit=MetricUnit.Count,
        value=sum(n for (counter, _), n in result.counted.items() if counter == "denied"),
    )
    logger.info(
        f"{sum(result.counted.values())} calls counted in {result.groups} groups, {result.writes} counter writes, "
        f"{len(result.alerts)} alerts, {len(result.response['batchItemFailures'])} records failed",
        extra={
            "alerts": [a.title for a in result.alerts],
            "lockdowns": [r["principal"] for r in result.lockdowns],
            "rejected": consumer.rejected,
            "errors": consumer.errors,
        },
    )
    return result.response
