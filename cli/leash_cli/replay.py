"""`leash replay`: what Leash would have done with your CloudTrail history, without calling AWS.

Reads CloudTrail log files (`{"Records": [...]}` as .json or .json.gz, directories walked) and
JSON lines of EventBridge events, routes each call by the rules of template.yaml with your deploy
parameters, and runs the handlers' own decision code with recorders in place of AWS.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec

from leash.actors import Actor, ActorCache
from leash.alerts import Alert
from leash.catalog import CatalogAction
from leash.counters import InMemoryCounterStore
from leash.events import ApiCall, wrap_record
from leash.lockdown import AutoLockdown
from leash.model import ActionKind, NotApplicable, Remedy
from leash.notify import Notifier
from leash.protections import PROTECTION_NAMES
from leash.reapply import Reapplier
from leash.render import describe
from leash.settings import ActorConfig, LockdownSettings, ReapplySettings, SpikeConfig
from leash.spike_consumer import SpikeConsumer
from leash.spikes import BatchAggregator
from leash_cli.template import (
    TEMPLATE,
    Router,
    deployment_for,
    eventbridge_rules,
    function_environment,
    load_template,
)

SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson")
HANDLED = ("NotifyFunction", "ReapplyFunction", "SpikeFunction")


@dataclass(frozen=True)
class Problem:
    location: str  # file, or file:line / file#record
    reason: str


@dataclass(frozen=True)
class Decision:
    """One matched event and what Leash would do with it."""

    event_id: str
    event_name: str
    actor_kind: str
    rules: tuple[str, ...]
    function: str
    status: str
    severity: str | None
    actions: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps(
            {
                "eventID": self.event_id,
                "eventName": self.event_name,
                "actorKind": self.actor_kind,
                "rules": list(self.rules),
                "function": self.function,
                "status": self.status,
                "severity": self.severity,
                "plannedActions": list(self.actions),
            },
            separators=(",", ":"),
        )


# --- reading ---------------------------------------------------------------------------------


def files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
        else:
            yield path


LINES = (".jsonl", ".jsonl.gz", ".ndjson")


@dataclass(frozen=True)
class Skipped:
    """Records of one file that no rule can match, counted but never decoded (the prefilter said so)."""

    location: str
    count: int


class _LogFile(msgspec.Struct):
    """A CloudTrail log file, its records left as JSON text until a rule might want them."""

    Records: list[msgspec.Raw]


_LOG_FILE = msgspec.json.Decoder(_LogFile)


def events(
    paths: Iterable[str | Path], might_match: Callable[[bytes], bool] | None = None
) -> Iterator[tuple[str, dict[str, Any]] | Problem | Skipped]:
    """EventBridge-shaped events, one file at a time (memory holds one log file, never the history).

    With `might_match` (Router.record_prefilter), the records of CloudTrail log files it rules out
    are counted in a Skipped item instead of being decoded.
    """
    for path in files(paths):
        try:
            data = path.read_bytes()
            if path.name.endswith(".gz"):
                data = gzip.decompress(data)
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            yield Problem(str(path), f"cannot read: {exc}")
            continue
        lines = path.name.endswith(LINES)
        if might_match is not None and not lines and data.lstrip()[:1] == b"{":
            try:
                records = _LOG_FILE.decode(data).Records
            except (msgspec.DecodeError, msgspec.ValidationError):
                pass  # not a log file: read below, where each problem is reported
            else:
                yield from _raw_records(path, records, might_match)
                continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Problem(str(path), f"cannot read: {exc}")
            continue
        if text.lstrip()[:1] == "{" and not lines:
            try:
                document = json.loads(text)
            except json.JSONDecodeError:
                yield from _lines(path, text.split("\n"))  # JSON lines saved as .json
                continue
            yield from _document(path, document)
        else:
            yield from _lines(path, text.split("\n"))


_OBJECT, _EVENT_NAME = re.compile(rb"\{").match, re.compile(rb'"eventName"').search


def _raw_records(path: Path, records: list[msgspec.Raw], might_match: Callable[[bytes], bool]):
    skipped = 0
    for i, raw in enumerate(records):
        # Decoded: what a rule might want, and what is not a CloudTrail record (to be reported).
        if might_match(raw) or _EVENT_NAME(raw) is None or _OBJECT(raw) is None:
            yield _record(path, i, msgspec.json.decode(raw))
        else:
            skipped += 1
    if skipped:
        yield Skipped(str(path), skipped)


def _record(path: Path, i: int, record: Any) -> tuple[str, dict[str, Any]] | Problem:
    if isinstance(record, Mapping) and "eventName" in record:
        return f"{path}#{i}", wrap_record(record)
    return Problem(f"{path}#{i}", "not a CloudTrail record")


def _document(path: Path, document: Any) -> Iterator[tuple[str, dict[str, Any]] | Problem]:
    if isinstance(document, Mapping) and isinstance(document.get("Records"), list):
        for i, record in enumerate(document["Records"]):
            yield _record(path, i, record)
    elif isinstance(document, Mapping) and "detail-type" in document:
        yield str(path), dict(document)
    else:
        yield Problem(
            str(path), 'neither a CloudTrail log file ({"Records": [...]}) nor an EventBridge event'
        )


def _lines(path: Path, lines: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]] | Problem]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Problem(f"{path}:{number}", f"not JSON: {exc.msg}")
            continue
        if isinstance(item, Mapping) and "detail-type" in item:
            yield f"{path}:{number}", dict(item)
        elif isinstance(item, Mapping) and "eventName" in item:
            yield f"{path}:{number}", wrap_record(item)
        else:
            yield Problem(f"{path}:{number}", "neither an EventBridge event nor a CloudTrail record")


# --- deploy parameters -------------------------------------------------------------------------


# --- deciding ----------------------------------------------------------------------------------


class _RecordingClients:
    """Stands in for boto3 clients: the reapply steps run, and nothing is called."""

    def __call__(self, service: str, region: str) -> Any:
        return self

    def __getattr__(self, operation: str) -> Any:
        return lambda **kwargs: {}


@dataclass
class Report:
    matched: int = 0
    read: int = 0
    rules: Counter = field(default_factory=Counter)
    severities: Counter = field(default_factory=Counter)
    protections: Counter = field(default_factory=Counter)
    lockdowns: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)


class Replay:
    """Routes events like EventBridge and decides like the handlers, with no AWS call."""

    SPIKE_BATCH = 1000  # calls per spike batch and region: the spike queue's BatchSize in template.yaml
    SLACK_SECONDS = 3_600  # how late a call may arrive after its region's newest window (CloudTrail: ~15 min)

    def __init__(
        self,
        template_path: Path = TEMPLATE,
        overrides: Mapping[str, str] | None = None,
        account: str = "123456789012",
    ):
        template = load_template(template_path)
        self.router = Router(
            eventbridge_rules(template, deployment_for(template, overrides, account=account))
        )
        # The environment the deployed functions would have: the same parameters, resolved by the template.
        env = function_environment(template, list(HANDLED), overrides, account=account)
        config = ActorConfig.from_env(env)
        lockdowns = LockdownSettings.from_env(env)
        auto = AutoLockdown(lockdowns)
        self._lockdowns: list[Mapping[str, Any]] = []
        self._alerts: list[Alert] = []

        def publish(alert: Alert) -> str:
            self._alerts.append(alert)
            return "replay"

        plan = Reapplier(
            _RecordingClients(), ReapplySettings.from_env(env, PROTECTION_NAMES), config, clock=lambda: 0.0
        )
        actors = ActorCache(config)  # replay looks no tags up: an identity is classified once
        self._handlers = {
            "NotifyFunction": Notifier(
                config, publish, auto_lockdown=auto, request_lockdown=self._lockdowns.append, actors=actors
            ),
            "ReapplyFunction": Notifier(
                config,
                publish,
                respond=_dry_run(plan),
                auto_lockdown=auto,
                request_lockdown=self._lockdowns.append,
                actors=actors,
            ),
        }
        self._actor_config = config
        self._spike_config = SpikeConfig.from_env(env)
        self._lockdown_kinds = lockdowns.kinds
        # The spike function's own consumer, over counters in memory: one per region, as each regional
        # stack counts its own. Windows an hour behind their region's newest call are forgotten.
        self._spikes: dict[str, tuple[SpikeConsumer, InMemoryCounterStore, BatchAggregator]] = {}
        self._spike_alerts: list[Alert] = []
        self._spike_lockdowns: list[dict[str, Any]] = []
        self.spike_windows_held = 0  # the most spike windows memory held at once
        self.report = Report()

    def run(
        self, paths: Iterable[str | Path], on_file: Callable[[str], None] | None = None
    ) -> Iterator[Decision]:
        """Read, route and decide every call in these files; problems and counts go to the report."""
        last_file = None
        for item in events(paths, self.router.record_prefilter()):
            location = item[0] if isinstance(item, tuple) else item.location
            if on_file is not None:
                current = location.split("#", 1)[0].rsplit(":", 1)[0]
                if current != last_file:
                    on_file(current)
                    last_file = current
            if isinstance(item, Problem):
                self.report.problems.append(item)
            elif isinstance(item, Skipped):
                self.report.read += item.count
            else:
                yield from self.decide(*item)

    def decide(self, location: str, event: Mapping[str, Any]) -> list[Decision]:
        """Every decision for one event: one per function its rules reach."""
        self.report.read += 1
        targets = self.router.targets(event)
        if not targets:
            return []
        self.report.matched += 1
        detail = event.get("detail") or {}
        decisions = []
        for function, rules in targets.items():
            self.report.rules.update(rules)
            if function == "SpikeQueue":
                self._count_spike(location, event, detail)
                continue
            handler = self._handlers.get(function)
            if handler is None:
                continue
            self._alerts.clear()
            self._lockdowns.clear()
            outcome = handler.handle(event)
            if outcome.status == "rejected":
                self.report.problems.append(Problem(location, outcome.reason))
            actions = (
                tuple(replace(a, dry_run=True) for a in outcome.alert.leash_did) if outcome.alert else ()
            )
            severity = str(outcome.alert.severity) if outcome.alert else None
            if severity:
                self.report.severities[severity] += 1
            for action in actions:
                if action.kind is ActionKind.REAPPLIED:
                    self.report.protections[action.fix] += 1
            for request in self._lockdowns:
                self.report.lockdowns[request["principal"]] += 1
            planned = tuple(describe(a) for a in actions) + tuple(
                f"lockdown {r['principal']}" for r in self._lockdowns
            )
            decisions.append(
                Decision(
                    str(detail.get("eventID", "")),
                    str(detail.get("eventName", "")),
                    _actor_kind(outcome),
                    rules,
                    function,
                    outcome.status,
                    severity,
                    planned,
                )
            )
        return decisions

    def _count_spike(self, location: str, event: Mapping[str, Any], detail: Mapping[str, Any]) -> None:
        region = str(detail.get("awsRegion", ""))
        if region not in self._spikes:
            store = InMemoryCounterStore()
            consumer = SpikeConsumer(
                self._actor_config,
                self._spike_config,
                store,
                self._publish_spike,
                lockdown_kinds=self._lockdown_kinds,
            )
            self._spikes[region] = (consumer, store, self._new_batch())
        consumer, store, batch = self._spikes[region]
        try:
            batch.add(event, location)
        except ValueError as exc:
            self.report.problems.append(Problem(location, str(exc)))
            return
        if batch.calls >= self.SPIKE_BATCH:
            self._flush(region)

    def _publish_spike(self, alert: Alert) -> str:
        self._spike_alerts.append(alert)
        return "replay"

    def _new_batch(self) -> BatchAggregator:
        return BatchAggregator(self._actor_config, self._spike_config, keep_message_ids=False)

    def _flush(self, region: str) -> None:
        """Hand one region's batch to its consumer, as SQS hands a batch to the spike function."""
        consumer, store, batch = self._spikes[region]
        result = consumer.consume(batch)
        for alert in result.alerts:
            self.report.severities[str(alert.severity)] += 1
        for request in result.lockdowns:
            self.report.lockdowns[request["principal"]] += 1
        self.spike_windows_held = max(self.spike_windows_held, store.windows)
        store.forget_before(store.newest_window - self.SLACK_SECONDS - self._spike_config.window_seconds)
        self._spikes[region] = (consumer, store, self._new_batch())

    def finish_spikes(self) -> list[Alert]:
        """Spike alerts over the whole history (windows as the deployed counters would have them)."""
        for region in self._spikes:
            self._flush(region)
        return self._spike_alerts


def _dry_run(plan: Reapplier):
    """The reapply step as replay runs it: decided by the real code, with nothing called, marked as a plan."""

    def respond(call: ApiCall, actor: Actor, entry: CatalogAction) -> Remedy | NotApplicable:
        remedy = plan(call, actor, entry)
        return (
            replace(remedy, action=replace(remedy.action, dry_run=True))
            if isinstance(remedy, Remedy)
            else remedy
        )

    return respond


def _actor_kind(outcome: Any) -> str:
    return str(outcome.alert.actor.get("kind", "")) if outcome.alert else ""
