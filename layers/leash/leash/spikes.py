"""Spikes: AccessDenied per principal, and call volume per agent, counted in windows.

A batch of SQS records is aggregated per (principal, counter, window) in memory; then each
group costs one atomic DynamoDB `ADD`. Crossing a level (warning, critical) alerts once per
principal, level and window, guarded by a conditional write; crossing critical can request a
lockdown.
"""

from __future__ import annotations

import re
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leash.actors import Actor, ActorCache, ActorConfig, ActorKind, TagLookup
from leash.alerts import Alert, Severity
from leash.events import ApiCall, parse_event

# The errorCode spellings of a denied call across services (EC2's Client.* form included).
DENIED_CODES = ("AccessDenied", "AccessDeniedException", "Client.UnauthorizedOperation", "UnauthorizedOperation",
                "AuthorizationError", "AuthorizationErrorException", "UnauthorizedAccess", "UnauthorizedException",
                "Client.UnauthorizedAccess", "Forbidden", "ForbiddenException", "NotAuthorized")
DENIED = "denied"
CALLS = "calls"
LEVELS = ("warning", "critical")
_RESOURCE_IN_MESSAGE = re.compile(r"on resource:? ?(\S+?)(?: because|[,.;]?\s|[,.;]?$)")
_TOP = 20  # distinct actions/resources kept per group and batch; the rest count as "other"


def is_denied(error_code: str | None) -> bool:
    return bool(error_code) and (error_code in DENIED_CODES or "AccessDenied" in error_code
                                 or "Unauthorized" in error_code)


@dataclass(frozen=True)
class Thresholds:
    """Warning and critical counts per window, for one counter and one kind of principal."""

    warning: int
    critical: int

    @classmethod
    def parse(cls, text: str) -> Thresholds:
        try:
            warning, critical = (int(v) for v in text.split(","))
        except ValueError as exc:
            raise ValueError(f"thresholds must be 'warning,critical' integers, got {text!r}") from exc
        if not 0 < warning <= critical:
            raise ValueError(f"thresholds need 0 < warning <= critical, got {text!r}")
        return cls(warning, critical)


@dataclass(frozen=True)
class SpikeConfig:
    window_seconds: int = 300
    denied_agent: Thresholds = Thresholds(10, 50)
    denied_human: Thresholds = Thresholds(30, 200)
    denied_other: Thresholds = Thresholds(50, 500)
    calls_agent: Thresholds = Thresholds(500, 2000)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SpikeConfig:
        d = cls()
        return cls(
            window_seconds=int(env.get("LEASH_SPIKE_WINDOW_MINUTES", d.window_seconds // 60)) * 60,
            denied_agent=Thresholds.parse(env.get("LEASH_DENIED_THRESHOLDS_AGENT", "10,50")),
            denied_human=Thresholds.parse(env.get("LEASH_DENIED_THRESHOLDS_HUMAN", "30,200")),
            denied_other=Thresholds.parse(env.get("LEASH_DENIED_THRESHOLDS_OTHER", "50,500")),
            calls_agent=Thresholds.parse(env.get("LEASH_AGENT_CALL_THRESHOLDS", "500,2000")),
        )

    def thresholds(self, counter: str, kind: ActorKind) -> Thresholds:
        if counter == CALLS:
            return self.calls_agent
        return {ActorKind.AGENT: self.denied_agent, ActorKind.HUMAN: self.denied_human}.get(kind, self.denied_other)


@dataclass
class Group:
    """One principal's calls in one window, within one batch: both counters, one DynamoDB item."""

    actor: Actor  # the first session seen; `principal` is what is counted
    principal: str
    window_start: int
    counts: Counter = field(default_factory=Counter)  # denied / calls
    actions: dict[str, Counter] = field(default_factory=lambda: {DENIED: Counter(), CALLS: Counter()})
    resources: dict[str, Counter] = field(default_factory=lambda: {DENIED: Counter(), CALLS: Counter()})
    message_ids: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.principal}#{self.window_start}"


def _principal_key(actor: Actor) -> str:
    """Count an assumed role's sessions together: an agent that re-assumes its role is still the same agent."""
    return actor.role_arn or actor.arn


def short_resource(arn: str) -> str:
    """How an alert names a resource: the bucket of an S3 object, "role/admin", "prod/db" for a secret."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return arn
    resource = parts[5].rsplit(":", 1)[-1] if parts[2] == "secretsmanager" else parts[5]
    return resource.split("/", 1)[0] if parts[2] == "s3" else resource


def _resource_of(call: ApiCall) -> str | None:
    match = _RESOURCE_IN_MESSAGE.search(call.error_message or "")
    if match:
        return short_resource(match.group(1))
    for resource in call.resources:
        if resource.get("ARN"):
            return short_resource(str(resource["ARN"]))
    return None


class BatchAggregator:
    """Folds a batch of EventBridge events into groups; AWS services and Leash itself are never counted."""

    def __init__(self, actor_config: ActorConfig, config: SpikeConfig, tag_lookup: TagLookup | None = None,
                 *, keep_message_ids: bool = True):
        self._actor_config = actor_config
        self._config = config
        self._tags = tag_lookup
        self._keep_message_ids = keep_message_ids  # a batch reports its failures by them; replay needs none
        self._classify = ActorCache(actor_config, tag_lookup)  # a batch is mostly a few principals
        self.groups: dict[tuple[str, int], Group] = {}
        self.newest_window = 0  # start of the latest window a counted call fell in (epoch seconds)
        self.counted: Counter = Counter()  # (counter, actor kind) -> calls, for metrics

    def add(self, event: Mapping[str, Any], message_id: str) -> None:
        """Count one event; raises MalformedEvent for a record that is not a CloudTrail call."""
        call = parse_event(event)
        actor = self._classify(call.user_identity, call.additional_event_data)
        if actor.kind in (ActorKind.AWS_SERVICE, ActorKind.LEASH):
            return
        counters = ([DENIED] if is_denied(call.error_code) else []) + ([CALLS] if actor.kind is ActorKind.AGENT else [])
        if not counters:
            return
        window = int(call.time.timestamp()) // self._config.window_seconds * self._config.window_seconds
        self.newest_window = max(self.newest_window, window)
        key = (_principal_key(actor), window)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(actor, key[0], window)
        resource = _resource_of(call)
        for counter in counters:
            group.counts[counter] += 1
            group.actions[counter][call.action] += 1
            if resource:
                group.resources[counter][resource] += 1
            self.counted[(counter, str(actor.kind))] += 1
        if self._keep_message_ids:
            group.message_ids.append(message_id)


@dataclass(frozen=True)
class Crossing:
    """A counter of a principal's window crossed a level for the first time."""

    group: Group
    counter: str
    level: str
    total: int
    top_actions: list[tuple[str, int]]
    top_resources: list[tuple[str, int]]
    threshold: int


class CounterStore:
    """Windowed counters in DynamoDB: one atomic ADD per principal and batch, a conditional write per level crossed."""

    def __init__(self, dynamodb_client: Any, table_name: str, ttl_seconds: int = 86_400):
        self._ddb = dynamodb_client
        self._table = table_name
        self._ttl = ttl_seconds
        self.writes = 0

    def add(self, group: Group, window_seconds: int) -> dict[str, Any]:
        """Add the group's counts; returns the window's totals after the update."""
        names: dict[str, str] = {"#expires": "expiresAt", "#principal": "principal", "#kind": "actorKind"}
        values: dict[str, Any] = {":expires": {"N": str(group.window_start + window_seconds + self._ttl)},
                                  ":principal": {"S": group.principal}, ":kind": {"S": str(group.actor.kind)}}
        adds = []
        for counter, n in group.counts.items():
            names[f"#{counter}"], values[f":{counter}"] = counter, {"N": str(n)}
            adds.append(f"#{counter} :{counter}")
            for kind, counts in (("a", group.actions[counter]), ("r", group.resources[counter])):
                top = counts.most_common(_TOP)
                other = sum(counts.values()) - sum(c for _, c in top)
                for i, (name, c) in enumerate([*top, *([("(other)", other)] if other else [])]):
                    alias = f"{counter[0]}{kind}{i}"
                    names[f"#{alias}"], values[f":{alias}"] = f"{counter}:{kind}:{name}", {"N": str(c)}
                    adds.append(f"#{alias} :{alias}")
        self.writes += 1
        response = self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": group.key}},
            UpdateExpression="ADD " + ", ".join(adds) + " SET #expires = :expires, #principal = :principal, "
                             "#kind = :kind",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return response["Attributes"]

    def claim(self, group: Group, counter: str, level: str) -> bool:
        """Mark the level as alerted for this window; False when another batch already did."""
        from botocore.exceptions import ClientError

        try:
            self._ddb.update_item(
                TableName=self._table, Key={"pk": {"S": group.key}},
                UpdateExpression="SET #flag = :true", ConditionExpression="attribute_not_exists(#flag)",
                ExpressionAttributeNames={"#flag": f"alerted:{counter}:{level}"},
                ExpressionAttributeValues={":true": {"BOOL": True}})
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, group: Group, counter: str, level: str) -> None:
        self._ddb.update_item(TableName=self._table, Key={"pk": {"S": group.key}}, UpdateExpression="REMOVE #flag",
                              ExpressionAttributeNames={"#flag": f"alerted:{counter}:{level}"})


def crossings(group: Group, item: Mapping[str, Any], config: SpikeConfig) -> list[Crossing]:
    """Levels this batch pushed a window's total over (before < threshold <= after), per counter."""
    out = []
    for counter, added in group.counts.items():
        total = int(item[counter]["N"])
        before = total - added

        def top(kind: str) -> list[tuple[str, int]]:
            prefix = f"{counter}:{kind}:"
            found = ((k[len(prefix):], int(v["N"])) for k, v in item.items()
                     if k.startswith(prefix) and k != f"{prefix}(other)")
            return sorted(found, key=lambda kv: (-kv[1], kv[0]))[:5]

        thresholds = config.thresholds(counter, group.actor.kind)
        for level, threshold in (("warning", thresholds.warning), ("critical", thresholds.critical)):
            if before < threshold <= total:
                out.append(Crossing(group, counter, level, total, top("a"), top("r"), threshold))
    return out


def spike_alert(crossing: Crossing, window_seconds: int) -> Alert:
    """'agent ai-agent-deploy: 137 denied calls in 5 min: iam:PassRole ×60, s3:GetObject ×40 on prod-backups'"""
    group, actor = crossing.group, crossing.group.actor
    minutes = window_seconds // 60
    what = "denied calls" if crossing.counter == DENIED else "calls"
    actions = ", ".join(f"{a} ×{n}" for a, n in crossing.top_actions)
    resources = ", ".join(f"{r} ×{n}" for r, n in crossing.top_resources)
    detail = actions + (f" on {resources}" if resources else "")
    agentish = actor.kind is ActorKind.AGENT
    severity = (Severity.CRITICAL if agentish else Severity.HIGH) if crossing.level == "critical" else (
        Severity.HIGH if agentish else Severity.MEDIUM)
    window = datetime.fromtimestamp(group.window_start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kind = "AccessDenied spike" if crossing.counter == DENIED else "call volume spike"
    return Alert(
        severity=severity,
        title=f"{actor.label}: {crossing.total} {what} in {minutes} min: {detail}",
        actor=actor.to_dict(),
        action=f"leash:{'AccessDeniedSpike' if crossing.counter == DENIED else 'CallVolumeSpike'}",
        resource=crossing.top_resources[0][0] if crossing.top_resources else "",
        account=actor.account,
        region="",
        time=window,
        event_id=f"spike#{group.key}#{crossing.counter}#{crossing.level}",
        reasons=(f"{kind}: {crossing.level} level ({crossing.threshold} {what} per {minutes} min for "
                 f"{actor.kind} principals) crossed in the window starting {window}",),
        kind="spike",
    )


def lockdown_for_spike(crossing: Crossing, window_seconds: int, eligible: Iterable[ActorKind]) -> dict[str, Any] | None:
    """The lockdown request for a critical spike, for the kinds of principal AutoLockdown covers."""
    actor = crossing.group.actor
    # Denials only: a prober is also a high-volume caller, and one burst must not ask twice.
    if crossing.counter != DENIED or crossing.level != "critical" or actor.kind not in set(eligible) \
            or not actor.lockable:
        return None
    alert = spike_alert(crossing, window_seconds)
    return {
        "principal": crossing.group.principal,
        "reason": alert.title,
        "requestedBy": "leash",
        "trigger": f"auto:spike:{crossing.counter}",
        "evidence": {"counter": crossing.counter, "total": crossing.total, "windowStart": alert.time,
                     "topActions": dict(crossing.top_actions), "topResources": dict(crossing.top_resources)},
    }


@dataclass
class BatchResult:
    """What one batch did: the Lambda response and the numbers for the log line and the metrics."""

    response: dict[str, Any]
    counted: Counter
    groups: int
    writes: int
    alerts: list[Alert]
    lockdowns: list[dict[str, Any]]


class SpikeConsumer:
    """The spikes function's logic: aggregate a batch, one counter write per group, alert on crossings."""

    def __init__(
        self,
        actor_config: ActorConfig,
        config: SpikeConfig,
        store: CounterStore,
        publish: Callable[[Alert], str],
        *,
        tag_lookup: TagLookup | None = None,
        lockdown_kinds: Iterable[ActorKind] = (ActorKind.AGENT,),
        request_lockdown: Callable[[Mapping[str, Any]], None] | None = None,
    ):
        self._actor_config = actor_config
        self._config = config
        self._store = store
        self._publish = publish
        self._tags = tag_lookup
        self._lockdown_kinds = frozenset(lockdown_kinds)
        self._request_lockdown = request_lockdown
        self.errors: list[str] = []  # the last batch's group failures, for the log

    def handle(self, event: Mapping[str, Any]) -> BatchResult:
        import json

        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

        self.errors = []
        aggregator = BatchAggregator(self._actor_config, self._config, self._tags)
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

        def count(record: Any) -> None:
            aggregator.add(json.loads(record.body), record.message_id)

        with processor(records=list(event.get("Records", [])), handler=count):
            processor.process()
        response = processor.response()
        writes_before = self._store.writes
        alerts, lockdowns = [], []
        for group in aggregator.groups.values():
            try:
                item = self._store.add(group, self._config.window_seconds)
                for crossing in crossings(group, item, self._config):
                    if self._store.claim(group, crossing.counter, crossing.level):
                        try:
                            alert, request = self._alert(crossing)
                        except Exception:
                            # Never lose the alert: the redelivered records cross the level again.
                            self._store.release(group, crossing.counter, crossing.level)
                            raise
                        alerts.append(alert)
                        if request:
                            lockdowns.append(request)
            except Exception:  # noqa: BLE001 - SQS redelivers exactly this group's records
                self.errors.append(traceback.format_exc(limit=3))
                response["batchItemFailures"] += [{"itemIdentifier": m} for m in group.message_ids]
        return BatchResult(response, aggregator.counted, len(aggregator.groups), self._store.writes - writes_before,
                           alerts, lockdowns)

    def _alert(self, crossing: Crossing) -> tuple[Alert, dict[str, Any] | None]:
        from dataclasses import replace

        alert = spike_alert(crossing, self._config.window_seconds)
        request = lockdown_for_spike(crossing, self._config.window_seconds, self._lockdown_kinds)
        if request and self._request_lockdown:
            try:
                self._request_lockdown(request)
                did = f"Leash requested a lockdown of {request['principal']} (the lockdown workflow notifies when done)."
            except Exception as exc:  # noqa: BLE001 - the alert still goes out, saying so
                did, request = f"Leash could not request a lockdown of {request['principal']}: {exc}", None
            alert = replace(alert, leash_did=(did,))
        self._publish(alert)
        return alert, request
