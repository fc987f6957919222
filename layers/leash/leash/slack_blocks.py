"""Alerts as Slack Block Kit: the message, its facts, and the Lock down / Release / Acknowledge buttons."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from leash.alerts import Alert
from leash.fit import fit
from leash.model import ACKNOWLEDGE, LOCKDOWN, RELEASE, ActionKind, permission_set_of
from leash.render import (
    LOCKDOWN_APPLIED as LOCKDOWN_APPLIED,  # the workflow notice after which a Release button is offered
)
from leash.render import (
    clip,
    facts,
    leash_did_text,
    next_step,
    shows_leash_did,
    sso_guidance,
    why,
)

LOCKABLE_KINDS = ("agent", "human")


# Slack's limits: a header 150 characters, a section's text 3,000, its fields 10 of 2,000 each, a button's
# value 2,000, a message's text 40,000 (we keep the notification text short). Above the documented limits
# a webhook answers 400 invalid_blocks; messages whose blocks hold some 13,000 characters in all are
# refused as msg_blocks_too_long (slackapi/bolt-js#2509), so the whole payload stays under this:
SLACK_BLOCKS_CHARS = 12_000
BUTTON_VALUE_CHARS = 2000


def render_slack(alert: Alert, *, buttons: bool = True, now: datetime | None = None) -> dict[str, Any]:
    """Slack Block Kit payload for an incoming webhook, within Slack's limits (the alert clipped if need be).

    buttons: whether Slack can send the clicks anywhere (the interaction endpoint is deployed, i.e.
    SlackSigningSecretArn is set: leash.settings.slack_buttons); without it a button would only fail.
    """
    now = now or datetime.now(UTC)  # one `now` for every form fit() tries
    return fit(alert, lambda a: _render(a, buttons, now), _blocks_chars, SLACK_BLOCKS_CHARS)


def _blocks_chars(payload: dict[str, Any]) -> int:
    return len(json.dumps(payload["blocks"], ensure_ascii=False))


def _render(alert: Alert, buttons: bool, now: datetime) -> dict[str, Any]:
    header = f"{alert.severity.upper()}: {alert.title}"
    fields = [
        f"*{label}*\n{f'`{value}`' if label == 'Action' else value}" for label, value in facts(alert, now)
    ]
    fields.append(f"*Why {alert.severity}*\n{why(alert)}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(header, 150), "emoji": True}}
    ]
    if shows_leash_did(alert):  # first: "put back" means intent, not damage
        blocks.append(_section(f"*What Leash did*\n{leash_did_text(alert)}"))
    blocks.append(
        {"type": "section", "fields": [{"type": "mrkdwn", "text": clip(f, 2000)} for f in fields[:10]]}
    )
    step = next_step(alert)
    if step:
        blocks.append(_section(f"*Next step*: {step}"))
    guidance = sso_guidance(alert)
    if guidance:
        blocks.append(_section(guidance))
    if alert.event_id and alert.kind == "api-call":
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": clip(
                            f"{alert.severity.emoji} <{alert.console_url}|CloudTrail event {alert.event_id}> · {alert.actor.get('arn')}",
                            3000,
                        ),
                    }
                ],
            }
        )
    actions = action_buttons(alert) if buttons else None
    if actions:
        blocks.append(actions)
    return {"text": clip(f"{alert.severity.emoji} {header}", 3000), "blocks": blocks}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, 3000)}}


def lockable(alert: Alert) -> bool:
    """Whether Lock down is offered: an agent or a human that the workflow can lock (not root, another account,
    an AWS service, an IAM Identity Center permission set's role), and not already being locked down."""
    actor: Mapping[str, Any] = alert.actor
    if any(a.kind is ActionKind.LOCKDOWN_REQUESTED for a in alert.leash_did):
        return False
    if "lockable" in actor:  # alerts written since Leash says so (leash.actors.Actor.lockable)
        return actor["lockable"] is True
    return (  # an alert from before: the same rule from its fields
        actor.get("kind") in LOCKABLE_KINDS
        and actor.get("identityType") in ("AssumedRole", "IAMUser")
        and not permission_set_of(str(actor.get("roleArn") or ""))
    )


def button_value(principal: str, event_id: str, title: str, incident: str = "") -> str:
    """What a button carries back to Leash (Slack allows 2,000 characters); on an incident's parent, the
    incident too (Acknowledge marks it)."""
    value = {"principal": principal, "eventId": event_id, "title": title[:300]}
    if incident:
        value["incident"] = incident
    return json.dumps(value, separators=(",", ":"))


def action_buttons(alert: Alert) -> dict[str, Any] | None:
    """The actions block for an alert: lock down a lockable principal, acknowledge; release after a lockdown."""
    actor = alert.actor
    title = alert.title
    event_id = alert.event_id
    elements = []
    principal = actor.get("lockdownPrincipal") or ""
    if alert.kind == "workflow" and alert.notice == LOCKDOWN_APPLIED and principal:
        elements.append(release_button(principal, button_value(principal, event_id or title, title)))
    else:
        if lockable(alert):
            principal = actor.get("roleArn") or actor.get("arn") or ""
            name = actor.get("name") or principal.rsplit("/", 1)[-1]
            elements.append(
                button(
                    f"Lock down {name}",
                    LOCKDOWN,
                    button_value(principal, event_id, title),
                    "danger",
                    f"Deny everything to {name} and revoke its current sessions?",
                )
            )
        if event_id:
            elements.append(
                button("Acknowledge", ACKNOWLEDGE, button_value(actor.get("arn", ""), event_id, title))
            )
    # A button whose value Slack would refuse (only a forged, overlong principal) is left out, not the alert.
    elements = [e for e in elements if len(e["value"]) <= BUTTON_VALUE_CHARS]
    return {"type": "actions", "block_id": "leash_actions", "elements": elements} if elements else None


def release_button(principal: str, value: str) -> dict[str, Any]:
    """Release the lockdown of `principal` (the lockdown notice's button, and a locked incident's parent)."""
    return button(
        f"Release {principal.rsplit('/', 1)[-1]}",
        RELEASE,
        value,
        None,
        "Release the lockdown? Sessions issued before it stay revoked.",
    )


def button(
    text: str, action_id: str, value: str, style: str | None = None, confirm: str | None = None
) -> dict[str, Any]:
    """One Block Kit button; a confirm dialog when `confirm` says what the click will do."""
    made: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "value": value,
        "text": {"type": "plain_text", "text": text[:75], "emoji": True},
    }
    if style:
        made["style"] = style
    if confirm:
        made["confirm"] = {
            "title": {"type": "plain_text", "text": "Are you sure?"},
            "text": {"type": "plain_text", "text": confirm[:300]},
            "confirm": {"type": "plain_text", "text": text[:30]},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
    return made
