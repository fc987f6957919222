"""When Leash asks for a lockdown by itself, and the request it puts on its own event bus."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from leash.actors import Actor
from leash.catalog import CatalogAction
from leash.claims import Claims
from leash.events import ApiCall
from leash.model import AGENT_ROLE_PROTECTIONS, ActionKind, LeashAction
from leash.settings import LockdownSettings

SOURCE = "leash"
DETAIL_TYPE = "Leash Lockdown Requested"


@dataclass(frozen=True)
class AutoLockdown:
    """Deploy-time policy: who gets locked down automatically (AutoLockdown parameter) and what Leash is."""

    settings: LockdownSettings = field(default_factory=LockdownSettings)

    def request_for(self, call: ApiCall, actor: Actor, entry: CatalogAction) -> dict[str, Any] | None:
        """The lockdown request this call deserves, or None."""
        if actor.kind not in self.settings.kinds or not actor.lockable:
            return None
        reason = self._why(call, actor, entry)
        if reason is None:
            return None
        return {
            "requestId": call.event_id,  # one request per triggering call, however often it is handled
            "principal": actor.arn,
            "reason": f"{actor.label} {reason}",
            "requestedBy": "leash",
            "trigger": f"auto:{call.action}",
            "evidence": {
                "eventId": call.event_id,
                "action": call.action,
                "resource": entry.resource_of(call),
                "region": call.region,
                "time": call.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }

    def _why(self, call: ApiCall, actor: Actor, entry: CatalogAction) -> str | None:
        # Tampering with Leash is a class with lockdown (leash.catalog.TAMPER), decided by Leash's own resources.
        if entry.lockdown:
            return f"{entry.did} {entry.resource_of(call)}".strip()
        if entry.protection in AGENT_ROLE_PROTECTIONS and call.param("roleName") == actor.name:
            return f"{entry.did} {actor.name}: its own guardrail"
        return None


class RequestLockdown(Protocol):
    def __call__(self, request: Mapping[str, Any], /) -> None:
        """Ask the lockdown workflow to lock a principal down (leash.lockdown.EventBusRequester)."""
        ...


def request_lockdown(requester: RequestLockdown, request: Mapping[str, Any]) -> LeashAction:
    """Ask for the lockdown; what happened, as the alert's action (a failed request never loses the alert)."""
    principal = str(request["principal"])
    try:
        requester(request)
    except Exception as exc:  # noqa: BLE001 - the alert still goes out, saying the request failed
        return LeashAction(ActionKind.LOCKDOWN_REQUEST_FAILED, principal=principal, reason=str(exc))
    return LeashAction(ActionKind.LOCKDOWN_REQUESTED, principal=principal)


class EventBusRequester:
    """Puts lockdown requests on Leash's own bus (its resource policy admits only Leash's roles).

    A request with a `requestId` is put once: the id is claimed first (`claims`), and released if
    EventBridge refuses the request, so that a retried handler asks again only when the first ask
    failed. EventBridge cannot deduplicate for Leash: the rule that starts the workflow gets a new
    event every time, and cannot name the execution after the request.
    """

    def __init__(self, events_client: Callable[[], Any], bus_name: str, *, claims: Claims | None = None):
        self._new_client = events_client  # a factory: built on the first request, not at cold start
        self._events: Any = None
        self._bus = bus_name
        self._claims = claims

    def __call__(self, request: Mapping[str, Any]) -> None:
        claims = self._claims if request.get("requestId") else None
        key = f"lockdown-request#{request.get('requestId')}"
        if claims is not None and not claims.claim(key):
            return  # asked already (a retried handler, a redelivered batch): the workflow is on its way
        try:
            self._put(request)
        except Exception:
            if claims is not None:
                claims.release(key)  # the retry asks again
            raise

    def _put(self, request: Mapping[str, Any]) -> None:
        self._events = self._events or self._new_client()
        response = self._events.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": DETAIL_TYPE,
                    "EventBusName": self._bus,
                    "Detail": json.dumps(request),
                }
            ]
        )
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            raise RuntimeError(
                f"lockdown request refused by EventBridge: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
            )
