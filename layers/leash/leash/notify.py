"""From a CloudTrail event to at most one published alert."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, Protocol

from leash.actors import Actor, ActorCache, TagLookup, classify_actor
from leash.alerts import Alert
from leash.assess import assess
from leash.catalog import CatalogAction, could_tamper, lookup
from leash.events import ApiCall, MalformedEvent, parse_event
from leash.fit import fit, json_size
from leash.itself import LeashResources
from leash.lockdown import AutoLockdown, RequestLockdown, request_lockdown
from leash.model import NotApplicable, Remedy
from leash.publish import Publish
from leash.settings import ActorConfig

RECORDED_ALERT_BYTES = 200_000  # of an idempotency record (DynamoDB's item limit: 400 KB)

Status = Literal["published", "duplicate", "ignored", "rejected"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the notify path did with one event, for the log line, the metric and the tests."""

    status: Status
    reason: str
    alert: Alert | None = None
    message_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The log line's fields."""
        return {
            "status": self.status,
            "reason": self.reason,
            "severity": str(self.alert.severity) if self.alert else None,
            "eventId": self.alert.event_id if self.alert else None,
            "messageId": self.message_id,
        }

    def to_record(self) -> dict[str, Any]:
        """Everything, as JSON-ready data (the idempotency store keeps it to answer a redelivery)."""
        return {
            "status": self.status,
            "reason": self.reason,
            "messageId": self.message_id,
            # DynamoDB holds 400 KB an item: the alert as SNS got it at most, never a hostile event's 300 KB field.
            "alert": fit(self.alert, Alert.to_dict, json_size, RECORDED_ALERT_BYTES) if self.alert else None,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Outcome:
        alert = record.get("alert")
        return cls(
            record["status"],
            record["reason"],
            Alert.from_dict(alert) if alert else None,
            record.get("messageId"),
        )


class Respond(Protocol):
    def __call__(self, call: ApiCall, actor: Actor, entry: CatalogAction, /) -> Remedy | NotApplicable:
        """Act on a call whose catalog entry owns a protection (leash.reapply.Reapplier)."""
        ...


class Once(Protocol):
    def __call__(self, event_id: str, work: Callable[[], Outcome], /) -> tuple[Outcome, bool]:
        """Run the work for an eventID once; return its outcome and whether this was a replay."""
        ...


def every_time(_event_id: str, work: Callable[[], Outcome]) -> tuple[Outcome, bool]:
    """No deduplication (the demo, replay and unit tests); Lambda handlers use `once_per_event`."""
    return work(), False


class Notifier:
    """The logic of Leash's event handlers, with their AWS dependencies passed in.

    The notify function has no `respond` step; the reapply function's puts the protection back
    (leash.reapply.Reapplier) before the one alert goes out.
    """

    def __init__(
        self,
        actor_config: ActorConfig,
        publish: Publish,
        tag_lookup: TagLookup | None = None,
        *,
        respond: Respond | None = None,
        once: Once = every_time,
        auto_lockdown: AutoLockdown | None = None,
        request_lockdown: RequestLockdown | None = None,
        actors: ActorCache | None = None,
        leash: Callable[[], LeashResources] | None = None,
    ):
        self._config = actor_config
        self._publish = publish
        self._tag_lookup = tag_lookup
        self._respond = respond
        self._once = once
        self._auto_lockdown = auto_lockdown
        self._request_lockdown = request_lockdown
        self._actors = actors  # many events by few identities (replay): classify each once; no tag lookups
        # Leash's own resources (leash.itself): looked up only for a call that could be tampering.
        self._leash = leash

    def handle(self, event: Mapping[str, Any], *, caught_late_at: datetime | None = None) -> Outcome:
        """At most one alert for the event. `caught_late_at`: when the reconciler read it from the trail's log
        file (leash.reconcile); an alert it publishes says how late, and that EventBridge never delivered it."""
        try:
            call = parse_event(event)
        except MalformedEvent as exc:
            return Outcome("rejected", str(exc))
        entry = lookup(call, self._leash() if self._leash and could_tamper(call) else None)
        if entry is not None and entry.protection and self._respond is None:
            # e.g. root's StopLogging also matches RootActivity: the reapply function owns that alert.
            return Outcome("ignored", f"{call.action} strips a protection: the reapply function handles it")
        if entry is not None and entry.leash_kind and not entry.protection and self._respond is not None:
            return Outcome("ignored", f"{call.action} tampers with Leash: the notify function handles it")
        # The Usage=Agent tag costs an IAM call: only look it up when the call matters.
        needs_tags = (entry is not None or call.console_sign_in) and not call.failed
        if self._actors is not None:
            actor = self._actors(call.user_identity, call.additional_event_data)
        else:
            actor = classify_actor(
                call.user_identity,
                self._config,
                additional_event_data=call.additional_event_data,
                tag_lookup=self._tag_lookup if needs_tags else None,
            )
        alert, reason = assess(call, actor, entry)
        if alert is None:
            return Outcome("ignored", reason)
        if caught_late_at is not None:
            alert = replace(
                alert, caught_late_seconds=max(0, int((caught_late_at - call.time).total_seconds()))
            )

        def act() -> Outcome:
            final = alert
            if self._respond is not None and entry is not None and entry.protection:
                remedy = self._respond(call, actor, entry)
                if isinstance(remedy, NotApplicable):
                    return Outcome("ignored", remedy.reason)
                final = replace(alert, leash_did=(remedy.action,))
            if entry is not None and self._auto_lockdown and self._request_lockdown:
                request = self._auto_lockdown.request_for(call, actor, entry)
                if request is not None:
                    action = request_lockdown(self._request_lockdown, request)
                    final = replace(final, leash_did=(*final.leash_did, action))
            return Outcome("published", reason, final, self._publish(final))

        outcome, replayed = self._once(call.event_id, act)
        if replayed and outcome.status == "published":
            return replace(outcome, status="duplicate")
        return outcome
