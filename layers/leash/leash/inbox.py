"""What arrives on the alerts topic, as Alerts: Leash's own alerts, workflow notices, CloudWatch alarms, anything else."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from leash.alerts import POSTED_TO_SLACK, Alert
from leash.model import ActionKind, LeashAction, Severity

SUBJECT_LIMIT = 100  # SNS refuses a longer Subject: a longer one is not from SNS


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def alerts_from_sns(event: Any, *, skip_posted_to_slack: bool = False) -> list[Alert]:
    """The alerts in an SNS -> Lambda event: Leash's own JSON, a CloudWatch alarm, or anything else as text.

    Total on any input: what is not shaped as SNS delivers it is skipped, and a message that only looks
    like Leash's (or an alarm's) is shown as the text it is, never trusted field by field. With
    skip_posted_to_slack, a message its sender already posted to Slack (leash.second_path) is left out.
    """
    return [alert for alert, _ in alerts_with_attributes(event, skip_posted_to_slack=skip_posted_to_slack)]


def alerts_with_attributes(
    event: Any, *, skip_posted_to_slack: bool = False
) -> list[tuple[Alert, dict[str, str]]]:
    """Each alert with its SNS message attributes (the incident it belongs to, among others)."""
    records = _object(event).get("Records")
    alerts = []
    for record in records if isinstance(records, list) else []:
        sns = _object(_object(record).get("Sns"))
        if not sns:
            continue
        attributes = {
            k: v["Value"]
            for k, v in _object(sns.get("MessageAttributes")).items()
            if isinstance(k, str) and isinstance(v, Mapping) and isinstance(v.get("Value"), str)
        }
        if skip_posted_to_slack and attributes.get(POSTED_TO_SLACK) == "true":
            continue
        timestamp = _text(sns.get("Timestamp"))
        if attributes.get("workflow") in WORKFLOWS:
            alerts.append((workflow_alert(attributes, timestamp), attributes))
        else:
            alert = alert_from_sns_message(sns.get("Message"), _text(sns.get("Subject")) or None, timestamp)
            alerts.append((alert, attributes))
    return alerts


def alert_from_sns_message(message: Any, subject: str | None = None, timestamp: str = "") -> Alert:
    try:
        data = json.loads(message)
    except (TypeError, ValueError, RecursionError):
        data = None
    if isinstance(data, Mapping) and "severity" in data and "event_id" in data:
        alert = _leash_alert(data)
        if alert is not None:
            return alert
    elif isinstance(data, Mapping) and "AlarmName" in data and isinstance(data["AlarmName"], str):
        arn = str(data.get("AlarmArn", ""))
        region = arn.split(":")[3] if arn.count(":") >= 5 else ""
        return Alert(
            severity=Severity.HIGH if data.get("NewStateValue") == "ALARM" else Severity.LOW,
            title=f"CloudWatch alarm {data['AlarmName']} is {data.get('NewStateValue', '?')}",
            actor={"display": "CloudWatch alarm", "arn": arn},
            action="cloudwatch:Alarm",
            resource=str(data["AlarmName"]),
            account=str(data.get("AWSAccountId", "")),
            region=region,
            time=str(data.get("StateChangeTime", timestamp)),
            event_id=arn,
            reasons=(str(data.get("NewStateReason", "")),) if data.get("NewStateReason") else (),
            leash_did=(LeashAction(ActionKind.NOTE, reason=str(data["AlarmDescription"])),)
            if data.get("AlarmDescription")
            else (),
            kind="alarm",
        )
    return Alert(
        severity=Severity.LOW,
        title=(subject or "")[:SUBJECT_LIMIT] or "Message on the Leash alerts topic",
        actor={"display": "SNS", "arn": ""},
        action="sns:Publish",
        resource="",
        account="",
        region="",
        time=timestamp,
        event_id="",
        reasons=(str(message)[:1000],),
        kind="message",
    )


_ALERT_TEXT = (
    "title", "action", "resource", "account", "region", "time", "event_id", "kind", "notice", "impact",
)  # fmt: skip
_ACTOR_VALUE = (str, bool, type(None))


def _leash_alert(data: Mapping[str, Any]) -> Alert | None:
    """An Alert from Leash's JSON, or None when a field has a type Leash never writes (forged or broken)."""
    if any(not isinstance(data.get(key, ""), str) for key in _ALERT_TEXT):
        return None
    if any(not isinstance(data.get(key), str | None) for key in ("source_ip", "user_agent")):
        return None
    actor, reasons, did = data.get("actor"), data.get("reasons", []), data.get("leash_did", [])
    if not isinstance(actor, Mapping) or not all(
        isinstance(v, _ACTOR_VALUE) or (isinstance(v, list) and all(isinstance(s, str) for s in v))
        for v in actor.values()
    ):
        return None
    for texts in (reasons, data.get("regions", [])):
        if not isinstance(texts, list) or not all(isinstance(r, str) for r in texts):
            return None
    if not isinstance(did, list) or not all(isinstance(a, str) or _leash_action(a) for a in did):
        return None
    try:
        return Alert.from_dict(data)
    except (KeyError, TypeError, ValueError):  # a missing field, an unknown severity or action kind
        return None


def _leash_action(data: Any) -> bool:
    """Whether a "What Leash did" entry has the types LeashAction holds."""
    if not isinstance(data, Mapping):
        return False
    seconds, only_for = data.get("seconds"), data.get("only_for", [])
    return (
        all(isinstance(v, str) for k, v in data.items() if k not in ("seconds", "only_for", "dry_run"))
        and (seconds is None or (isinstance(seconds, int) and not isinstance(seconds, bool)))
        and isinstance(data.get("dry_run", False), bool)
        and isinstance(only_for, list)
        and all(isinstance(kind, str) for kind in only_for)
    )


WORKFLOWS = ("lockdown", "release")


def workflow_alert(notice: Mapping[str, str], timestamp: str = "") -> Alert:
    """A notice of the lockdown or release workflow: the message attributes of its Notify state."""
    principal = notice.get("principal", "")
    try:
        severity = Severity(notice.get("severity", ""))
    except ValueError:
        severity = Severity.HIGH
    lines = (
        notice.get("detail", ""),
        notice.get("request", ""),
        f"Principal: {principal}",
        f"Execution: {notice.get('execution', '')}",
    )
    return Alert(
        severity=severity,
        title=notice.get("headline", ""),
        actor={"display": "", "arn": "", "lockdownPrincipal": principal},
        action="leash:Workflow",
        resource="",
        account="",
        region="",
        time=timestamp,
        event_id="",
        reasons=tuple(line for line in lines if line.strip()),
        kind="workflow",
        notice=notice.get("kind", ""),
    )
