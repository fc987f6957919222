"""The spikes function's logic: aggregate a batch, count each call once per principal's window, alert on crossings."""

from __future__ import annotations

import json
import traceback
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from leash.actors import TagLookup
from leash.alerts import Alert
from leash.counters import CounterStore
from leash.lockdown import RequestLockdown, request_lockdown
from leash.model import ActionKind, ActorKind
from leash.publish import Publish
from leash.settings import ActorConfig, SpikeConfig
from leash.spikes import BatchAggregator, Crossing, crossings, lockdown_for_spike, spike_alert


@dataclass
class BatchResult:
    """What one batch did: the Lambda response and the numbers for the log line and the metrics."""

    response: dict[str, Any]
    counted: Counter[tuple[str, str]]  # (counter, actor kind) -> calls counted now, none counted before
    groups: int
    writes: int
    alerts: list[Alert]
    lockdowns: list[dict[str, Any]]


class SpikeConsumer:
    """The spikes function's logic: aggregate a batch, count each eventID once, alert on crossings."""

    def __init__(
        self,
        actor_config: ActorConfig,
        config: SpikeConfig,
        store: CounterStore,
        publish: Publish,
        *,
        tag_lookup: TagLookup | None = None,
        lockdown_kinds: Iterable[ActorKind] = (ActorKind.AGENT,),
        request_lockdown: RequestLockdown | None = None,
    ):
        self._actor_config = actor_config
        self._config = config
        self._store = store
        self._publish = publish
        self._tags = tag_lookup
        self._lockdown_kinds = frozenset(lockdown_kinds)
        self._request_lockdown = request_lockdown
        self.errors: list[str] = []  # the last batch's group failures, for the log
        self.rejected: list[str] = []  # the last batch's records that are not CloudTrail calls, for the log

    def handle(self, event: Mapping[str, Any]) -> BatchResult:
        """An SQS batch from the spike queue: count every record; a malformed one is reported as failed.

        The partial batch response is built here rather than with Powertools' BatchProcessor: counting
        is one loop, and importing the batch utility costs the function ~30 ms at every cold start.
        """
        aggregator = BatchAggregator(self._actor_config, self._config, self._tags)
        self.rejected = []
        failures = []
        records = event.get("Records") if isinstance(event, Mapping) else None
        if not isinstance(records, list):  # not an SQS batch: nothing SQS could redeliver, nothing to count
            self.rejected.append(f"not an SQS batch: {type(event).__name__} without a list of Records")
            records = []
        for record in records:
            try:
                aggregator.add(json.loads(record["body"]), record["messageId"])
            except Exception as exc:  # noqa: BLE001 - a bad record fails alone; the batch goes on
                self.rejected.append(
                    f"{record.get('messageId') if isinstance(record, Mapping) else '?'}: {exc}"
                )
                if isinstance(record, Mapping) and record.get("messageId"):
                    failures.append({"itemIdentifier": record["messageId"]})
        return self.consume(aggregator, {"batchItemFailures": failures})

    def consume(self, aggregator: BatchAggregator, response: dict[str, Any] | None = None) -> BatchResult:
        """Add a batch's calls to the store (those not counted yet), then alert once on every level reached."""
        self.errors = []
        response = response if response is not None else {"batchItemFailures": []}
        writes_before = self._store.writes
        alerts, lockdowns = [], []
        counted: Counter[tuple[str, str]] = Counter()
        for group in aggregator.groups.values():
            try:
                window = self._store.add(group, self._config.window_seconds)
                counted.update({(c, str(group.actor.kind)): n for c, n in window.added.items() if n})
                for crossing in crossings(group, window, self._config):
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
        return BatchResult(
            response,
            counted,
            len(aggregator.groups),
            self._store.writes - writes_before,
            alerts,
            lockdowns,
        )

    def _alert(self, crossing: Crossing) -> tuple[Alert, dict[str, Any] | None]:
        alert = spike_alert(crossing, self._config.window_seconds)
        request = lockdown_for_spike(crossing, self._config.window_seconds, self._lockdown_kinds)
        if request and self._request_lockdown is not None:
            action = request_lockdown(self._request_lockdown, request)
            if action.kind is not ActionKind.LOCKDOWN_REQUESTED:
                request = None
            alert = replace(alert, leash_did=(action,))
        self._publish(alert)
        return alert, request
