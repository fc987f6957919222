"""Whether a call deserves an alert, and how bad it is: pure, no AWS calls."""

from __future__ import annotations

from leash.actors import Actor
from leash.alerts import Alert
from leash.catalog import CatalogAction
from leash.events import ApiCall
from leash.fit import names
from leash.model import ActorKind, Impact, Severity

# Another account is rated like an agent: Leash cannot see who is behind it, nor lock it down.
UNACCOUNTABLE = (ActorKind.AGENT, ActorKind.EXTERNAL)


def severity_for(impact: Impact, actor: ActorKind) -> Severity | None:
    """SPEC's severity table: how bad, not how rare. None means: no alert."""
    if actor in (ActorKind.LEASH, ActorKind.AWS_SERVICE):
        return None
    if actor is ActorKind.ROOT or impact in (Impact.IRREVERSIBLE, Impact.COVER_UP, Impact.TAMPER):
        return Severity.CRITICAL
    if impact is Impact.DESTRUCTIVE:
        if actor in UNACCOUNTABLE:
            return Severity.HIGH
        return Severity.MEDIUM if actor is ActorKind.HUMAN else Severity.LOW
    return Severity.MEDIUM if actor in UNACCOUNTABLE else Severity.LOW


def assess(call: ApiCall, actor: Actor, entry: CatalogAction | None) -> tuple[Alert | None, str]:
    """Decide whether a call deserves an alert and how bad it is; pure, no AWS calls."""
    if call.console_sign_in:
        return assess_sign_in(call, actor)
    if call.failed:
        return None, f"the call failed ({call.error_code}), nothing changed"
    if actor.kind in (ActorKind.LEASH, ActorKind.AWS_SERVICE):
        return None, f"made by {actor.kind} {actor.name}"
    if entry is None and actor.kind is not ActorKind.ROOT:
        return None, f"{call.action} is not in the catalog"
    if (
        entry is not None
        and entry.impact is Impact.SENSITIVE
        and actor.kind not in (*UNACCOUNTABLE, ActorKind.ROOT)
    ):
        return None, f"{call.action} is sensitive only when an agent or another account makes it"

    if entry is not None:
        impact, reasons = entry.assess(call)
        # The alert names a few; the ledger and the CloudTrail event keep every one.
        did, resource = entry.did_of(call), names(entry.resources_of(call))
        detail = entry.detail_of(call)
    else:
        impact, reasons = Impact.DESTRUCTIVE, ()
        did, resource, detail = f"called {call.action} on", _any_resource(call), ""
    severity = severity_for(impact, actor.kind)
    if severity is None:  # pragma: no cover - excluded above; kept as a guard for new actor kinds
        return None, f"no severity for {impact} by {actor.kind}"

    why = [*reasons, *severity_reasons(impact, actor)]
    title = " ".join(part for part in (actor.label, did, resource, detail) if part)
    return (
        _alert(call, actor, severity, title, resource, why, impact, second_path=impact is Impact.TAMPER),
        f"{severity} {call.action} by {actor.kind}",
    )


# Why a call has its severity, in words: what the call did by nature, then who made it (SPEC's table).
IMPACT_WHY = {
    Impact.TAMPER: "tampering with Leash itself: what watches the agents is being switched off or rewritten",
    Impact.IRREVERSIBLE: "irreversible: what it destroyed cannot be brought back",
    Impact.COVER_UP: "covering tracks: audit or detection turned off",
    Impact.DESTRUCTIVE: "destructive: something deleted or disabled that can be rebuilt",
    Impact.SENSITIVE: "a change of privilege, exposure or cost",
}


def severity_reasons(impact: Impact, actor: Actor) -> list[str]:
    """The severity explained for the on-call: the call's nature, and what the kind of caller adds."""
    worst = impact in (Impact.IRREVERSIBLE, Impact.COVER_UP, Impact.TAMPER)
    why = [IMPACT_WHY[impact]]
    match actor.kind:
        case ActorKind.ROOT:
            why.append("root activity: root cannot be restricted by IAM, so anything root does is critical")
        case ActorKind.AGENT:
            why.append("agent identity (" + "; ".join(actor.signals) + ")")
            if impact is Impact.SENSITIVE:
                why.append(
                    "alerted because an agent made it: no one reviewed it (a person's would not alert)"
                )
            elif not worst:
                why.append("an agent's call is rated a level above a person's: no one reviewed it")
        case ActorKind.EXTERNAL:
            why.append(
                f"another AWS account ({actor.name}), let in by a resource policy: Leash cannot lock it down"
            )
        case ActorKind.HUMAN if worst:
            why.append("made by a person: as critical as an agent's, the damage is the same")
        case ActorKind.HUMAN:
            why.append("made by a person, who is accountable and can be asked: a level below an agent's")
        case ActorKind.EXEMPT:
            why.append("exempt principal: alert only, never remediated")
    return why


def _alert(
    call: ApiCall,
    actor: Actor,
    severity: Severity,
    title: str,
    resource: str,
    why: list[str],
    impact: Impact | None = None,
    *,
    second_path: bool = False,
) -> Alert:
    """The alert about one call: who, what, where and why, as the call recorded them."""
    return Alert(
        severity=severity,
        title=title,
        actor=actor.to_dict(),
        action=call.action,
        resource=resource,
        account=call.account,
        region=call.region,
        time=call.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        event_id=call.event_id,
        reasons=tuple(why),
        source_ip=call.source_ip,
        user_agent=call.user_agent,
        impact=str(impact or ""),
        second_path=second_path,  # tampering: the sender also posts it straight to Slack
    )


def _any_resource(call: ApiCall) -> str:
    for resource in call.resources:
        if resource.get("ARN"):
            return str(resource["ARN"])
    for value in call.request_parameters.values():
        if isinstance(value, str):
            return value
    return ""


def assess_sign_in(call: ApiCall, actor: Actor) -> tuple[Alert | None, str]:
    """A console sign-in (signin:ConsoleLogin): root's is critical, and a failed one high; an agent identity's
    is high; anyone else's is none of Leash's business.

    A failed root sign-in opened nothing, but someone has the root user's email address and tried its password
    or MFA; it carries no errorCode, so the denied-call spike detector never counts it. An agent is automation:
    its credentials opening a browser session mean a person (or the agent) now acts as the agent, in the
    console, where no agent tooling sees it (a federation sign-in token, or an agent IAM user's password).
    """
    failed = call.failed
    if actor.kind is ActorKind.ROOT:
        severity = Severity.HIGH if failed else Severity.CRITICAL
        why = ["root activity: root cannot be restricted by IAM"]
        if failed:
            why.insert(0, "failed root sign-in: someone tried the root user's credentials")
    elif actor.kind is ActorKind.AGENT and not failed:
        severity = Severity.HIGH
        why = [
            "agent identity (" + "; ".join(actor.signals) + ")",
            "an agent's credentials opened a console session, outside the agent's tooling",
        ]
    else:
        outcome = "failed console sign-in" if failed else "console sign-in"
        return None, f"{outcome} by {actor.kind} {actor.name}: only root's and agents' sign-ins alert"
    if call.additional_event_data.get("MFAUsed") == "No" and not failed:
        why.append("signed in without MFA")
    login_to = call.additional_event_data.get("LoginTo")
    title = f"{actor.label} {'failed to sign in' if failed else 'signed in'} to the AWS console"
    # Where the sign-in led, without the query string (state tokens, nothing a reader needs).
    resource = login_to.split("?", 1)[0] if isinstance(login_to, str) else ""
    return _alert(call, actor, severity, title, resource, why), f"{severity} {call.action} by {actor.kind}"
