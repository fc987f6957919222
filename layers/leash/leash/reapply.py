"""Put back a stripped protection in the event's own region, and say what happened."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from leash.actors import Actor, ActorConfig, ActorKind, TagLookup, is_agent_role
from leash.catalog import CatalogAction
from leash.events import ApiCall
from leash.protections import PROTECTIONS, TARGETS_AGENT_ROLES, Clients, NothingToDo, Settings


@dataclass(frozen=True, slots=True)
class Remedy:
    outcome: str  # reapplied | failed | gone | alert-only | not-remediated | nothing-to-do | not-applicable
    sentence: str  # the "What Leash did" line of the alert
    protection: str
    before: Any = None
    after: Any = None


def boto3_clients() -> Clients:
    """A client per (service, region), built on first use, with botocore's bounded retries and backoff."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": 5}, connect_timeout=5, read_timeout=15)
    cache: dict[tuple[str, str], Any] = {}

    def client(service: str, region: str) -> Any:
        if (service, region) not in cache:
            cache[(service, region)] = boto3.client(service, region_name=region, config=config)
        return cache[(service, region)]

    return client


class Reapplier:
    """The respond step of the reapply function (see leash.notify.Notifier)."""

    def __init__(
        self,
        clients: Clients,
        settings: Settings,
        actor_config: ActorConfig,
        *,
        tag_lookup: TagLookup | None = None,
        ledger: Callable[[Mapping[str, Any]], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._clients = clients
        self._settings = settings
        self._actor_config = actor_config
        self._tags = tag_lookup
        self._ledger = ledger
        self._clock = clock

    def __call__(self, call: ApiCall, actor: Actor, entry: CatalogAction) -> Remedy:
        remedy = self._decide(call, actor, entry)
        if self._ledger and remedy.outcome != "not-applicable":
            self._ledger({
                "eventId": call.event_id, "action": call.action, "region": call.region,
                "actor": actor.arn, "actorKind": str(actor.kind), "resource": entry.resource_of(call),
                "protection": remedy.protection, "outcome": remedy.outcome, "detail": remedy.sentence,
                "before": remedy.before, "after": remedy.after,
            })
        return remedy

    def _decide(self, call: ApiCall, actor: Actor, entry: CatalogAction) -> Remedy:
        protection = PROTECTIONS[entry.protection]
        name = protection.name
        if name in TARGETS_AGENT_ROLES:
            role = call.param("roleName") or ""
            if not is_agent_role(role, self._actor_config, self._tags):
                return Remedy("not-applicable", f"{role} is not an agent role", name)
        if actor.kind is ActorKind.EXEMPT:
            return Remedy("not-remediated", f"Exempt principal: Leash did not touch the {protection.title}.", name)
        if actor.kind not in protection.remediates:
            who = " and ".join(sorted(str(k) for k in protection.remediates))
            return Remedy("not-remediated", f"Leash reapplies the {protection.title} only for {who} calls.", name)
        if name in self._settings.alert_only:
            return Remedy("alert-only", f"Alert-only mode for {name}: Leash did not put it back "
                          "(remove it from AlertOnlyProtections to remediate).", name)
        try:
            fix = protection.reapply(self._clients, call, self._settings)
        except NothingToDo as reason:
            return Remedy("nothing-to-do", f"Nothing to put back: {reason}.", name)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the alert
            code, message = _error(exc)
            if code in protection.gone_errors:
                return Remedy("gone", f"{entry.resource_of(call)} no longer exists, so there was nothing to "
                              f"reapply ({code}).", name)
            return Remedy("failed", f"Leash could not put the {protection.title} back: {code}: {message}", name)
        seconds = max(0, round(self._clock() - call.time.timestamp()))
        return Remedy("reapplied", f"Leash {fix.did} {seconds} s later.", name, fix.before, fix.after)


def _error(exc: Exception) -> tuple[str, str]:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping) and "Error" in response:
        error = response["Error"]
        return str(error.get("Code", type(exc).__name__)), str(error.get("Message", ""))[:300]
    return type(exc).__name__, str(exc)[:300]
