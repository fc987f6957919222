"""Slack forwarder: post each alert of the alerts topic to the Slack incoming webhook.

Thin adapter: the logic lives in the leash layer (leash.inbox reads the topic, leash.slack delivers).
"""

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from leash.aws import LazyClient
from leash.inbox import alerts_from_sns
from leash.settings import required, slack_buttons, text
from leash.slack import SlackDelivery, SqsDeadLetter, webhook_url_reader

logger = Logger()
metrics = Metrics()

_warned_unconfigured = False

_METRIC = {
    "posted": "SlackPosted",
    "dead-lettered": "SlackDeadLettered",
    "not-configured": "SlackNotConfigured",
}
delivery = SlackDelivery(
    webhook_url_reader(text(os.environ, "SLACK_WEBHOOK_SECRET_ARN")),
    SqsDeadLetter(LazyClient("sqs"), required(os.environ, "SLACK_DEAD_LETTER_QUEUE_URL")),
    buttons=slack_buttons(os.environ),  # no buttons without the interaction endpoint to receive them
)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    global _warned_unconfigured
    results = []

    # Every wait leaves the function time to park the alert in the Slack DLQ with its reason.
    def time_left() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000

    # A second-path alert its sender already posted (the subscription's filter policy drops it too).
    for alert in alerts_from_sns(event, skip_posted_to_slack=True):
        result = delivery.deliver(alert, time_left)
        results.append(result.status)
        metrics.add_metric(name=_METRIC[result.status], unit=MetricUnit.Count, value=1)
        if result.status == "not-configured":
            if not _warned_unconfigured:  # once per container, not once per alert
                logger.warning(result.detail)
                _warned_unconfigured = True
            continue
        log = logger.info if result.status == "posted" else logger.error
        log(result.detail, extra={"eventId": alert.event_id, "severity": str(alert.severity)})
    return {"results": results}
