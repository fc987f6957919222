"""From a CloudTrail event to at most one published alert."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from leash.actors import Actor, ActorCache, ActorConfig, ActorKind, TagLookup, classify_actor
from leash.alerts import Alert, severity_for, sns_message
from leash.catalog import CatalogAction, Impact, lookup
from leash.events import ApiCall, MalformedEvent, parse_event
from leash.lockdown import AutoLockdown

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
        return {"status": self.status, "reason": self.reason, "messageId": self.message_id,
                "alert": self.alert.to_dict() if self.alert else None}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Outcome:
        alert = record.get("alert")
        return cls(record["status"], record["reason"], Alert.from_dict(alert) if alert else None, record.get("messageId"))


def assess(call: ApiCall, actor: Actor, entry: CatalogAction | None) -> tuple[Alert | None, str]:
    """Decide whether a call deserves an alert and how bad it is; pure, no AWS calls."""
    if call.failed:
        return None, f"the call failed ({call.error_code}), nothing changed"
    if actor.kind in (ActorKind.LEASH, ActorKind.AWS_SERVICE):
        return None, f"made by {actor.kind} {actor.name}"
    if entry is None and actor.kind is not ActorKind.ROOT:
        return None, f"{call.action} is not in the catalog"
    if entry is not None and entry.impact is Impact.SENSITIVE and actor.kind not in (ActorKind.AGENT, ActorKind.ROOT):
        return None, f"{call.action} is sensitive only when an agent makes it"

    if entry is not None:
        impact, reasons = entry.assess(call)
        did, resource = entry.did, entry.resource_of(call)
        detail = entry.detail_of(call)
    else:
        impact, reasons = Impact.DESTRUCTIVE, ()
        did, resource, detail = f"called {call.action} on", _any_resource(call), ""
    severity = severity_for(impact, actor.kind)
    if severity is None:  # pragma: no cover - excluded above; kept as a guard for new actor kinds
        return None, f"no severity for {impact} by {actor.kind}"

    why = list(reasons)
    if impact is Impact.COVER_UP:
        why.append("covering tracks: audit or detection turned off")
    if actor.kind is ActorKind.ROOT:
        why.append("root activity: root cannot be restricted by IAM")
    elif actor.kind is ActorKind.AGENT:
        why.append("agent identity (" + "; ".join(actor.signals) + ")")
    elif actor.kind is ActorKind.EXEMPT:
        why.append("exempt principal: alert only, never remediated")

    alert = Alert(
        severity=severity,
        title=" ".join(part for part in (actor.label, did, resource, detail) if part),
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
    )
    return alert, f"{severity} {call.action} by {actor.kind}"


def _any_resource(call: ApiCall) -> str:
    for resource in call.resources:
        if resource.get("ARN"):
            return str(resource["ARN"])
    for value in call.request_parameters.values():
        if isinstance(value, str):
            return value
    return ""


Publish = Callable[[Alert], str]
"""Publishes an alert; returns the message id."""
Respond = Callable[[ApiCall, Actor, CatalogAction], Any]
"""Acts on a call whose catalog entry owns a protection; returns a leash.reapply.Remedy."""
Once = Callable[[str, Callable[[], Outcome]], tuple[Outcome, bool]]
"""Runs the work for an eventID once; returns (its outcome, whether this was a replay)."""


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
        request_lockdown: Callable[[Mapping[str, Any]], None] | None = None,
        actors: ActorCache | None = None,
    ):
        self._config = actor_config
        self._publish = publish
        self._tag_lookup = tag_lookup
        self._respond = respond
        self._once = once
        self._auto_lockdown = auto_lockdown
        self._request_lockdown = request_lockdown
        self._actors = actors  # many events by few identities (replay): classify each once; no tag lookups

    def handle(self, event: Mapping[str, Any]) -> Outcome:
        try:
            call = parse_event(event)
        except MalformedEvent as exc:
            return Outcome("rejected", str(exc))
        entry = lookup(call)
        if entry is not None and entry.protection and self._respond is None:
            # e.g. root's StopLogging also matches RootActivity: the reapply function owns that alert.
            return Outcome("ignored", f"{call.action} strips a protection: the reapply function handles it")
        # The Usage=Agent tag costs an IAM call: only look it up when the call matters.
        needs_tags = entry is not None and not call.failed
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

        def act() -> Outcome:
            final = alert
            if self._respond is not None and entry is not None and entry.protection:
                remedy = self._respond(call, actor, entry)
                if remedy.outcome == "not-applicable":
                    return Outcome("ignored", remedy.sentence)
                final = replace(alert, leash_did=(remedy.sentence,))
            if entry is not None and self._auto_lockdown and self._request_lockdown:
                request = self._auto_lockdown.request_for(call, actor, entry)
                if request is not None:
                    final = replace(final, leash_did=(*final.leash_did, self._lockdown(request)))
            return Outcome("published", reason, final, self._publish(final))

        outcome, replayed = self._once(call.event_id, act)
        if replayed and outcome.status == "published":
            return replace(outcome, status="duplicate")
        return outcome

    def _lockdown(self, request: Mapping[str, Any]) -> str:
        try:
            self._request_lockdown(request)
        except Exception as exc:  # noqa: BLE001 - the alert still goes out, saying the request failed
            return f"Leash could not request a lockdown of {request['principal']}: {exc}"
        return f"Leash requested a lockdown of {request['principal']} (the lockdown workflow notifies when done)."


class SnsPublisher:
    """Publishes alerts to the alerts topic with a text body for e-mail and JSON for machines."""

    def __init__(self, sns_client: Any, topic_arn: str):
        self._sns = sns_client
        self._topic_arn = topic_arn

    def __call__(self, alert: Alert) -> str:
        response = self._sns.publish(TopicArn=self._topic_arn, **sns_message(alert))
        return response["MessageId"]


def once_per_event(table_name: str, key_prefix: str, ttl_seconds: int = 86_400) -> tuple[Once, Any]:
    """Act on each CloudTrail eventID once (Powertools idempotency on DynamoDB, records expire after TTL).

    Returns the runner and the IdempotencyConfig (to register the Lambda context on).
    """
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    state: dict[str, Any] = {"work": None, "replayed": False}

    def mark_replayed(response: Any, _record: Any) -> Any:
        state["replayed"] = True
        return response

    config = IdempotencyConfig(
        event_key_jmespath="event_id", expires_after_seconds=ttl_seconds, response_hook=mark_replayed
    )
    store = DynamoDBPersistenceLayer(table_name=table_name)

    @idempotent_function(data_keyword_argument="call", persistence_store=store, config=config, key_prefix=key_prefix)
    def run(call: dict[str, str]) -> dict[str, Any]:
        return state["work"]().to_record()

    def once(event_id: str, work: Callable[[], Outcome]) -> tuple[Outcome, bool]:
        state["work"], state["replayed"] = work, False
        try:
            result = run(call={"event_id": event_id})
        except IdempotencyAlreadyInProgressError:
            # The same event is being handled right now by a concurrent delivery.
            return Outcome("ignored", "a concurrent delivery of this event is being handled"), True
        return Outcome.from_record(result), state["replayed"]

    return once, config
