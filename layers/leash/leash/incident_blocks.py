"""An incident in Slack: the parent message's running summary, and the digest of the webhook fallback.

The summary says who, the human behind, how many calls by severity, what Leash put back, the lockdown
state and the last call; the parent keeps the Lock down / Acknowledge buttons (leash.slack_blocks builds
them from the last alert; the Acknowledge button here also names the incident). When the incident goes
quiet, the parent says it is closed and keeps its buttons: an agent that went quiet may still need locking
down, and the incident acknowledging. The buttons come from the incident's `parent_alert` (button_alert:
the few fields of the last alert they need), so closing re-reads no alert.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from leash.alerts import Alert
from leash.incidents import LOCKED_DOWN, REQUESTED, Incident, severities_text
from leash.model import ACKNOWLEDGE, LOCKDOWN, ActionKind, Severity
from leash.render import clip
from leash.slack_blocks import BUTTON_VALUE_CHARS, action_buttons, button, button_value, release_button


def clock(epoch: float) -> str:
    """'2026-11-22 21:04 UTC': how the summary says when."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def summary_lines(incident: Incident) -> list[tuple[str, str]]:
    """The summary's facts, in the order a responder reads them."""
    calls = f"{incident.alerts:,} ({severities_text(incident.counts)})"
    lines = [("Who", incident.label or incident.principal)]
    if incident.humans:
        lines.append(("Human behind", ", ".join(incident.humans[:5])))
    lines.append(("Calls", calls))
    put_back = incident.put_back
    if put_back:
        more = f" and {len(put_back) - 5} more" if len(put_back) > 5 else ""
        lines.append(("Leash put back", "; ".join(put_back[:5]) + more))
    else:
        lines.append(("Leash put back", "nothing"))
    lines.append(("Lockdown", incident.lockdown or "none"))
    lines.append(("Last call", f"{incident.last_severity} · {incident.last_title} · {clock(incident.last)}"))
    if incident.acknowledged_by:
        lines.append(("Acknowledged", incident.acknowledged_by))
    return lines


def _worst_emoji(incident: Incident) -> str:
    return incident.worst.emoji


def incident_value(incident: Incident, alert: Alert) -> str:
    """The Acknowledge button's value: the alert's fields and the incident it stands for."""
    return button_value(
        str(alert.actor.get("arn") or incident.principal),
        alert.event_id or incident.id,  # a workflow notice has none: the incident stands in
        alert.title,
        incident.id,
    )


def closed_note(incident: Incident) -> str:
    """What a closed incident's summary ends with."""
    return f"*Quiet since {clock(incident.last)}: closed.* A new call by this principal opens a new incident."


def parent_buttons(incident: Incident, alert: Alert) -> list[dict[str, Any]]:
    """What the parent offers: Lock down while no lockdown is asked for or done (if the principal can be
    locked), Release once it is locked down, Acknowledge until someone has (it marks the incident)."""
    offered = action_buttons(alert)
    lock = [e for e in (offered or {}).get("elements", []) if e["action_id"] == LOCKDOWN]
    elements = []
    if (
        incident.lockdown == LOCKED_DOWN
        and incident.principal.startswith("arn:")
        and ":iam::" in incident.principal
    ):
        value = button_value(incident.principal, alert.event_id or incident.id, alert.title)
        elements.append(release_button(incident.principal, value))
    elif incident.lockdown != REQUESTED:
        elements += lock
    if not incident.acknowledged_by:  # acknowledged: the summary says by whom, the button goes
        value = incident_value(incident, alert)
        if len(value) <= BUTTON_VALUE_CHARS:
            elements.append(button("Acknowledge", ACKNOWLEDGE, value))
    return [e for e in elements if len(e["value"]) <= BUTTON_VALUE_CHARS]


def render_parent(
    incident: Incident, alert: Alert | None, *, buttons: bool = True, closed: bool = False
) -> dict[str, Any]:
    """The parent message: the running summary, then the buttons (acknowledge marks the incident).

    alert: the last alert, whose buttons the parent offers (None: no buttons).
    buttons: whether Slack can send the clicks anywhere (leash.settings.slack_buttons), as for an alert.
    closed: the incident went quiet (the sweep's last update): the summary says so.
    """
    state = " (closed)" if closed else ""
    header = f"{incident.worst.upper()} incident{state}: {incident.label or incident.principal}"
    facts = "\n".join(f"*{label}*: {value}" for label, value in summary_lines(incident))
    if closed:
        facts = f"{facts}\n\n{closed_note(incident)}"
        when = f"{clock(incident.opened)} to {clock(incident.last)} · each call is a reply in this thread"
    else:
        when = f"since {clock(incident.opened)} · each call is a reply in this thread"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(header, 150), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(facts, 3000)}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": clip(f"{_worst_emoji(incident)} {when} · incident {incident.id}", 3000),
                }
            ],
        },
    ]
    elements = parent_buttons(incident, alert) if buttons and alert is not None else []
    if elements:
        blocks.append({"type": "actions", "block_id": "leash_actions", "elements": elements})
    text = f"{_worst_emoji(incident)} {header}: {incident.alerts} calls ({severities_text(incident.counts)})"
    return {"text": clip(text, 3000), "blocks": blocks}


BUTTON_ALERT_CHARS = 4000  # bounded: a few ARNs and a clipped title; larger, the closed parent has no buttons
_BUTTON_ACTOR = ("kind", "arn", "roleArn", "name", "identityType", "lockable", "lockdownPrincipal", "label")


def button_alert(alert: Alert) -> str:
    """The fields of an alert its buttons (leash.slack_blocks.action_buttons, incident_value) are made from,
    as JSON to keep on the incident; "" if they would not fit in BUTTON_ALERT_CHARS."""
    kept = Alert(
        severity=alert.severity,
        title=alert.title[:300],
        actor={k: alert.actor[k] for k in _BUTTON_ACTOR if k in alert.actor},
        action="",
        resource="",
        account="",
        region="",
        time="",
        event_id=alert.event_id,
        leash_did=tuple(a for a in alert.leash_did if a.kind is ActionKind.LOCKDOWN_REQUESTED),
        kind=alert.kind,
        notice=alert.notice,
    )
    data = {k: v for k, v in kept.to_dict().items() if v not in ("", [], None)}
    text = json.dumps(data, separators=(",", ":"))
    return text if len(text) <= BUTTON_ALERT_CHARS else ""


def alert_of_buttons(text: str) -> Alert | None:
    """The alert button_alert kept (None if none was, or it is unreadable: the parent then has no buttons)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        return Alert.from_dict(
            {"severity": str(Severity.LOW), "action": "", "resource": "", "account": "", "region": "",
             "time": "", "title": "", "event_id": "", "actor": {}, **data}
        )  # fmt: skip
    except (TypeError, ValueError, KeyError):
        return None


def render_digest(incident: Incident) -> dict[str, Any]:
    """The webhook fallback's one message when an incident goes quiet: the summary, no thread to open."""
    header = f"Digest: {incident.label or incident.principal}, quiet since {clock(incident.last)}"
    facts = "\n".join(f"*{label}*: {value}" for label, value in summary_lines(incident))
    alone = incident.webhook_posts
    note = (
        f"{incident.alerts - alone:,} of its {incident.alerts:,} calls were not posted one by one"
        " (no Slack bot token: Leash posts the first call and every critical, then this digest)."
    )
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(header, 150), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(facts, 3000)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(note, 3000)}]},
    ]
    return {"text": clip(f"{incident.worst.emoji} {header}", 3000), "blocks": blocks}


def opened_note(incident: Incident) -> dict[str, Any]:
    """The context line the webhook fallback adds under the first alert of an incident."""
    return {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": clip(
                    f"First call of incident {incident.id}. Later calls of it come as one digest when it is"
                    " quiet; criticals are posted at once.",
                    3000,
                ),
            }
        ],
    }
