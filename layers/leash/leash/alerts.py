"""One alert, rendered for each channel: Slack Block Kit, plain text for e-mail, JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from leash.actors import ActorKind
from leash.catalog import Impact
from leash.interactions import action_buttons


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def emoji(self) -> str:
        return _EMOJI[self]


_RANK = {Severity.CRITICAL: 4, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1}
_EMOJI = {Severity.CRITICAL: ":rotating_light:", Severity.HIGH: ":red_circle:",
          Severity.MEDIUM: ":large_orange_circle:", Severity.LOW: ":large_blue_circle:"}


def severity_for(impact: Impact, actor: ActorKind) -> Severity | None:
    """SPEC's severity table: how bad, not how rare. None means: no alert."""
    if actor in (ActorKind.LEASH, ActorKind.AWS_SERVICE):
        return None
    if actor is ActorKind.ROOT or impact in (Impact.IRREVERSIBLE, Impact.COVER_UP):
        return Severity.CRITICAL
    if impact is Impact.DESTRUCTIVE:
        return {ActorKind.AGENT: Severity.HIGH, ActorKind.HUMAN: Severity.MEDIUM}.get(actor, Severity.LOW)
    return Severity.MEDIUM if actor is ActorKind.AGENT else Severity.LOW


@dataclass(frozen=True, slots=True)
class Alert:
    """What the on-call engineer reads: who, what, where, how bad, and what Leash already did."""

    severity: Severity
    title: str  # "agent ai-agent-deploy deleted DB instance prod-db"
    actor: Mapping[str, Any]  # Actor.to_dict()
    action: str  # "rds:DeleteDBInstance"
    resource: str
    account: str
    region: str
    time: str  # ISO-8601 UTC, as CloudTrail wrote it
    event_id: str
    reasons: tuple[str, ...] = ()  # why this severity
    leash_did: tuple[str, ...] = ()  # what Leash already did about it
    source_ip: str | None = None
    user_agent: str | None = None
    kind: str = "api-call"
    schema: int = field(default=1)

    @property
    def console_url(self) -> str:
        return (
            f"https://{self.region}.console.aws.amazon.com/cloudtrailv2/home"
            f"?region={self.region}#/events/{self.event_id}"
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = str(self.severity)
        data["actor"] = dict(self.actor)
        data["reasons"] = list(self.reasons)
        data["leash_did"] = list(self.leash_did)
        data["console_url"] = self.console_url
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["severity"] = Severity(fields["severity"])
        fields["reasons"] = tuple(fields.get("reasons") or ())
        fields["leash_did"] = tuple(fields.get("leash_did") or ())
        return cls(**fields)


def _what_leash_did(alert: Alert) -> str:
    return "\n".join(f"• {line}" for line in alert.leash_did) or "Nothing automatic: this alert is for a human to judge."


def _facts(alert: Alert) -> list[tuple[str, str]]:
    """The labelled facts an alert has; workflow notices and alarms leave most of them empty."""
    actor = alert.actor
    where = f"account {alert.account}, {alert.region}" if alert.account else alert.region
    facts = [("Who", str(actor.get("display") or "")), ("Action", alert.action if alert.kind == "api-call" else ""),
             ("Resource", alert.resource), ("Where", where), ("When", alert.time)]
    return [(label, value) for label, value in facts if value]


def render_text(alert: Alert) -> str:
    """Plain text for e-mail: readable top to bottom at 3 a.m."""
    lines = [f"[{alert.severity.upper()}] {alert.title}", ""]
    for label, value in _facts(alert):
        lines.append(f"{label + ':':10} {value}")
        if label == "Who" and alert.actor.get("arn"):
            lines.append(f"{'':10} {alert.actor['arn']}")
    if alert.reasons:
        lines.append(f"Why {alert.severity}: {'; '.join(alert.reasons)}")
    if alert.kind == "api-call" or alert.leash_did:
        lines += ["", "What Leash did:", _what_leash_did(alert)]
    if alert.event_id and alert.kind == "api-call":
        lines += ["", f"CloudTrail event {alert.event_id}:", alert.console_url]
    return "\n".join(lines) + "\n"


def subject(alert: Alert) -> str:
    """SNS subject: one line, under 100 characters."""
    text = f"[Leash {alert.severity.upper()}] {alert.title}"
    text = " ".join(text.split())
    return text if len(text) < 100 else text[:96] + "..."


def render_slack(alert: Alert) -> dict[str, Any]:
    """Slack Block Kit payload for an incoming webhook."""
    header = f"{alert.severity.upper()}: {alert.title}"
    fields = [f"*{label}*\n{f'`{value}`' if label == 'Action' else value}" for label, value in _facts(alert)]
    if alert.reasons:
        fields.append(f"*Why {alert.severity}*\n{'; '.join(alert.reasons)}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(header, 150), "emoji": True}}]
    if fields:
        blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": _clip(f, 2000)} for f in fields[:10]]})
    if alert.kind == "api-call" or alert.leash_did:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(
            f"*What Leash did*\n{_what_leash_did(alert)}", 3000)}})
    if alert.event_id and alert.kind == "api-call":
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"{alert.severity.emoji} <{alert.console_url}|CloudTrail event {alert.event_id}> · {alert.actor.get('arn')}"
        )}]})
    buttons = action_buttons(alert.to_dict())
    if buttons:
        blocks.append(buttons)
    return {"text": f"{alert.severity.emoji} {header}", "blocks": blocks}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sns_message(alert: Alert) -> dict[str, str]:
    """Publish arguments using SNS's per-protocol message structure."""
    machine = json.dumps(alert.to_dict(), separators=(",", ":"), sort_keys=True)
    text = render_text(alert)
    body = {"default": text, "email": text, "email-json": machine, "lambda": machine, "sqs": machine,
            "http": machine, "https": machine, "firehose": machine}
    return {"Subject": subject(alert), "Message": json.dumps(body), "MessageStructure": "json"}
