"""Alerts onto the alerts topic: one SNS message per alert, JSON for machines and text for e-mail."""

from __future__ import annotations

import json
from typing import Any, Protocol

from leash.alerts import POSTED_TO_SLACK, Alert
from leash.fit import SNS_MESSAGE_BYTES, fit
from leash.render import describe, render_text, subject


class Publish(Protocol):
    def __call__(self, alert: Alert, /) -> str:
        """Publish the alert; return the message id."""
        ...


def sns_message(alert: Alert) -> dict[str, str]:
    """Publish arguments: the JSON body for every protocol, the text for e-mail; within SNS's size limit.

    With MessageStructure=json, SNS sends each subscriber its protocol's key or else "default": so
    Lambda (the Slack forwarder), SQS, HTTPS, email-json and SMS get the JSON, e-mail the text. An alert
    too large for the limit is clipped (leash.fit), never dropped.
    """
    return fit(alert, _publish_args, _publish_bytes, SNS_MESSAGE_BYTES)


def _publish_args(alert: Alert) -> dict[str, str]:
    data = alert.to_dict()
    # Machines get the fields and, beside each action, the sentence an e-mail shows (never parsed back).
    data["leash_did"] = [{**action.to_dict(), "text": describe(action)} for action in alert.leash_did]
    machine = json.dumps(data, separators=(",", ":"), sort_keys=True)
    body = {"default": machine, "email": render_text(alert)}
    # ASCII only (non-ASCII escaped): a lone surrogate from a hostile event cannot break the UTF-8 encoding.
    message = json.dumps(body, separators=(",", ":"))
    return {"Subject": subject(alert), "Message": message, "MessageStructure": "json"}


def _publish_bytes(args: dict[str, str]) -> int:
    """What counts against SNS's limit: the message, and the subject too, to be safe."""
    return len(args["Message"].encode()) + len(args["Subject"].encode("utf-8", "replace"))


class SnsPublisher:
    """Publishes alerts to the alerts topic with a text body for e-mail and JSON for machines."""

    def __init__(self, sns_client: Any, topic_arn: str):
        self._sns = sns_client
        self._topic_arn = topic_arn

    def __call__(self, alert: Alert, /, *, posted_to_slack: bool = False) -> str:
        args: dict[str, Any] = dict(sns_message(alert))
        if posted_to_slack:
            marker = {"DataType": "String", "StringValue": "true"}
            args["MessageAttributes"] = {**args.get("MessageAttributes", {}), POSTED_TO_SLACK: marker}
        response = self._sns.publish(TopicArn=self._topic_arn, **args)
        return str(response["MessageId"])
