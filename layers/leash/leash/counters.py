"""Where spike counters live: a Protocol, DynamoDB for Lambda, memory for replay and tests.

Both stores keep the same numbers: per batch and counter, the top TOP actions and resources by
name and the rest as "(other)", added to the window's running totals. A test feeds the same
calls through both and asserts the same alerts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from botocore.exceptions import ClientError

from leash.spikes import OTHER, TOP, Group, WindowTotals


class CounterStore(Protocol):
    """Windowed counters per principal: one atomic add per group and batch, one claim per level alerted."""

    writes: int

    def add(self, group: Group, window_seconds: int) -> WindowTotals:
        """Add the group's counts to its window; the window's totals after the update."""
        ...

    def claim(self, group: Group, counter: str, level: str) -> bool:
        """Mark the level as alerted for this window; False when another batch already did."""
        ...

    def release(self, group: Group, counter: str, level: str) -> None:
        """Undo a claim whose alert could not be sent, so that a redelivery alerts again."""
        ...


def batch_counts(group: Group) -> Iterator[tuple[str, str, str, int]]:
    """(counter, "a" for actions | "r" for resources, name, count): what one batch adds, top TOP plus "(other)"."""
    for counter in group.counts:
        for kind, counts in (("a", group.actions[counter]), ("r", group.resources[counter])):
            top = counts.most_common(TOP)
            other = sum(counts.values()) - sum(c for _, c in top)
            for name, c in [*top, *([(OTHER, other)] if other else [])]:
                yield counter, kind, name, c


class DynamoDbCounterStore:
    """The spike table: one item per principal and window, updated with one ADD per batch."""

    def __init__(self, dynamodb_client: Any, table_name: str, ttl_seconds: int = 86_400):
        self._ddb = dynamodb_client
        self._table = table_name
        self._ttl = ttl_seconds
        self.writes = 0

    def add(self, group: Group, window_seconds: int) -> WindowTotals:
        names: dict[str, str] = {"#expires": "expiresAt", "#principal": "principal", "#kind": "actorKind"}
        values: dict[str, Any] = {
            ":expires": {"N": str(group.window_start + window_seconds + self._ttl)},
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
        return _totals(response["Attributes"], group.counts)

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


def _totals(item: Mapping[str, Any], counters: Mapping[str, int]) -> WindowTotals:
    """The window's totals from its DynamoDB item (attributes "denied", "denied:a:iam:PassRole", ...,
    and the flags "alerted:denied:warning" of the levels already alerted)."""
    actions: dict[str, dict[str, int]] = {counter: {} for counter in counters}
    resources: dict[str, dict[str, int]] = {counter: {} for counter in counters}
    alerted: set[tuple[str, str]] = set()
    for key, value in item.items():
        counter, sep, rest = key.partition(":")
        if sep and counter in actions and rest[:2] in ("a:", "r:"):
            (actions if rest[0] == "a" else resources)[counter][rest[2:]] = int(value["N"])
        elif counter == ALERTED and rest.count(":") == 1:
            flagged, level = rest.split(":")
            alerted.add((flagged, level))
    totals = {counter: int(item[counter]["N"]) for counter in counters}
    return WindowTotals(totals, actions, resources, frozenset(alerted))


class InMemoryCounterStore:
    """The same counters in a dict (replay, tests); `forget_before` keeps memory flat over a long history."""

    def __init__(self) -> None:
        self.writes = 0
        self._windows: dict[str, tuple[Counter[str], dict[str, Counter[str]], dict[str, Counter[str]]]] = {}
        self._starts: dict[str, int] = {}
        self._claimed: dict[str, set[tuple[str, str]]] = {}  # window key -> (counter, level) alerted
        self.newest_window = 0  # start of the latest window counted (epoch seconds)

    def add(self, group: Group, window_seconds: int) -> WindowTotals:
        totals, actions, resources = self._windows.setdefault(group.key, (Counter(), {}, {}))
        self._starts[group.key] = group.window_start
        self.newest_window = max(self.newest_window, group.window_start)
        totals.update(group.counts)
        for counter, kind, name, c in batch_counts(group):
            (actions if kind == "a" else resources).setdefault(counter, Counter())[name] += c
        self.writes += 1
        return WindowTotals(
            {counter: totals[counter] for counter in group.counts},
            {counter: dict(actions.get(counter, {})) for counter in group.counts},
            {counter: dict(resources.get(counter, {})) for counter in group.counts},
            frozenset(self._claimed.get(group.key, ())),
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
            del self._windows[key], self._starts[key]
            self._claimed.pop(key, None)

    @property
    def windows(self) -> int:
        """How many windows are held in memory."""
        return len(self._windows)
