"""Put back a stripped protection in the event's own region, and record what happened as data."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from leash.actors import Actor, TagLookup, is_agent_role
from leash.aws import Clients
from leash.catalog import CatalogAction
from leash.events import ApiCall
from leash.model import AGENT_ROLE_PROTECTIONS, ActionKind, ActorKind, LeashAction, NotApplicable, Remedy
from leash.protections import PROTECTIONS, NothingToDo
from leash.render import describe
from leash.settings import ActorConfig, ReapplySettings


class RemedyLedger(Protocol):
    """Where the reapply step writes what it did, once per event and step (leash.ledger.Ledger)."""

    def record_once(self, entry: Mapping[str, Any], step: str, /) -> tuple[dict[str, Any], bool]: ...

    def recorded(self, event_id: str, step: str, /) -> dict[str, Any] | None: ...


class Reapplier:
    """The respond step of the reapply function (see leash.notify.Notifier).

    With a ledger, it acts once per event: the remedy is recorded under the event and the protection,
    and a retry of the handler (its publish failed) reads that record back instead of acting again, so
    the one alert reports what the first attempt did, not "nothing to do" from finding it done.
    """

    def __init__(
        self,
        clients: Clients,
        settings: ReapplySettings,
        actor_config: ActorConfig,
        *,
        tag_lookup: TagLookup | None = None,
        ledger: RemedyLedger | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._clients = clients
        self._settings = settings
        self._actor_config = actor_config
        self._tags = tag_lookup
        self._ledger = ledger
        self._clock = clock

    def __call__(self, call: ApiCall, actor: Actor, entry: CatalogAction) -> Remedy | NotApplicable:
        step = f"remedy#{entry.protection}"
        if self._ledger:
            earlier = self._ledger.recorded(call.event_id, step)
            if earlier is not None:
                return _remedy_of(earlier)
        remedy = self._decide(call, actor, entry)
        if self._ledger and isinstance(remedy, Remedy):
            stored, written = self._ledger.record_once({
                "eventId": call.event_id, "action": call.action, "region": call.region,
                "actor": actor.arn, "actorKind": str(actor.kind), "resource": entry.resource_of(call),
                "protection": remedy.protection, "outcome": str(remedy.outcome), "detail": describe(remedy.action),
                "remedy": remedy.action.to_dict(), "before": remedy.before, "after": remedy.after,
            }, step)  # fmt: skip
            if not written:  # a concurrent delivery of the same event recorded first: report what it did
                return _remedy_of(stored)
        return remedy

    def _decide(self, call: ApiCall, actor: Actor, entry: CatalogAction) -> Remedy | NotApplicable:
        protection = PROTECTIONS[entry.protection or ""]
        name = protection.name
        if name in AGENT_ROLE_PROTECTIONS:
            role = call.param("roleName") or ""
            if not is_agent_role(role, self._actor_config, self._tags):
                return NotApplicable(f"{role} is not an agent role")

        def remedy(kind: ActionKind, **fields: Any) -> Remedy:
            return Remedy(LeashAction(kind, protection=name, title=protection.title, **fields))

        if actor.kind is ActorKind.EXEMPT:
            return remedy(ActionKind.NOT_REMEDIATED)
        if actor.kind not in protection.remediates:
            return remedy(
                ActionKind.NOT_REMEDIATED, only_for=tuple(sorted(str(k) for k in protection.remediates))
            )
        if name in self._settings.alert_only:
            return remedy(ActionKind.ALERT_ONLY)
        try:
            fix = protection.reapply(self._clients, call, self._settings)
        except NothingToDo as reason:
            return remedy(ActionKind.NOTHING_TO_DO, reason=str(reason))
        except Exception as exc:  # noqa: BLE001 - every failure becomes part of the alert
            code, message = _error(exc)
            if code in protection.gone_errors:
                return remedy(ActionKind.RESOURCE_GONE, resource=entry.resource_of(call), code=code)
            return remedy(ActionKind.REAPPLY_FAILED, code=code, reason=message)
        seconds = max(0, round(self._clock() - call.time.timestamp()))
        done = LeashAction(
            ActionKind.REAPPLIED,
            protection=name,
            title=protection.title,
            resource=entry.resource_of(call),
            fix=fix.did,
            seconds=seconds,
        )
        return Remedy(done, fix.before, fix.after)


def _remedy_of(record: Mapping[str, Any]) -> Remedy:
    """The remedy a ledger record keeps (its `remedy` attribute: the action as data, never the sentence)."""
    return Remedy(
        LeashAction.from_dict(json.loads(record["remedy"])), record.get("before"), record.get("after")
    )


def _error(exc: Exception) -> tuple[str, str]:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping) and "Error" in response:
        error = response["Error"]
        return str(error.get("Code", type(exc).__name__)), str(error.get("Message", ""))[:300]
    return type(exc).__name__, str(exc)[:300]
