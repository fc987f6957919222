"""Health: every hour, check that Leash can still see and tell; once a day, post the heartbeat.

Thin adapter: the logic lives in the leash layer (leash.health).
"""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from leash.aws import boto3_clients
from leash.health import HealthCheck, HealthSettings, wants_heartbeat
from leash.publish import SnsPublisher
from leash.wiring import alert_sender_from_env

logger = Logger()
metrics = Metrics()

_settings = HealthSettings.from_env(os.environ)
_alerts = SnsPublisher(boto3.client("sns"), _settings.alerts_topic_arn)

_invocation: dict = {}


def _time_left() -> float:
    context = _invocation.get("context")
    return float(context.get_remaining_time_in_millis()) / 1000 if context else float("inf")


# Failed checks carry Alert.second_path=True: posted straight to Slack as well as published to the alerts topic
# (which may be what failed), as tamper alerts are (leash.second_path).
send_failure = alert_sender_from_env(os.environ, time_left=_time_left)

health = HealthCheck(boto3_clients(), _settings, send_failure=send_failure, send_heartbeat=_alerts)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    _invocation["context"] = context
    heartbeat = wants_heartbeat(event)
    report = health.run(heartbeat=heartbeat)
    metrics.add_metric(name="HealthCheckFailures", unit=MetricUnit.Count, value=len(report.alerts))
    if report.heartbeat is not None:
        # The dead man's switch: HeartbeatAlarm treats a day without this data point as breaching.
        metrics.add_metric(name="Heartbeat", unit=MetricUnit.Count, value=1)
    log = logger.error if report.alerts else logger.info
    log(report.heartbeat.title if report.heartbeat else f"{len(report.alerts)} health checks failed",
        extra=report.to_dict())  # fmt: skip
    return report.to_dict()
