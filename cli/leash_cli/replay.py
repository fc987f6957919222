"""`leash replay`: a backtest of Leash on your CloudTrail history, without calling AWS.

Reads CloudTrail log files (`{"Records": [...]}` as .json or .json.gz, directories walked) and
JSON lines of EventBridge events, routes each call by the rules of template.yaml with your deploy
parameters, and runs the handlers' own decision code with recorders in place of AWS. Like the
deployed stack, it decides each eventID once and locks a principal down once.

A multi-region history (the trail bucket's AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/) is read as
the one stack in the home region receives it: the calls of its own region, those of the WatchedRegions its
forwarders send, and the global services' from us-east-1; the rest is counted as not seen. Log files are
read in the order of the time in their names, whatever their region, so that spikes are counted across
regions as the home stack counts them.
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
from leash.incidents import InMemoryIncidents, SlackTraffic
from leash.lockdown import AutoLockdown
from leash.model import ActionKind, NotApplicable, Remedy
from leash.notify import Notifier
from leash.notify import Outcome as NotifyOutcome
from leash.protections import PROTECTION_NAMES
from leash.reapply import Reapplier
from leash.render import describe
from leash.settings import ActorConfig, IncidentSettings, LockdownSettings, ReapplySettings, SpikeConfig
from leash.spike_consumer import SpikeConsumer
from leash.spikes import BatchAggregator
from leash_build.regions import sees, watched_regions
from leash_cli.template import (
    TEMPLATE,
    Router,
    deployment_for,
    eventbridge_rules,
    function_environment,
    leash_resources,
    load_template,
)

SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson")
LINES = (".jsonl", ".jsonl.gz", ".ndjson")
HANDLED = ("NotifyFunction", "ReapplyFunction", "SpikeFunction")
# Files CloudTrail writes beside its logs, in their own folders of the bucket: no API calls in them.
COMPANIONS = {"CloudTrail-Digest": "digest", "CloudTrail-Insight": "Insights"}


@dataclass(frozen=True)
class Problem:
    location: str  # file, or file:line / file#record
    reason: str
    whole_file: bool = False  # the file could not be read at all


@dataclass(frozen=True)
class Skipped:
    """Records of one file that no rule can match, counted but never decoded (the prefilter said so)."""

    location: str
    count: int


@dataclass(frozen=True)
class Companion:
    """A digest or Insights file CloudTrail writes beside its logs: skipped quietly, counted."""

    location: str
    kind: str  # "digest" | "Insights"


Item = tuple[str, dict[str, Any]] | Problem | Skipped | Companion


# --- reading ---------------------------------------------------------------------------------


def files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every input file, CloudTrail log files in the order of the time in their names (across regions and
    directories), any other file first, in the order given."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
        else:
            found.append(path)
    yield from sorted(found, key=_delivery_time)  # stable: files of the same time stay in path order


# CloudTrail names a log file <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz
_LOG_TIME = re.compile(r"_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4}Z)_")


def _delivery_time(path: Path) -> str:
    match = _LOG_TIME.search(path.name)
    return match.group(1) if match else ""


def companion_kind(path: Path) -> str | None:
    """'digest' or 'Insights' for the files CloudTrail writes beside its logs (by their folder or name)."""
    for marker, kind in COMPANIONS.items():
        if marker in path.parts or f"_{marker}_" in path.name:
            return kind
    return None


class _LogFile(msgspec.Struct):
    """A CloudTrail log file, its records left as JSON text until a rule might want them."""

    Records: list[msgspec.Raw]


_LOG_FILE = msgspec.json.Decoder(_LogFile)
_STEP = 4096  # records between two progress reports


class _Meter:
    """Reports a file's bytes as its records are read, so one large file still moves the bar."""

    def __init__(self, on_bytes: Callable[[int], None] | None, size: int, records: int):
        self._on_bytes, self._size, self._records, self._done = on_bytes, size, max(records, 1), 0

    def at(self, record: int) -> None:
        if self._on_bytes is not None and record % _STEP == 0 and record:
            self._report(self._size * record // self._records)

    def finish(self) -> None:
        if self._on_bytes is not None:
            self._report(self._size)

    def _report(self, done: int) -> None:
        if done > self._done:
            self._on_bytes(done - self._done)  # type: ignore[misc]
            self._done = done


class Reader:
    """EventBridge-shaped events from files, one file at a time (memory holds one log file, never the history).

    With `might_match` (Router.record_prefilter), the records of CloudTrail log files it rules out
    are counted in a Skipped item instead of being decoded. `on_bytes` hears of every byte read.
    """

    def __init__(
        self,
        might_match: Callable[[bytes], bool] | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ):
        self._might_match = might_match
        self._on_bytes = on_bytes
        self.files = 0  # every input file, whatever became of it
        self.unreadable = 0  # files that could not be read at all

    def __call__(self, paths: Iterable[str | Path]) -> Iterator[Item]:
        for path in files(paths):
            self.files += 1
            for item in self._file(path):
                if isinstance(item, Problem) and item.whole_file:
                    self.unreadable += 1
                yield item

    def _file(self, path: Path) -> Iterator[Item]:
        kind = companion_kind(path)
        if kind is not None:
            self._advance(path)
            yield Companion(str(path), kind)
            return
        try:
            raw = path.read_bytes()
            data = gzip.decompress(raw) if path.name.endswith(".gz") else raw
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            self._advance(path)
            yield Problem(str(path), f"cannot read: {exc}", whole_file=True)
            return
        size = len(raw)
        lines = path.name.endswith(LINES)
        if self._might_match is not None and not lines and data.lstrip()[:1] == b"{":
            try:
                records = _LOG_FILE.decode(data).Records
            except (msgspec.DecodeError, msgspec.ValidationError):
                pass  # not a log file: read below, where each problem is reported
            else:
                yield from self._raw_records(path, records, _Meter(self._on_bytes, size, len(records)))
                return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._advance(path)
            yield Problem(str(path), f"cannot read: {exc}", whole_file=True)
            return
        if text.lstrip()[:1] == "{" and not lines:
            try:
                document = json.loads(text)
            except json.JSONDecodeError:
                yield from self._lines(path, text.split("\n"), size)  # JSON lines saved as .json
                return
            yield from self._document(path, document, size)
        else:
            yield from self._lines(path, text.split("\n"), size)

    def _advance(self, path: Path) -> None:
        if self._on_bytes is not None:
            try:
                self._on_bytes(path.stat().st_size)
            except OSError:
                pass

    def _raw_records(self, path: Path, records: list[msgspec.Raw], meter: _Meter) -> Iterator[Item]:
        skipped = 0
        might_match = self._might_match
        assert might_match is not None
        for i, raw in enumerate(records):
            meter.at(i)
            # Decoded: what a rule might want, and what is not a CloudTrail record (to be reported).
            if might_match(raw) or _EVENT_NAME(raw) is None or _OBJECT(raw) is None:
                yield _record(path, i, msgspec.json.decode(raw))
            else:
                skipped += 1
        meter.finish()
        if skipped:
            yield Skipped(str(path), skipped)

    def _document(self, path: Path, document: Any, size: int) -> Iterator[Item]:
        if isinstance(document, Mapping) and isinstance(document.get("Records"), list):
            meter = _Meter(self._on_bytes, size, len(document["Records"]))
            for i, record in enumerate(document["Records"]):
                meter.at(i)
                yield _record(path, i, record)
            meter.finish()
            return
        _Meter(self._on_bytes, size, 1).finish()
        if isinstance(document, Mapping) and "detail-type" in document:
            yield str(path), dict(document)
        elif isinstance(document, Mapping) and "digestStartTime" in document:
            yield Companion(str(path), "digest")
        else:
            yield Problem(
                str(path),
                'neither a CloudTrail log file ({"Records": [...]}) nor an EventBridge event',
                whole_file=True,
            )

    def _lines(self, path: Path, lines: list[str], size: int) -> Iterator[Item]:
        meter = _Meter(self._on_bytes, size, len(lines))
        # Problems before the first event are held back: a file in which no line is an event is one
        # unreadable file, not a problem per line.
        held: list[Problem] | None = []
        for number, line in enumerate(lines, start=1):
            meter.at(number)
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                problem = Problem(f"{path}:{number}", f"not JSON: {exc.msg}")
            else:
                if isinstance(item, Mapping) and ("detail-type" in item or "eventName" in item):
                    if held:
                        yield from held
                    held = None
                    event = dict(item) if "detail-type" in item else wrap_record(item)
                    yield f"{path}:{number}", event
                    continue
                problem = Problem(f"{path}:{number}", "neither an EventBridge event nor a CloudTrail record")
            if held is None:
                yield problem
            else:
                held.append(problem)
        meter.finish()
        if held:
            first = held[0]
            yield Problem(
                str(path),
                "neither a CloudTrail log file nor JSON lines of events "
                f"(line {first.location.rsplit(':', 1)[-1]}: {first.reason})",
                whole_file=True,
            )


def events(paths: Iterable[str | Path], might_match: Callable[[bytes], bool] | None = None) -> Iterator[Item]:
    """The items of these files (see Reader)."""
    return Reader(might_match)(paths)


_OBJECT, _EVENT_NAME = re.compile(rb"\{").match, re.compile(rb'"eventName"').search


def _record(path: Path, i: int, record: Any) -> tuple[str, dict[str, Any]] | Problem:
    if isinstance(record, Mapping) and "eventName" in record:
        return f"{path}#{i}", wrap_record(record)
    return Problem(f"{path}#{i}", "not a CloudTrail record")


# --- deciding ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One matched event (or one spike crossing) and what Leash would do with it: a line of --format jsonl."""

    event_id: str
    time: str
    region: str
    account: str
    actor_kind: str
    actor_arn: str
    principal: str  # who a lockdown would lock, and what the report groups by: a session's role
    actor_label: str  # "agent ai-agent-deploy"
    human_behind: str | None
    event_source: str  # CloudTrail's "rds.amazonaws.com"; "leash" for a spike
    event_name: str  # CloudTrail's "DeleteDBInstance"; "AccessDeniedSpike" or "CallVolumeSpike"
    resource: str
    rules: tuple[str, ...]
    function: str
    status: str  # would-alert | ignored | rejected
    severity: str | None
    planned_actions: tuple[str, ...]
    would_reapply: tuple[str, ...] = ()  # protection names
    would_lock: str | None = None  # the principal the lockdown workflow would lock (first request only)
    lockdown: str | None = None  # requested | not-repeated
    reason: str = ""

    @property
    def call(self) -> str:
        """'rds:DeleteDBInstance', 'leash:AccessDeniedSpike': how alerts and IAM name the call."""
        return f"{self.event_source.split('.', 1)[0]}:{self.event_name}"

    @property
    def would_publish(self) -> bool:
        return self.status == "would-alert"

    def to_dict(self) -> dict[str, Any]:
        return {
            "eventID": self.event_id,
            "time": self.time,
            "region": self.region,
            "account": self.account,
            "actor_kind": self.actor_kind,
            "actor_arn": self.actor_arn,
            "principal": self.principal,
            "human_behind": self.human_behind,
            "eventSource": self.event_source,
            "eventName": self.event_name,
            "resource": self.resource,
            "rules": list(self.rules),
            "function": self.function,
            "status": self.status,
            "severity": self.severity,
            "planned_actions": list(self.planned_actions),
            "would_publish": self.would_publish,
            "would_reapply": list(self.would_reapply),
            "would_lock": self.would_lock,
            "lockdown": self.lockdown,
            "reason": self.reason,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


class _RecordingClients:
    """Stands in for boto3 clients: the reapply steps run, and nothing is called."""

    def __call__(self, service: str, region: str) -> Any:
        return self

    def __getattr__(self, operation: str) -> Any:
        return lambda **kwargs: {}


@dataclass
class Report:
    read: int = 0  # records read (those the prefilter ruled out included)
    matched: int = 0  # distinct events a rule matched
    duplicates: int = 0  # events seen again under an eventID already decided
    files: int = 0
    unreadable_files: int = 0
    companions: Counter = field(default_factory=Counter)  # digest / Insights files skipped
    problem_count: int = 0
    problems: list[Problem] = field(default_factory=list)  # the first MAX_PROBLEMS of them
    rules: Counter = field(default_factory=Counter)
    severities: Counter = field(default_factory=Counter)
    protections: Counter = field(default_factory=Counter)  # protection name -> times Leash would put it back
    fixes: dict[str, str] = field(default_factory=dict)  # protection name -> what putting it back does
    lockdowns: Counter = field(default_factory=Counter)  # principal -> 1: locked once, as the workflow does
    unseen: Counter = field(
        default_factory=Counter
    )  # region -> calls no forwarder sends home (WatchedRegions)
    not_repeated: Counter = field(default_factory=Counter)  # principal -> later requests the workflow refuses

    MAX_PROBLEMS = 1000

    @property
    def readable_files(self) -> int:
        return self.files - self.unreadable_files - sum(self.companions.values())


def lock_subject(principal: str) -> str:
    """What the lockdown workflow locks for a principal: a role (named by a session of it, or by its ARN
    with any path: a role's name is unique in its account), else the principal itself."""
    parts = principal.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        resource = parts[5]
        if parts[2] == "sts" and resource.startswith("assumed-role/"):
            name = resource.split("/")[1]
        elif parts[2] == "iam" and resource.startswith("role/"):
            name = resource.rsplit("/", 1)[-1]
        else:
            return principal
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{name}"
    return principal


class Replay:
    """Routes events like EventBridge and decides like the handlers, with no AWS call."""

    SPIKE_BATCH = 1000  # records per spike batch (a call matched by both rules is two): BatchSize
    SLACK_SECONDS = 3_600  # how late a call may arrive after the newest window (CloudTrail: ~15 min)

    def __init__(
        self,
        template_path: Path = TEMPLATE,
        overrides: Mapping[str, str] | None = None,
        account: str = "123456789012",
        home_region: str = "us-east-1",
    ):
        template = load_template(template_path)
        self.home_region = home_region
        self.watched = watched_regions(template, overrides)
        deployment = deployment_for(template, overrides, account=account, region=home_region)
        self.router = Router(eventbridge_rules(template, deployment))
        # Leash's own resources, as the deployed stack would list them: tampering is judged by them.
        own = leash_resources(template, deployment)
        # The environment the deployed functions would have: the same parameters, resolved by the template.
        env = function_environment(template, list(HANDLED), overrides, account=account)
        config = ActorConfig.from_env(env)
        lockdowns = LockdownSettings.from_env(env)
        auto = AutoLockdown(lockdowns)
        self._requests: list[Mapping[str, Any]] = []

        plan = Reapplier(
            _RecordingClients(), ReapplySettings.from_env(env, PROTECTION_NAMES), config, clock=lambda: 0.0
        )
        actors = ActorCache(config)  # replay looks no tags up: an identity is classified once
        self._handlers = {
            "NotifyFunction": Notifier(
                config,
                _published,
                auto_lockdown=auto,
                request_lockdown=self._requests.append,
                actors=actors,
                leash=lambda: own,
            ),
            "ReapplyFunction": Notifier(
                config,
                _published,
                respond=_dry_run(plan),
                auto_lockdown=auto,
                request_lockdown=self._requests.append,
                actors=actors,
                leash=lambda: own,
            ),
        }
        self._actor_config = config
        self._spike_config = SpikeConfig.from_env(env)
        self._lockdown_kinds = lockdowns.kinds
        # The spike function's own consumer, over counters in memory: one for every region, as the home
        # stack counts the forwarded calls with its own. Windows an hour behind the newest call are forgotten.
        self._spike_store = InMemoryCounterStore()
        self._spike_consumer = SpikeConsumer(
            config,
            self._spike_config,
            self._spike_store,
            _published,
            lockdown_kinds=self._lockdown_kinds,
            request_lockdown=self._requests.append,
        )
        self._spike_batch = self._new_batch()
        self.spike_alerts: list[Alert] = []
        self.spike_windows_held = 0  # the most spike windows memory held at once
        self._seen: set[str] = set()  # eventIDs decided: the handlers' idempotency, over the history
        self._locked: dict[str, str] = {}  # principal locked -> the eventID that locked it
        self.report = Report()
        # The Slack messages and pages these alerts would make, grouped into incidents (QuietMinutes).
        self.traffic = SlackTraffic(InMemoryIncidents(IncidentSettings.from_env(env).quiet_seconds))
        self.on_problem: Callable[[Problem], None] | None = None

    # -- the history ------------------------------------------------------------------------------

    def run(
        self, paths: Iterable[str | Path], on_bytes: Callable[[int], None] | None = None
    ) -> Iterator[Decision]:
        """Read, route and decide every call in these files, then the spikes they add up to.

        Problems and counts go to the report (and each problem to `on_problem` as it is found).
        """
        reader = Reader(self.router.record_prefilter(), on_bytes)
        try:
            for item in reader(paths):
                if isinstance(item, tuple):
                    yield from self.decide(*item)
                elif isinstance(item, Skipped):
                    self.report.read += item.count
                elif isinstance(item, Companion):
                    self.report.companions[item.kind] += 1
                else:
                    self.problem(item)
            yield from self.finish_spikes()
        finally:
            self.report.files += reader.files
            self.report.unreadable_files += reader.unreadable

    def problem(self, problem: Problem) -> None:
        """Count a problem once per record (a record two rules reach may be refused twice)."""
        if self.report.problems and self.report.problems[-1].location == problem.location:
            return
        self.report.problem_count += 1
        if len(self.report.problems) < Report.MAX_PROBLEMS:
            self.report.problems.append(problem)
        if self.on_problem is not None:
            self.on_problem(problem)

    def decide(self, location: str, event: Mapping[str, Any]) -> list[Decision]:
        """Every decision for one event: one per function its rules reach, and any spikes it completes."""
        self.report.read += 1
        detail = event.get("detail") or {}
        if not self._seen_at_home(detail):
            return []
        targets = self.router.targets(event)
        if not targets:
            return []
        event_id = detail.get("eventID") if isinstance(detail, Mapping) else None
        if isinstance(event_id, str) and event_id:
            if event_id in self._seen:  # delivered twice, or the same log file read twice
                self.report.duplicates += 1
                return []
            self._seen.add(event_id)
        self.report.matched += 1
        decisions = []
        for function, rules in targets.items():
            self.report.rules.update(rules)
            if function == "SpikeQueue":
                decisions += self._count_spike(location, event, copies=len(rules))
                continue
            handler = self._handlers.get(function)
            if handler is None:
                continue
            self._requests.clear()
            outcome = handler.handle(event)
            if outcome.status == "rejected":
                self.problem(Problem(location, outcome.reason))
            decisions.append(self._decision(event, rules, function, outcome))
        return decisions

    def _seen_at_home(self, detail: Any) -> bool:
        """Whether the home stack receives this call (a record without a region is decided, and refused, there)."""
        region = detail.get("awsRegion") if isinstance(detail, Mapping) else None
        if not isinstance(region, str) or not region:
            return True
        if sees(region, str(detail.get("eventSource") or ""), self.home_region, self.watched):
            return True
        self.report.unseen[region] += 1
        return False

    def _decision(
        self, event: Mapping[str, Any], rules: tuple[str, ...], function: str, outcome: NotifyOutcome
    ) -> Decision:
        alert = outcome.alert
        detail: Mapping[str, Any] = _mapping(event.get("detail"))
        if alert is None:
            identity = _mapping(detail.get("userIdentity"))
            arn = str(identity.get("arn") or "")
            return Decision(
                event_id=str(detail.get("eventID") or ""),
                time=str(detail.get("eventTime") or ""),
                region=str(detail.get("awsRegion") or ""),
                account=str(detail.get("recipientAccountId") or ""),
                actor_kind="",
                actor_arn=arn,
                principal=lock_subject(arn),
                actor_label="",
                human_behind=None,
                event_source=str(detail.get("eventSource") or ""),
                event_name=str(detail.get("eventName") or ""),
                resource="",
                rules=rules,
                function=function,
                status=str(outcome.status),
                severity=None,
                planned_actions=(),
                reason=outcome.reason,
            )
        source = str(detail.get("eventSource") or "")
        return self._alert_decision(alert, rules, function, source, str(detail.get("eventName") or ""))

    def _alert_decision(
        self, alert: Alert, rules: tuple[str, ...], function: str, event_source: str, event_name: str
    ) -> Decision:
        actions = tuple(replace(a, dry_run=True) for a in alert.leash_did)
        self.report.severities[str(alert.severity)] += 1
        self.traffic.add(alert)
        planned, reapply, would_lock, lockdown = [], [], None, None
        for action in actions:
            text = describe(action)
            if action.kind is ActionKind.REAPPLIED:
                self.report.protections[action.protection] += 1
                self.report.fixes[action.protection] = action.fix
                reapply.append(action.protection)
            elif action.kind is ActionKind.LOCKDOWN_REQUESTED and action.principal:
                subject = lock_subject(action.principal)
                first = self._locked.setdefault(subject, alert.event_id)
                if first == alert.event_id:
                    self.report.lockdowns[subject] += 1
                    would_lock, lockdown = subject, "requested"
                else:
                    self.report.not_repeated[subject] += 1
                    lockdown = "not-repeated"
                    text += f", which the workflow would not repeat: already locked down after {first}"
            planned.append(text)
        actor = alert.actor
        return Decision(
            event_id=alert.event_id,
            time=alert.time,
            region=alert.region,
            account=alert.account,
            actor_kind=str(actor.get("kind") or ""),
            actor_arn=str(actor.get("arn") or ""),
            principal=str(actor.get("roleArn") or actor.get("arn") or ""),
            actor_label=str(actor.get("label") or ""),
            human_behind=actor.get("sourceIdentity"),
            event_source=event_source,
            event_name=event_name,
            resource=alert.resource,
            rules=rules,
            function=function,
            status="would-alert",
            severity=str(alert.severity),
            planned_actions=tuple(planned),
            would_reapply=tuple(p for p in reapply if p),
            would_lock=would_lock,
            lockdown=lockdown,
            reason="; ".join(alert.reasons),
        )

    # -- spikes -----------------------------------------------------------------------------------

    def _count_spike(self, location: str, event: Mapping[str, Any], copies: int = 1) -> list[Decision]:
        """Queue the event once per spike rule that matched it, as EventBridge does; the batch counts it once."""
        batch = self._spike_batch
        try:
            for _ in range(copies):
                batch.add(event, location)
        except ValueError as exc:
            self.problem(Problem(location, str(exc)))
            return []
        return self._flush() if batch.calls + batch.copies >= self.SPIKE_BATCH else []

    def _new_batch(self) -> BatchAggregator:
        return BatchAggregator(self._actor_config, self._spike_config, keep_message_ids=False)

    def _flush(self) -> list[Decision]:
        """Hand the batch to the consumer, as SQS hands a batch to the spike function."""
        store, batch = self._spike_store, self._spike_batch
        result = self._spike_consumer.consume(batch)
        self.spike_windows_held = max(self.spike_windows_held, store.windows)
        store.forget_before(store.newest_window - self.SLACK_SECONDS - self._spike_config.window_seconds)
        self._spike_batch = self._new_batch()
        decisions = []
        for alert in result.alerts:  # its region: where the calls it counts were made, most first
            self.spike_alerts.append(alert)
            source, name = alert.action.split(":", 1)  # leash:AccessDeniedSpike
            rule = "DeniedCallsRule" if name == "AccessDeniedSpike" else "AgentCallsRule"
            decisions.append(self._alert_decision(alert, (rule,), "SpikeFunction", source, name))
        return decisions

    def finish_spikes(self) -> list[Decision]:
        """The spikes of the calls still in a batch (windows as the deployed counters would have them)."""
        return self._flush()


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _published(alert: Alert) -> str:
    """Replay publishes nothing: the decision holds the alert."""
    return "replay"


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
