"""What arrives on the alerts topic, as Alerts: Leash's own alerts, workflow notices, CloudWatch alarms, anything else."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from leash.alerts import Alert
from leash.model import ActionKind, LeashAction, Severity


def alerts_from_sns(event: Mapping[str, Any]) -> list[Alert]:
    """The alerts in an SNS -> Lambda event: Leash's own JSON, a CloudWatch alarm, or anything else as text."""
    alerts = []
    for record in event.get("Records", []):
        sns = record.get("Sns", {})
        attributes = {
            k: str(v.get("Value", ""))
            for k, v in (sns.get("MessageAttributes") or {}).items()
            if isinstance(v, Mapping)
        }
        if attributes.get("workflow") in WORKFLOWS:
            alerts.append(workflow_alert(attributes, sns.get("Timestamp", "")))
        else:
            alerts.append(
                alert_from_sns_message(sns.get("Message", ""), sns.get("Subject"), sns.get("Timestamp", ""))
            )
    return alerts


def alert_from_sns_message(message: str, subject: str | None = None, timestamp: str = "") -> Alert:
    try:
        data = json.loads(message)
    except (TypeError, ValueError):
        data = None
    if isinstance(data, Mapping) and "severity" in data and "event_id" in data:
        return Alert.from_dict(data)
    if isinstance(data, Mapping) and "AlarmName" in data:
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
        title=subject or "Message on the Leash alerts topic",
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
