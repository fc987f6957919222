"""Slack forwarder: each alert of the alerts topic, posted to Slack as part of its incident.

Three events, one function:
- the alerts topic (SNS): each alert goes onto the Slack FIFO queue, its incident as the message group;
- the Slack FIFO queue (SQS): alerts posted in order per incident (a thread with a bot token, else webhook);
- a schedule (EventBridge Scheduler): incidents gone quiet are closed, the webhook fallback posts their digest.

Thin adapter: the logic lives in the leash layer (leash.inbox reads the topic, leash.slack_incidents posts).
"""

import os
import time

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response

from leash.aws import LazyClient
from leash.inbox import alerts_with_attributes
from leash.settings import IncidentSettings, text
from leash.slack_incidents import from_queue, queue_message
from leash.wiring import slack_from_env

logger = Logger()
metrics = Metrics()

QUEUE_URL = text(os.environ, "SLACK_QUEUE_URL")
# No incident table (a stack from before incidents): each alert is posted alone.
_INCIDENTS = IncidentSettings.from_env(os.environ)
_warned_unconfigured = False
_sqs = LazyClient("sqs")

_METRIC = {
    "posted": "SlackPosted",
    "held": "SlackHeldForDigest",
    "dead-lettered": "SlackDeadLettered",
    "not-configured": "SlackNotConfigured",
}
# Bot token (threads) or webhook (first call, criticals, digest); buttons only with the interaction endpoint.
incidents = slack_from_env(os.environ, _sqs)
processor = SqsFifoPartialProcessor()


def _report(result, alert) -> str:
    global _warned_unconfigured
    metrics.add_metric(name=_METRIC[result.status], unit=MetricUnit.Count, value=1)
    if result.status == "not-configured":
        if not _warned_unconfigured:  # once per container, not once per alert
            logger.warning(result.detail)
            _warned_unconfigured = True
    else:
        log = logger.error if result.status == "dead-lettered" else logger.info
        log(result.detail, extra={"eventId": alert.event_id, "severity": str(alert.severity)})
    return result.status


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    # Every wait leaves the function time to park the alert in the Slack DLQ with its reason.
    def time_left() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000

    records = event.get("Records") if isinstance(event, dict) else None
    first = records[0] if isinstance(records, list) and records else None
    if isinstance(first, dict) and first.get("eventSource") == "aws:sqs":

        def post(record) -> str:
            alert, incident = from_queue(record.body)
            return _report(incidents.deliver(alert, incident, time_left), alert)

        return process_partial_response(
            event=event, record_handler=post, processor=processor, context=context
        )
    if isinstance(event, dict) and event.get("detail-type") == "Scheduled Event":
        results = incidents.sweep(time.time(), _INCIDENTS.quiet_seconds, time_left)
        for result in results:
            metrics.add_metric(name=_METRIC[result.status], unit=MetricUnit.Count, value=1)
        return {"digests": [r.status for r in results]}
    results = []
    # A second-path alert its sender already posted (posted_to_slack=true) is not posted again.
    for alert, attributes in alerts_with_attributes(event, skip_posted_to_slack=True):
        if QUEUE_URL:
            _sqs.send_message(QueueUrl=QUEUE_URL, **queue_message(alert, attributes.get("incident", "")))
            results.append("queued")
        else:  # no queue (a stack from before incidents): post at once
            results.append(
                _report(incidents.deliver(alert, attributes.get("incident", ""), time_left), alert)
            )
    return {"results": results}
