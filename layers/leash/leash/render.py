"""Alerts in words: the "What Leash did" sentences, plain text for e-mail, and the SNS subject.

The only place where what Leash did (leash.model.LeashAction) becomes a sentence: rewording an
alert changes this module and its tests, nothing else. Every renderer takes `now` (the time the
alert is sent) so that times read "14:03 UTC, 2 min ago"; tests pass a fixed one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, assert_never

from leash.alerts import Alert
from leash.model import ActionKind, Impact, LeashAction

LOCKDOWN_APPLIED = "lockdown-applied"  # the workflow notice (kind) after which a Release button is offered
SSO_REVOKE_DOC = (
    "https://docs.aws.amazon.com/singlesignon/latest/userguide/useraccess.html#revoke-user-permissions"
)


def after(seconds: int | None) -> str:
    """How long after the call Leash acted: "within a second of the call", "3 s after the call"."""
    if seconds is None:
        return ""
    if seconds < 1:
        return " within a second of the call"
    if seconds < 120:
        return f" {seconds} s after the call"
    return f" {seconds // 60} min after the call"


def describe(action: LeashAction) -> str:
    """One "What Leash did" line."""
    match action.kind:
        case ActionKind.REAPPLIED if action.dry_run:
            return f"would put back: {action.fix}"
        case ActionKind.REAPPLIED:
            return f"Leash {action.fix}{after(action.seconds)}."
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


def shows_leash_did(alert: Alert) -> bool:
    return alert.kind == "api-call" or bool(alert.leash_did)


# --- time in words --------------------------------------------------------------------------------


def _parse(stamp: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def ago(seconds: float) -> str:
    """ "just now", "2 min ago", "3 h 5 min ago", "2 days ago"; a time ahead of `now` says so."""
    if seconds < 0:
        return "ahead of this clock" if seconds < -60 else "just now"
    minutes = int(seconds // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min ago" if minutes else f"{hours} h ago"
    return f"{hours // 24} days ago"


def when(stamp: str, now: datetime | None = None) -> str:
    """A timestamp for a phone at 3 a.m.: "14:03 UTC, 2 min ago", or "Sun 22 Nov 21:04 UTC, 17 h ago" on
    another day; a stamp that is not a time is shown as it is."""
    moment = _parse(stamp)
    if moment is None:
        return stamp
    now = now or datetime.now(UTC)
    if moment.date() == now.date():
        day = ""
    elif moment.year == now.year:
        day = moment.strftime("%a %d %b ")
    else:
        day = moment.strftime("%a %d %b %Y ")
    return f"{day}{moment:%H:%M} UTC, {ago((now - moment).total_seconds())}"


# --- the facts, the why, the next step -------------------------------------------------------------


def where(alert: Alert) -> str:
    """ "account 111122223333, eu-west-1"; a spike's regions; nothing when the alert has neither."""
    regions = list(alert.regions) or ([alert.region] if alert.region else [])
    if len(regions) > 1:
        place = f"regions {', '.join(regions[:-1])} and {regions[-1]}"
    else:
        place = regions[0] if regions else ""
    return ", ".join(part for part in (f"account {alert.account}" if alert.account else "", place) if part)


def facts(alert: Alert, now: datetime | None = None) -> list[tuple[str, str]]:
    """The labelled facts an alert has; workflow notices and alarms leave most of them empty."""
    facts = [
        ("Who", str(alert.actor.get("display") or "")),
        ("Action", alert.action if alert.kind == "api-call" else ""),
        ("Resource", alert.resource),
        ("Where", where(alert)),
        ("When", when(alert.time, now) if alert.time else ""),
        ("Delivered", caught_late(alert)),
    ]
    return [(label, value) for label, value in facts if value.strip()]


def caught_late(alert: Alert) -> str:
    """How a call EventBridge never delivered reached Leash; empty for every other alert."""
    if alert.caught_late_seconds is None:
        return ""
    minutes = round(alert.caught_late_seconds / 60)
    after = f"{minutes} min" if minutes else f"{alert.caught_late_seconds} s"
    return f"from the trail's log file {after} after the call; EventBridge never delivered it"


_KIND_WHY = {
    "alarm": "a CloudWatch alarm on Leash's own health: while it fires, Leash may miss or delay alerts",
    "workflow": "what the lockdown or release workflow did to a principal",
    "message": "a message on the alerts topic that Leash did not write: read it, then find who published it",
}


def why(alert: Alert) -> str:
    """Why the alert has its severity; an alert whose sender gave no reasons is explained by its kind."""
    reasons = [r for r in alert.reasons if r.strip()]
    if alert.kind in _KIND_WHY:
        reasons.insert(0, _KIND_WHY[alert.kind])
    return "; ".join(reasons) or f"{alert.severity} by Leash's severity table (SPEC)"


_NEXT_BY_IMPACT = {
    Impact.TAMPER: (
        "check Leash is whole again (redeploy the stack with `sam deploy` to undo the change) and ask {person}"
        " why; if nobody meant it, {stop}"
    ),
    Impact.IRREVERSIBLE: (
        "find what is left to restore from (final snapshot, backups, object versions) before anything"
        " expires, and ask {person} why"
    ),
    Impact.COVER_UP: (
        "check the audit or detection is back on (What Leash did), then review in CloudTrail what {person}"
        " did while it was off"
    ),
    Impact.DESTRUCTIVE: ("ask {person} whether it was intended; if not, rebuild what was removed and {stop}"),
    Impact.SENSITIVE: (
        "review the change (privilege, exposure or cost) in the console with {person}; revert it if it"
        " was not planned"
    ),
}


def _person(actor: Mapping[str, Any]) -> str:
    return str(actor.get("person") or actor.get("label") or actor.get("name") or "the caller")


def _stop(actor: Mapping[str, Any]) -> str:
    if actor.get("permissionSet"):
        return "revoke the user's access in IAM Identity Center (see below)"
    return "lock the principal down"


def next_step(alert: Alert) -> str:
    """One next step for the on-call, by the kind of alert (and for a call, by its impact)."""
    actor = alert.actor
    person = _person(actor)
    if alert.kind == "spike":
        return (
            f"filter CloudTrail by {actor.get('name') or 'the principal'} for the window: a principal probing"
            f" its permissions is looking for a way out; if that was not a planned test, {_stop(actor)}"
        )
    if alert.kind == "workflow":
        if alert.notice == LOCKDOWN_APPLIED:
            return "investigate what the principal did; release it (button or the release workflow) once it is safe"
        return "open the execution in the Step Functions console for the details"
    if alert.kind == "alarm":
        return "open the alarm in CloudWatch and the function's logs; fix Leash before it misses an alert"
    if alert.kind != "api-call":
        return ""
    if alert.action == "signin:ConsoleLogin":
        if actor.get("kind") == "root":
            return (
                "confirm with whoever holds the root credentials that this was planned; if not, reset the"
                " root password, check its MFA devices and look for new access keys"
            )
        return (
            "find who opened a console session with the agent's credentials and end it; rotate the"
            " credentials if nobody owns up"
        )
    try:
        impact = Impact(alert.impact)
    except ValueError:
        return f"open the CloudTrail event and ask {person} what it was for"
    put_back = any(a.kind is ActionKind.REAPPLIED and not a.dry_run for a in alert.leash_did)
    if put_back and impact in (
        Impact.DESTRUCTIVE,
        Impact.SENSITIVE,
    ):  # the damage is undone: the intent is left
        return f"it is back as it was: ask {person} why it was changed; if nobody meant it, {_stop(actor)}"
    return _NEXT_BY_IMPACT[impact].format(person=person, stop=_stop(actor))


def sso_guidance(alert: Alert) -> str:
    """What to do in IAM Identity Center instead of a lockdown, for a call made through a permission set."""
    actor = alert.actor
    permission_set = actor.get("permissionSet")
    if not permission_set or alert.kind not in ("api-call", "spike"):
        return ""
    person = actor.get("person") or "the user"
    return (
        f"Lock down is not offered: {actor.get('name')} is the IAM Identity Center role of the permission set"
        f" {permission_set}, managed by AWS and shared by every user of the set. In IAM Identity Center:"
        f" remove {person}'s assignment of {permission_set} to account {alert.account} or disable the user,"
        f" and end their active sessions; the role session already issued stays valid until it expires"
        f" unless the permission set gets an inline Deny on the user's identitystore:userId (then"
        f" reprovision it). {SSO_REVOKE_DOC}"
    )


# --- the renderings -----------------------------------------------------------------------------


def render_text(alert: Alert, now: datetime | None = None) -> str:
    """Plain text for e-mail: readable top to bottom at 3 a.m., what Leash did first."""
    lines = [f"[{alert.severity.upper()}] {alert.title}", ""]
    if shows_leash_did(alert):
        lines += ["What Leash did:", leash_did_text(alert), ""]
    for label, value in facts(alert, now):
        lines.append(f"{label + ':':10} {value}")
        if label == "Who" and alert.actor.get("arn"):
            lines.append(f"{'':10} {alert.actor['arn']}")
    lines.append(f"Why {alert.severity}: {why(alert)}")
    step = next_step(alert)
    if step:
        lines.append(f"Next step: {step}")
    guidance = sso_guidance(alert)
    if guidance:
        lines += ["", guidance]
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
