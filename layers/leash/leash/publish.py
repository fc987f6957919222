"""Alerts onto the alerts topic: one SNS message per alert, JSON for machines and text for e-mail."""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from leash.alerts import POSTED_TO_SLACK, Alert
from leash.fit import SNS_MESSAGE_BYTES, fit
from leash.incidents import IncidentStore, principal_of
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


def message_attributes(alert: Alert, incident: str = "") -> dict[str, dict[str, str]]:
    """What subscription filter policies select on: severity, actor kind, principal, incident (README)."""
    attributes = {
        "severity": str(alert.severity),
        "actor_kind": str(alert.actor.get("kind") or "leash"),
        "principal": principal_of(alert)[:256],
        "alert_kind": alert.kind,
    }
    if incident:
        attributes["incident"] = incident
    return {name: {"DataType": "String", "StringValue": value} for name, value in attributes.items() if value}


class SnsPublisher:
    """Publishes alerts to the alerts topic with a text body for e-mail and JSON for machines.

    With an incident store, each alert first opens or joins its incident, whose id rides along as a
    message attribute (the Slack function threads by it).
    """

    def __init__(self, sns_client: Any, topic_arn: str, incidents: IncidentStore | None = None):
        self._sns = sns_client
        self._topic_arn = topic_arn
        self._incidents = incidents

    def __call__(self, alert: Alert, /, *, posted_to_slack: bool = False) -> str:
        """Publish one alert; posted_to_slack marks a second-path alert its sender already posted."""
        incident = ""
        if self._incidents is not None:
            try:
                incident = self._incidents.record(alert).id
            except Exception:  # the alert goes out regardless; Slack then opens the incident itself
                logging.getLogger(__name__).warning(
                    "could not record the incident of %s; published without one",
                    alert.event_id,
                    exc_info=True,
                )
        attributes = message_attributes(alert, incident)
        if posted_to_slack:
            attributes[POSTED_TO_SLACK] = {"DataType": "String", "StringValue": "true"}
        response = self._sns.publish(
            TopicArn=self._topic_arn, MessageAttributes=attributes, **sns_message(alert)
        )
        return str(response["MessageId"])
