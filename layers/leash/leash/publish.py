"""Alerts onto the alerts topic: one SNS message per alert, text for e-mail and JSON for machines."""

from __future__ import annotations

import json
from typing import Any, Protocol

from leash.alerts import Alert
from leash.render import describe, render_text, subject


class Publish(Protocol):
    def __call__(self, alert: Alert, /) -> str:
        """Publish the alert; return the message id."""
        ...


def sns_message(alert: Alert) -> dict[str, str]:
    """Publish arguments using SNS's per-protocol message structure."""
    data = alert.to_dict()
    # Machines get the fields and, beside each action, the sentence an e-mail shows (never parsed back).
    data["leash_did"] = [{**action.to_dict(), "text": describe(action)} for action in alert.leash_did]
    machine = json.dumps(data, separators=(",", ":"), sort_keys=True)
    text = render_text(alert)
    body = {
        "default": text,
        "email": text,
        "email-json": machine,
        "lambda": machine,
        "sqs": machine,
        "http": machine,
        "https": machine,
        "firehose": machine,
    }
    return {"Subject": subject(alert), "Message": json.dumps(body), "MessageStructure": "json"}


class SnsPublisher:
    """Publishes alerts to the alerts topic with a text body for e-mail and JSON for machines."""

    def __init__(self, sns_client: Any, topic_arn: str):
        self._sns = sns_client
        self._topic_arn = topic_arn

    def __call__(self, alert: Alert) -> str:
        response = self._sns.publish(TopicArn=self._topic_arn, **sns_message(alert))
        return str(response["MessageId"])
