"""Spikes: AccessDenied per principal, and call volume per agent, counted in windows.

A batch of SQS records is aggregated per (principal, window) in memory, each CloudTrail eventID
once (an agent's denied call reaches the queue once per spike rule); then the counter store adds
the group's calls that no earlier batch counted (leash.counters). Crossing a level (warning,
critical) alerts once per principal, level and window, guarded by a conditional write; crossing
critical can request a lockdown.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leash.actors import Actor, ActorCache, TagLookup
from leash.alerts import Alert
from leash.events import ApiCall, parse_event
from leash.model import ActorKind, Severity, is_denied
from leash.settings import ActorConfig, SpikeConfig, Thresholds

DENIED = "denied"
CALLS = "calls"
OTHER = "(other)"
_RESOURCE_IN_MESSAGE = re.compile(r"on resource:? ?(\S+?)(?: because|[,.;]?\s|[,.;]?$)")
TOP = 20  # distinct actions/resources a window keeps per counter; the rest count as "(other)"


def thresholds_for(config: SpikeConfig, counter: str, kind: ActorKind) -> Thresholds:
    """The levels of one counter for one kind of principal (call volume is counted for agents only)."""
    if counter == CALLS:
        return config.calls_agent
    return {ActorKind.AGENT: config.denied_agent, ActorKind.HUMAN: config.denied_human}.get(
        kind, config.denied_other
    )


@dataclass(frozen=True, slots=True)
class Hit:
    """One call to count: its CloudTrail eventID (the idempotency key of the count) and what it adds."""

    event_id: str
    action: str
    resource: str | None
    counters: tuple[str, ...]  # denied, calls or both: one call, counted once in each
    region: str = ""  # where the call was made (detail.awsRegion): a principal is counted across regions


@dataclass
class Group:
    """One principal's calls in one window, within one batch: both counters, one DynamoDB item."""

    actor: Actor  # the first session seen; `principal` is what is counted
    principal: str
    window_start: int
    counts: Counter[str] = field(default_factory=Counter)  # denied / calls
    actions: dict[str, Counter[str]] = field(default_factory=lambda: {DENIED: Counter(), CALLS: Counter()})
    resources: dict[str, Counter[str]] = field(default_factory=lambda: {DENIED: Counter(), CALLS: Counter()})
    regions: dict[str, Counter[str]] = field(default_factory=lambda: {DENIED: Counter(), CALLS: Counter()})
    message_ids: list[str] = field(default_factory=list)
    hits: dict[str, Hit] = field(default_factory=dict)  # eventID -> the call, in the order first seen

    @property
    def key(self) -> str:
        return f"{self.principal}#{self.window_start}"

    def add(self, hit: Hit) -> bool:
        """Count a call once: False for an eventID already in the group (the other rule's copy)."""
        if hit.event_id in self.hits:
            return False
        self.hits[hit.event_id] = hit
        for counter in hit.counters:
            self.counts[counter] += 1
            self.actions[counter][hit.action] += 1
            if hit.resource:
                self.resources[counter][hit.resource] += 1
            if hit.region:
                self.regions[counter][hit.region] += 1
        return True

    def part(self, hits: Iterable[Hit]) -> Group:
        """The same principal's window with only these calls: what one counter write adds."""
        part = Group(self.actor, self.principal, self.window_start)
        for hit in hits:
            part.add(hit)
        return part

    def parts(self, size: int) -> Iterator[list[Hit]]:
        """The group's calls in runs of `size`, in the order first seen (one counter write each)."""
        hits = list(self.hits.values())
        for start in range(0, len(hits), size):
            yield hits[start : start + size]


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

    def __init__(
        self,
        actor_config: ActorConfig,
        config: SpikeConfig,
        tag_lookup: TagLookup | None = None,
        *,
        keep_message_ids: bool = True,
    ):
        self._actor_config = actor_config
        self._config = config
        self._tags = tag_lookup
        self._keep_message_ids = keep_message_ids  # a batch reports its failures by them; replay needs none
        self._classify = ActorCache(actor_config, tag_lookup)  # a batch is mostly a few principals
        self.groups: dict[tuple[str, int], Group] = {}
        self.calls = 0  # distinct calls to count (one call counted as denied and as an agent call is one)
        self.copies = 0  # records of a call already in the batch (each spike rule delivers its own copy)

    def add(self, event: Mapping[str, Any], message_id: str) -> None:
        """Count one event once per eventID; raises MalformedEvent for a record that is not a CloudTrail call."""
        call = parse_event(event)
        actor = self._classify(call.user_identity, call.additional_event_data)
        if actor.kind in (ActorKind.AWS_SERVICE, ActorKind.LEASH):
            return
        counters = ([DENIED] if is_denied(call.error_code) else []) + (
            [CALLS] if actor.kind is ActorKind.AGENT else []
        )
        if not counters:
            return
        window = int(call.time.timestamp()) // self._config.window_seconds * self._config.window_seconds
        # The key names no region: an agent probing in three regions (forwarded to the home region) is one spike.
        key = (_principal_key(actor), window)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(actor, key[0], window)
        if group.add(Hit(call.event_id, call.action, _resource_of(call), tuple(counters), call.region)):
            self.calls += 1
        else:
            self.copies += 1
        if self._keep_message_ids:  # both copies: if the group fails, SQS redelivers both
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
    regions: list[tuple[str, int]] = field(default_factory=list)  # every region counted, most calls first


@dataclass(frozen=True)
class WindowTotals:
    """One principal's window after a batch was added: per counter, the total and what was counted most."""

    totals: Mapping[str, int]
    actions: Mapping[str, Mapping[str, int]]  # counter -> action -> count ("(other)" beyond the top TOP)
    resources: Mapping[str, Mapping[str, int]]
    alerted: frozenset[tuple[str, str]] = frozenset()  # (counter, level) already alerted in this window
    added: Mapping[str, int] = field(default_factory=dict)  # calls this batch counted (none counted before)
    regions: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # counter -> region -> count


def _top(counts: Mapping[str, int], limit: int | None = 5) -> list[tuple[str, int]]:
    found = ((name, n) for name, n in counts.items() if name != OTHER)
    return sorted(found, key=lambda kv: (-kv[1], kv[0]))[:limit]


def crossings(group: Group, window: WindowTotals, config: SpikeConfig) -> list[Crossing]:
    """Levels the window's total has reached and that were not alerted yet, per counter.

    Decided by the total, never by what this batch added: a batch redelivered after its alert failed
    (the claim released) finds the level reached and not alerted, and alerts then.
    """
    out = []
    for counter in group.counts:
        total = window.totals[counter]
        thresholds = thresholds_for(config, counter, group.actor.kind)
        for level, threshold in (("warning", thresholds.warning), ("critical", thresholds.critical)):
            if threshold <= total and (counter, level) not in window.alerted:
                out.append(
                    Crossing(
                        group,
                        counter,
                        level,
                        total,
                        _top(window.actions.get(counter, {})),
                        _top(window.resources.get(counter, {})),
                        threshold,
                        _top(window.regions.get(counter, {}), None),
                    )
                )
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
    severity = (
        (Severity.CRITICAL if agentish else Severity.HIGH)
        if crossing.level == "critical"
        else (Severity.HIGH if agentish else Severity.MEDIUM)
    )
    window = datetime.fromtimestamp(group.window_start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kind = "AccessDenied spike" if crossing.counter == DENIED else "call volume spike"
    reasons = [
        f"{kind}: {crossing.level} level ({crossing.threshold} {what} per {minutes} min for "
        f"{actor.kind} principals) crossed in the window starting {window}"
    ]
    if len(crossing.regions) > 1:
        spread = ", ".join(f"{r} ×{n}" for r, n in crossing.regions)
        reasons.append(f"counted across {len(crossing.regions)} regions, as one principal: {spread}")
    return Alert(
        severity=severity,
        title=f"{actor.label}: {crossing.total} {what} in {minutes} min: {detail}",
        actor=actor.to_dict(),
        action=f"leash:{'AccessDeniedSpike' if crossing.counter == DENIED else 'CallVolumeSpike'}",
        resource=crossing.top_resources[0][0] if crossing.top_resources else "",
        account=actor.account,
        region=", ".join(region for region, _ in crossing.regions),  # where the calls were made, most first
        regions=tuple(region for region, _ in crossing.regions),
        time=window,
        event_id=f"spike#{group.key}#{crossing.counter}#{crossing.level}",
        reasons=tuple(reasons),
        kind="spike",
    )


def lockdown_for_spike(
    crossing: Crossing, window_seconds: int, eligible: Iterable[ActorKind]
) -> dict[str, Any] | None:
    """The lockdown request for a critical spike, for the kinds of principal AutoLockdown covers."""
    actor = crossing.group.actor
    # Denials only: a prober is also a high-volume caller, and one burst must not ask twice.
    if (
        crossing.counter != DENIED
        or crossing.level != "critical"
        or actor.kind not in set(eligible)
        or not actor.lockable
    ):
        return None
    alert = spike_alert(crossing, window_seconds)
    return {
        "requestId": alert.event_id,  # principal, window, counter and level: a redelivered batch asks once
        "principal": crossing.group.principal,
        "reason": alert.title,
        "requestedBy": "leash",
        "trigger": f"auto:spike:{crossing.counter}",
        "evidence": {
            "counter": crossing.counter,
            "total": crossing.total,
            "windowStart": alert.time,
            "topActions": dict(crossing.top_actions),
            "topResources": dict(crossing.top_resources),
            "regions": dict(crossing.regions),
        },
    }
