"""Where spike counters live: a Protocol, DynamoDB for Lambda, memory for replay and tests.

Every call is counted once, by its CloudTrail eventID: an agent's denied call reaches the queue
once per spike rule, a batch may be delivered again, a failed group is retried. Both stores count
a group in runs of at most PART calls, in the order the batch first saw them; a run adds only its
calls not counted before, the top TOP actions and resources by name and the rest as "(other)".
So both keep the same numbers, and a test feeds the same calls through both and asserts the same
alerts.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from botocore.exceptions import ClientError

from leash.spikes import OTHER, TOP, Group, Hit, WindowTotals

PART = 99  # calls per counter write: a DynamoDB transaction holds 100 items, the window and 99 markers


class CounterStore(Protocol):
    """Windowed counters per principal: each call counted once, one claim per level alerted."""

    writes: int

    def add(self, group: Group, window_seconds: int) -> WindowTotals:
        """Add the group's calls not counted yet to its window; the window's totals after the update."""
        ...

    def claim(self, group: Group, counter: str, level: str) -> bool:
        """Mark the level as alerted for this window; False when another batch already did."""
        ...

    def release(self, group: Group, counter: str, level: str) -> None:
        """Undo a claim whose alert could not be sent, so that a redelivery alerts again."""
        ...


def batch_counts(group: Group) -> Iterator[tuple[str, str, str, int]]:
    """(counter, "a" for actions | "r" for resources | "g" for regions, name, count): what one write adds, top
    TOP plus "(other)"."""
    for counter in group.counts:
        for kind, counts in (
            ("a", group.actions[counter]),
            ("r", group.resources[counter]),
            ("g", group.regions[counter]),
        ):
            top = counts.most_common(TOP)
            other = sum(counts.values()) - sum(c for _, c in top)
            for name, c in [*top, *([(OTHER, other)] if other else [])]:
                yield counter, kind, name, c


def marker_key(window: str, event_id: str) -> str:
    """The spike table key that says a call was counted in a window ("<principal>#<start>#event#<eventID>"),
    the eventID hashed when it could not be part of a key (keys are at most 2,048 bytes of valid UTF-8,
    and a forged event may carry anything)."""
    if not (event_id.isascii() and len(event_id) <= 128):
        event_id = "sha256:" + hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{window}#event#{event_id}"


class DynamoDbCounterStore:
    """The spike table: one item per principal and window, plus one marker item per call counted.

    Each run of PART calls is one transaction: the window's ADD and, per call, a marker written only
    if absent (attribute_not_exists), so a count and its markers are never out of step. A marker that
    exists cancels the transaction; its call was counted before (the other rule's copy, a redelivered
    batch, a retried group) and is dropped, and the rest is written again. Markers expire with the window.
    """

    RETRIES = 3  # transactions cancelled by a concurrent write to the window (another batch, same principal)

    def __init__(
        self,
        dynamodb_client: Any,
        table_name: str,
        ttl_seconds: int = 86_400,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._ddb = dynamodb_client
        self._table = table_name
        self._ttl = ttl_seconds
        self._sleep = sleep
        self.writes = 0  # transactions sent

    def add(self, group: Group, window_seconds: int) -> WindowTotals:
        expires = group.window_start + window_seconds + self._ttl
        added: Counter[str] = Counter()
        for hits in group.parts(PART):
            added.update(self._add_part(group, hits, expires))
        item = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": group.key}}, ConsistentRead=True)
        return _totals(item.get("Item") or {}, group.counts, added)

    def _add_part(self, group: Group, hits: list[Hit], expires: int) -> Counter[str]:
        """Count these calls but those already counted; what was added."""
        conflicts = 0
        while hits:
            part = group.part(hits)
            self.writes += 1
            try:
                self._ddb.transact_write_items(
                    TransactItems=[
                        {"Update": self._update(part, expires)},
                        *({"Put": self._marker(hit, group.key, expires)} for hit in hits),
                    ]
                )
                return part.counts
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                # One reason per item, in order: the window's update, then the markers.
                codes = [r.get("Code") or "None" for r in exc.response.get("CancellationReasons") or []]
                counted = {
                    hit.event_id
                    for hit, code in zip(hits, codes[1:], strict=False)
                    if code == "ConditionalCheckFailed"
                }
                if counted:
                    hits = [hit for hit in hits if hit.event_id not in counted]
                    continue
                retryable = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
                if conflicts < self.RETRIES and retryable & set(codes):
                    conflicts += 1
                    self._sleep(random.uniform(0, 0.1 * 2**conflicts))  # full jitter: 0.2, 0.4, 0.8 s at most
                    continue
                raise
        return Counter()

    def _update(self, group: Group, expires: int) -> dict[str, Any]:
        names: dict[str, str] = {"#expires": "expiresAt", "#principal": "principal", "#kind": "actorKind"}
        values: dict[str, Any] = {
            ":expires": {"N": str(expires)},
            ":principal": {"S": group.principal},
            ":kind": {"S": str(group.actor.kind)},
        }
        adds = []
        for counter, n in group.counts.items():
            names[f"#{counter}"], values[f":{counter}"] = counter, {"N": str(n)}
            adds.append(f"#{counter} :{counter}")
        for i, (counter, kind, name, c) in enumerate(batch_counts(group)):
            alias = f"{counter[0]}{kind}{i}"
            names[f"#{alias}"], values[f":{alias}"] = f"{counter}:{kind}:{name}", {"N": str(c)}
            adds.append(f"#{alias} :{alias}")
        return {
            "TableName": self._table,
            "Key": {"pk": {"S": group.key}},
            "UpdateExpression": "ADD "
            + ", ".join(adds)
            + " SET #expires = :expires, #principal = :principal, "
            "#kind = :kind",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _marker(self, hit: Hit, window: str, expires: int) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": {
                "pk": {"S": marker_key(window, hit.event_id)},
                "expiresAt": {"N": str(expires)},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }

    def claim(self, group: Group, counter: str, level: str) -> bool:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": group.key}},
                UpdateExpression="SET #flag = :true",
                ConditionExpression="attribute_not_exists(#flag)",
                ExpressionAttributeNames={"#flag": _flag(counter, level)},
                ExpressionAttributeValues={":true": {"BOOL": True}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, group: Group, counter: str, level: str) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": group.key}},
            UpdateExpression="REMOVE #flag",
            ExpressionAttributeNames={"#flag": _flag(counter, level)},
        )


ALERTED = "alerted"  # "alerted:<counter>:<level>": a level alerted in a window, set by claim()


def _flag(counter: str, level: str) -> str:
    return f"{ALERTED}:{counter}:{level}"


def _totals(item: Mapping[str, Any], counters: Mapping[str, int], added: Mapping[str, int]) -> WindowTotals:
    """The window's totals from its DynamoDB item (attributes "denied", "denied:a:iam:PassRole", ...,
    and the flags "alerted:denied:warning" of the levels already alerted)."""
    named: dict[str, dict[str, dict[str, int]]] = {kind: {c: {} for c in counters} for kind in "arg"}
    alerted: set[tuple[str, str]] = set()
    for key, value in item.items():
        counter, sep, rest = key.partition(":")
        if sep and counter in counters and rest[:2] in ("a:", "r:", "g:"):
            named[rest[0]][counter][rest[2:]] = int(value["N"])
        elif counter == ALERTED and rest.count(":") == 1:
            flagged, level = rest.split(":")
            alerted.add((flagged, level))
    totals = {counter: int(item[counter]["N"]) if counter in item else 0 for counter in counters}
    return WindowTotals(
        totals,
        named["a"],
        named["r"],
        frozenset(alerted),
        {c: added.get(c, 0) for c in counters},
        named["g"],
    )


class InMemoryCounterStore:
    """The same counters in a dict (replay, tests); `forget_before` keeps memory flat over a long history."""

    def __init__(self) -> None:
        self.writes = 0
        # window key -> (totals, {kind ("a", "r", "g") -> counter -> name -> count}), as batch_counts writes them
        self._windows: dict[str, tuple[Counter[str], dict[str, dict[str, Counter[str]]]]] = {}
        self._starts: dict[str, int] = {}
        self._claimed: dict[str, set[tuple[str, str]]] = {}  # window key -> (counter, level) alerted
        self._counted: dict[str, set[str]] = {}  # window key -> eventIDs counted (DynamoDB's markers)
        self.newest_window = 0  # start of the latest window counted (epoch seconds)

    def add(self, group: Group, window_seconds: int) -> WindowTotals:
        totals, named = self._windows.setdefault(group.key, (Counter(), {}))
        counted = self._counted.setdefault(group.key, set())
        self._starts[group.key] = group.window_start
        self.newest_window = max(self.newest_window, group.window_start)
        added: Counter[str] = Counter()
        for hits in group.parts(PART):  # as DynamoDB writes them: the same runs, the same top TOP
            part = group.part(hit for hit in hits if hit.event_id not in counted)
            if not part.hits:
                continue
            counted.update(part.hits)
            totals.update(part.counts)
            added.update(part.counts)
            for counter, kind, name, c in batch_counts(part):
                named.setdefault(kind, {}).setdefault(counter, Counter())[name] += c
            self.writes += 1

        def of(kind: str) -> dict[str, dict[str, int]]:
            return {counter: dict(named.get(kind, {}).get(counter, {})) for counter in group.counts}

        return WindowTotals(
            {counter: totals[counter] for counter in group.counts},
            of("a"),
            of("r"),
            frozenset(self._claimed.get(group.key, ())),
            {counter: added[counter] for counter in group.counts},
            of("g"),
        )

    def claim(self, group: Group, counter: str, level: str) -> bool:
        claimed = self._claimed.setdefault(group.key, set())
        if (counter, level) in claimed:
            return False
        claimed.add((counter, level))
        return True

    def release(self, group: Group, counter: str, level: str) -> None:
        self._claimed.get(group.key, set()).discard((counter, level))

    def forget_before(self, window_start: int) -> None:
        """Drop the windows that started before this time (no call can still reach them)."""
        for key in [k for k, start in self._starts.items() if start < window_start]:
            del self._windows[key], self._starts[key], self._counted[key]
            self._claimed.pop(key, None)

    @property
    def windows(self) -> int:
        """How many windows are held in memory."""
        return len(self._windows)
