"""Catch-up from the trail's own log files: the calls EventBridge never delivered, handled late and once.

EventBridge delivers CloudTrail events best effort; the trail's S3 log files are the complete record.
Each new log file is read, each record wrapped in the envelope EventBridge gives it (leash.events.wrap_record),
routed by the rules Leash deployed (leash.routing), and handed to the notify and reapply functions' own
Notifiers with their idempotency: an eventID Leash already handled is not handled again, and one handled
here is a duplicate when EventBridge delivers it late.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol
from urllib.parse import unquote_plus

from leash.events import wrap_record
from leash.notify import Outcome
from leash.routing import RoutedRule, Router

# <prefix>/AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz. Digest and Insights
# files live beside them, under CloudTrail-Digest/ and CloudTrail-Insight/: no API calls in them.
_LOG_KEY = re.compile(
    r"AWSLogs/(?:o-[a-z0-9]+/)?(?P<account>\d{12})/(?P<folder>CloudTrail(?:-[A-Za-z]+)?)/"
    r"(?P<region>[a-z0-9-]+)/\d{4}/\d{2}/\d{2}/[^/]+\.json\.gz"
)
FileKind = Literal["log", "digest", "insights", "other-account", "not-a-log"]


class MalformedLogFile(ValueError):
    """The object is not a CloudTrail log file (not gzip, not JSON, no Records): reported, never retried."""


class NoDeployedRules(RuntimeError):
    """No rule sends events to the notify or reapply function: the files are retried, then parked (alarm)."""


class MalformedMessage(ValueError):
    """The queue message is neither an S3 event notification nor an EventBridge S3 event."""


@dataclass(frozen=True)
class LogObject:
    bucket: str
    key: str


def log_objects(body: str) -> list[LogObject]:
    """The objects a queue message announces: an S3 event notification, an EventBridge "Object Created"
    event, or either wrapped in an SNS notification (a bucket whose notifications fan out through SNS).
    S3's test event announces none."""
    try:
        message = json.loads(body)
    except (TypeError, json.JSONDecodeError) as exc:
        raise MalformedMessage(f"the message is not JSON: {exc}") from exc
    if isinstance(message, Mapping) and message.get("Type") == "Notification" and "Message" in message:
        return log_objects(message["Message"])
    if not isinstance(message, Mapping):
        raise MalformedMessage("the message is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    if isinstance(message.get("Records"), list):
        return [
            LogObject(r["s3"]["bucket"]["name"], unquote_plus(r["s3"]["object"]["key"]))
            for r in message["Records"]
            if _is_s3_record(r)
        ]
    detail = message.get("detail")
    if message.get("source") == "aws.s3" and isinstance(detail, Mapping):
        try:
            return [LogObject(detail["bucket"]["name"], unquote_plus(detail["object"]["key"]))]
        except (KeyError, TypeError) as exc:
            raise MalformedMessage(f"an S3 event without a bucket name or object key ({exc})") from exc
    raise MalformedMessage("neither an S3 event notification nor an EventBridge S3 event")


def _is_s3_record(record: Any) -> bool:
    try:
        return (
            str(record["eventName"]).startswith("ObjectCreated:")
            and isinstance(record["s3"]["bucket"]["name"], str)
            and isinstance(record["s3"]["object"]["key"], str)
        )
    except (KeyError, TypeError):
        return False


def file_kind(key: str, account: str) -> FileKind:
    """What an object of the trail bucket is to this account's Leash, by its key alone."""
    found = _LOG_KEY.search(key)
    if found is None:
        return "not-a-log"
    folder = found["folder"]
    if folder != "CloudTrail":
        return "digest" if folder == "CloudTrail-Digest" else "insights"
    return "log" if found["account"] == account else "other-account"


# --- reading a log file, records left as text until a rule might want them ------------------------

_HEAD, _TAIL, _BOUNDARY = b'{"Records":[', b"]}", b'},{"eventVersion":'


@dataclass
class LogFile:
    records: list[dict[str, Any]]  # the records a rule might want, decoded
    read: int  # every record of the file (the skipped ones included, when the file was split)
    skipped: int  # records the prefilter ruled out, never decoded


def read_log_file(data: bytes, might_match: Callable[[bytes], bool] | None = None) -> LogFile:
    """The records of a CloudTrail log file (gzip or not) that a rule might match.

    CloudTrail writes `{"Records":[{"eventVersion":...},...]}` without whitespace: such a file is split
    at its records' boundaries without decoding, and only the records `might_match` keeps are decoded.
    `{"eventVersion":` can only start an object (a quote inside a string is escaped). Should one start
    an object inside a record (a request's own parameters), both halves of that record are invalid JSON,
    and the half holding what a rule wants (a field and its value are never cut apart) fails to decode:
    then, as for any other layout, the file is decoded whole.
    """
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise MalformedLogFile(f"not a readable gzip file: {exc}") from exc
    if might_match is not None:
        split = _split(data)
        if split is not None:
            wanted = [record for record in split if might_match(record)]
            try:
                decoded = [json.loads(record) for record in wanted]
            except (UnicodeDecodeError, json.JSONDecodeError):
                pass  # not what it looked like: decoded whole below, where the problem is reported
            else:
                return LogFile(decoded, len(split), len(split) - len(wanted))
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedLogFile(f"not JSON: {exc}") from exc
    if not isinstance(document, Mapping) or not isinstance(document.get("Records"), list):
        raise MalformedLogFile('not a CloudTrail log file ({"Records": [...]})')
    records = [r for r in document["Records"] if isinstance(r, dict)]
    return LogFile(records, len(document["Records"]), 0)


def _split(data: bytes) -> list[bytes] | None:
    """The records' texts of a log file as CloudTrail writes it, or None if it is written otherwise."""
    if not (data.startswith(_HEAD + b'{"eventVersion":') and data.endswith(b"}" + _TAIL)):
        return None
    body = data[len(_HEAD) : -len(_TAIL)]
    parts = body.split(_BOUNDARY)
    last = len(parts) - 1
    return [
        (b'{"eventVersion":' if i else b"") + part + (b"}" if i < last else b"")
        for i, part in enumerate(parts)
    ]


# --- handling the records ---------------------------------------------------------------------------


class Handle(Protocol):
    def __call__(self, event: Mapping[str, Any], /, *, caught_late_at: datetime) -> Outcome:
        """A Notifier's handle (leash.notify.Notifier.handle)."""
        ...


@dataclass
class FileReport:
    """What one log file held and what became of it: the log line and the metrics."""

    key: str
    kind: FileKind
    read: int = 0  # records in the file
    skipped: int = 0  # ruled out by the prefilter, never decoded
    matched: int = 0  # records a deployed rule matched
    outcomes: Counter[str] = field(default_factory=Counter)  # "notify:published" -> n
    caught_late: list[str] = field(default_factory=list)  # eventIDs EventBridge never delivered, alerted now
    problems: list[str] = field(default_factory=list)  # records the handlers refused (malformed)
    malformed: str = ""  # why the file is no CloudTrail log file: reported, never retried

    @property
    def already_delivered(self) -> int:
        return sum(n for k, n in self.outcomes.items() if k.endswith(":duplicate"))


class Reconciler:
    """Reads log files and hands each record no deployed rule would miss to the handlers its rules target."""

    def __init__(
        self,
        router: Callable[[], Router],
        handlers: Mapping[str, tuple[str, Handle]],
        read_object: Callable[[str, str], bytes],
        *,
        account: str,
        clock: Callable[[], datetime],
    ):
        """`handlers`: a deployed rule's target (its ARN) -> (a short name for logs, its Notifier's handle)."""
        self._router = router
        self._handlers = handlers
        self._read_object = read_object
        self._account = account
        self._clock = clock
        self._routed: tuple[Router, Callable[[bytes], bool] | None] | None = None

    def reconcile(self, obj: LogObject) -> FileReport:
        """Read one object of the trail bucket and handle its records; a file that is no log is reported."""
        report = FileReport(obj.key, file_kind(obj.key, self._account))
        if report.kind != "log":
            return report
        router, might_match = self._routing()
        try:
            log = read_log_file(self._read_object(obj.bucket, obj.key), might_match)
        except MalformedLogFile as exc:
            report.malformed = f"s3://{obj.bucket}/{obj.key}: {exc}"
            return report
        report.read, report.skipped = log.read, log.skipped
        now = self._clock()
        for record in log.records:
            self._handle(router, wrap_record(record), report, now)
        return report

    def _routing(self) -> tuple[Router, Callable[[bytes], bool] | None]:
        """The router and its prefilter, compiled once per set of rules."""
        router = self._router()
        if self._routed is None or self._routed[0] is not router:
            self._routed = (router, router.record_prefilter())
        return self._routed

    def _handle(self, router: Router, event: dict[str, Any], report: FileReport, now: datetime) -> None:
        targets = router.targets(event)
        handled = [(self._handlers[t], rules) for t, rules in targets.items() if t in self._handlers]
        if not handled:
            return
        report.matched += 1
        for (name, handle), _rules in handled:
            outcome = handle(event, caught_late_at=now)
            report.outcomes[f"{name}:{outcome.status}"] += 1
            if outcome.status == "published" and outcome.alert is not None:
                report.caught_late.append(outcome.alert.event_id)
            elif outcome.status == "rejected":
                report.problems.append(f"{event.get('id')}: {outcome.reason}")


def deployed_rules(events_client: Any, targets: Iterable[str]) -> list[RoutedRule]:
    """The rules on the default bus that send events to these targets (ARNs), with their patterns as deployed.

    A disabled rule is still read: the reconciler catches what it would have matched. A target no rule
    sends to any more (its rules deleted, or their targets removed) fails loudly: NoDeployedRules.
    """
    rules = []
    for target in targets:
        pages = events_client.get_paginator("list_rule_names_by_target").paginate(TargetArn=target)
        names = [n for page in pages for n in page.get("RuleNames", [])]
        if not names:
            raise NoDeployedRules(f"no EventBridge rule on the default bus sends events to {target}")
        for name in names:
            rule = events_client.describe_rule(Name=name)
            if rule.get("EventPattern"):
                rules.append(RoutedRule(name, target, json.loads(rule["EventPattern"])))
    return rules


class CachedRouter:
    """The deployed rules, read again after `ttl_seconds` (a deploy may change them under a warm function)."""

    def __init__(
        self, load: Callable[[], list[RoutedRule]], clock: Callable[[], float], ttl_seconds: int = 900
    ):
        self._load, self._clock, self._ttl = load, clock, ttl_seconds
        self._router: Router | None = None
        self._loaded_at = 0.0

    def __call__(self) -> Router:
        now = self._clock()
        if self._router is None or now - self._loaded_at >= self._ttl:
            self._router, self._loaded_at = Router(self._load()), now
        return self._router
