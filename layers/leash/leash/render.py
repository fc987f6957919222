"""Alerts in words: the "What Leash did" sentences, plain text for e-mail, and the SNS subject.

The only place where what Leash did (leash.model.LeashAction) becomes a sentence: rewording an
alert changes this module and its tests, nothing else.
"""

from __future__ import annotations

from typing import assert_never

from leash.alerts import Alert
from leash.model import ActionKind, LeashAction


def describe(action: LeashAction) -> str:
    """One "What Leash did" line."""
    match action.kind:
        case ActionKind.REAPPLIED if action.dry_run:
            return f"would put back: {action.fix}"
        case ActionKind.REAPPLIED:
            return f"Leash {action.fix} {action.seconds} s later."
        case ActionKind.REAPPLY_FAILED:
            return f"Leash could not put the {action.title} back: {action.code}: {action.reason}"
        case ActionKind.RESOURCE_GONE:
            return f"{action.resource} no longer exists, so there was nothing to reapply ({action.code})."
        case ActionKind.ALERT_ONLY:
            return (
                f"Alert-only mode for {action.protection}: Leash did not put it back "
                "(remove it from AlertOnlyProtections to remediate)."
            )
        case ActionKind.NOT_REMEDIATED if not action.only_for:
            return f"Exempt principal: Leash did not touch the {action.title}."
        case ActionKind.NOT_REMEDIATED:
            return f"Leash reapplies the {action.title} only for {' and '.join(action.only_for)} calls."
        case ActionKind.NOTHING_TO_DO:
            return f"Nothing to put back: {action.reason}."
        case ActionKind.LOCKDOWN_REQUESTED if action.dry_run:
            return f"would request a lockdown of {action.principal}"
        case ActionKind.LOCKDOWN_REQUESTED:
            return f"Leash requested a lockdown of {action.principal} (the lockdown workflow notifies when done)."
        case ActionKind.LOCKDOWN_REQUEST_FAILED:
            return f"Leash could not request a lockdown of {action.principal}: {action.reason}"
        case ActionKind.NOTE:
            return action.reason  # written at deploy time (a CloudWatch alarm's description), shown as it is
        case unknown:
            assert_never(unknown)


def what_leash_did(alert: Alert) -> list[str]:
    """The alert's "What Leash did" lines, in order."""
    return [describe(action) for action in alert.leash_did]


def leash_did_text(alert: Alert) -> str:
    lines = what_leash_did(alert)
    return (
        "\n".join(f"• {line}" for line in lines) or "Nothing automatic: this alert is for a human to judge."
    )


def facts(alert: Alert) -> list[tuple[str, str]]:
    """The labelled facts an alert has; workflow notices and alarms leave most of them empty."""
    actor = alert.actor
    where = f"account {alert.account}, {alert.region}" if alert.account else alert.region
    facts = [
        ("Who", str(actor.get("display") or "")),
        ("Action", alert.action if alert.kind == "api-call" else ""),
        ("Resource", alert.resource),
        ("Where", where),
        ("When", alert.time),
        ("Delivered", caught_late(alert)),
    ]
    return [(label, value) for label, value in facts if value]


def caught_late(alert: Alert) -> str:
    """How a call EventBridge never delivered reached Leash; empty for every other alert."""
    if alert.caught_late_seconds is None:
        return ""
    minutes = round(alert.caught_late_seconds / 60)
    after = f"{minutes} min" if minutes else f"{alert.caught_late_seconds} s"
    return f"from the trail's log file {after} after the call; EventBridge never delivered it"


def render_text(alert: Alert) -> str:
    """Plain text for e-mail: readable top to bottom at 3 a.m."""
    lines = [f"[{alert.severity.upper()}] {alert.title}", ""]
    for label, value in facts(alert):
        lines.append(f"{label + ':':10} {value}")
        if label == "Who" and alert.actor.get("arn"):
            lines.append(f"{'':10} {alert.actor['arn']}")
    if alert.reasons:
        lines.append(f"Why {alert.severity}: {'; '.join(alert.reasons)}")
    if alert.kind == "api-call" or alert.leash_did:
        lines += ["", "What Leash did:", leash_did_text(alert)]
    if alert.event_id and alert.kind == "api-call":
        lines += ["", f"CloudTrail event {alert.event_id}:", alert.console_url]
    return "\n".join(lines) + "\n"


def subject(alert: Alert) -> str:
    """SNS subject: one printable line, under 100 characters (SNS's limit)."""
    text = f"[Leash {alert.severity.upper()}] {alert.title}"
    # SNS refuses line breaks and control characters in a subject; a lone surrogate would not encode.
    text = "".join(ch for ch in " ".join(text.split()) if ch.isprintable())
    return text if len(text) < 100 else text[:96] + "..."


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
