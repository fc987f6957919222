"""Incidents: the alerts of one principal from its first until a quiet period, as one piece of state.

An agent role's sessions count together, a human is one identity (leash.incidents.principal_of). The
publisher opens or joins the incident of each alert before publishing it (the incident id travels as an
SNS message attribute); the Slack function keeps the thread of each incident in the same record, and the
interaction endpoint marks it acknowledged. Two stores behind one Protocol: DynamoDB for the functions,
memory for replay and the demo (a test proves they agree).

Concurrency: the principal's pointer item names its open incident; it moves only by a conditional write
(compare-and-swap on the incident it named and that incident's last time), so two alerts recorded at the
same moment join one incident, never two. Counters are DynamoDB ADDs: no update is lost.

Once per alert: a publish that fails after its alert was counted is retried whole by Lambda, so the count
goes with a marker item ("alert#<hash of the event id>", same TTL) in one TransactWriteItems, on the
condition that the marker is new. A retry finds the marker and gets the incident it was counted in, the
same id as the first try; the incident item never grows with the alerts it counted.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from leash.alerts import Alert
from leash.model import ActionKind, Severity
from leash.settings import IncidentSettings

QUIET_MINUTES = 30  # default of the QuietMinutes deploy parameter
KEEP_SECONDS = 7 * 24 * 3600  # an incident's record outlives its quiet period by a week (TTL), for the digest
REQUESTED = "requested"  # Leash asked for a lockdown; the workflow's notice says what came of it
LOCKED_DOWN = "locked down"
LOCKDOWN_NOTICES = {
    "lockdown-applied": LOCKED_DOWN,
    "released": "released",
    "lockdown-failed": "lockdown failed",
}


NO_PRINCIPAL = "leash"  # alarms and messages Leash did not write: no one's incident, posted on their own


def principal_of(alert: Alert) -> str:
    """Whose incident an alert belongs to: an agent role's sessions together (the role), a person as one identity.

    A person's identity is their own session's or user's ARN, never the role behind it: an IAM Identity Center
    permission set's role is shared by everyone given the set, and its session ARN names the user.
    """
    if alert.kind in ("alarm", "message"):
        return NO_PRINCIPAL
    actor = alert.actor
    if actor.get("lockdownPrincipal") or actor.get("kind") == "agent":
        found = actor.get("lockdownPrincipal") or actor.get("roleArn") or actor.get("arn") or ""
    else:
        found = actor.get("arn") or actor.get("roleArn") or ""
    return found if isinstance(found, str) and found else NO_PRINCIPAL


def alert_epoch(alert: Alert, now: Callable[[], float] = time.time) -> float:
    """When the call happened (CloudTrail's eventTime): replay and late deliveries group by the call's time."""
    try:
        stamp = datetime.fromisoformat(alert.time.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return now()
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def incident_id(principal: str, opened: float) -> str:
    """Short, stable, safe as an SQS message group and an SNS attribute: the principal's hash and the start."""
    digest = hashlib.sha256(principal.encode("utf-8", "replace")).hexdigest()[:16]
    return f"inc-{digest}-{int(opened)}"


@dataclass(frozen=True, slots=True)
class Incident:
    """What the parent message summarises; counts by severity, what Leash put back, the Slack thread."""

    id: str
    principal: str
    label: str = ""  # "agent ai-agent-deploy"
    humans: tuple[str, ...] = ()  # the people behind its sessions (source identity)
    opened: float = 0.0
    last: float = 0.0
    counts: Mapping[str, int] = field(default_factory=dict)  # severity -> alerts
    put_back: tuple[str, ...] = ()  # protections Leash put back ("S3 versioning on backups")
    lockdown: str = ""  # "" | "requested" | "locked down" | "released" | "lockdown failed"
    last_title: str = ""
    last_severity: str = ""
    channel: str = ""  # the Slack parent message (Web API mode)
    thread_ts: str = ""
    posted: int = 0  # alerts the Slack function has handled (posted, replied or held for the digest)
    webhook_posts: int = 0  # webhook fallback: alerts posted on their own (the first and the criticals)
    digested: bool = False  # gone quiet and closed: the digest sent (webhook) or the parent updated (Web API)
    acknowledged_by: str = ""
    parent_alert: str = ""  # the last alert's button fields (leash.incident_blocks.button_alert), to close it

    @property
    def alerts(self) -> int:
        return sum(self.counts.values())

    @property
    def worst(self) -> Severity:
        return next((s for s in Severity if self.counts.get(str(s))), Severity.LOW)


def _lockdown_state(alert: Alert) -> str:
    if alert.kind == "workflow":
        return LOCKDOWN_NOTICES.get(alert.notice, "")
    if any(a.kind is ActionKind.LOCKDOWN_REQUESTED for a in alert.leash_did):
        return REQUESTED
    return ""


def _next_lockdown(current: str, seen: str) -> str:
    """A request never hides what the workflow said: a second request after "locked down" leaves it so."""
    if seen == REQUESTED and current:
        return current
    return seen or current


def _put_back(alert: Alert) -> list[str]:
    return [
        f"{a.title or a.protection} on {a.resource or alert.resource}"[:200]
        for a in alert.leash_did
        if a.kind is ActionKind.REAPPLIED
    ]


class IncidentStore(Protocol):
    """Where incidents live: DynamoDbIncidents in the functions, InMemoryIncidents in replay and the demo."""

    def record(self, alert: Alert, /) -> Incident:
        """Open or join the alert's incident and count the alert in it.

        DynamoDbIncidents counts an alert with an event id once (a retried publish gets the same incident);
        InMemoryIncidents counts what it is given (replay and the demo give each call once).
        """
        ...

    def get(self, incident_id: str, /) -> Incident | None: ...

    def update(self, incident_id: str, /, **changes: Any) -> None:
        """Set Slack-side fields (channel, thread_ts, posted, webhook_posts, digested, acknowledged_by,
        parent_alert)."""
        ...

    def quiet(self, before: float, /) -> list[Incident]:
        """Incidents whose last alert is older than `before` and whose digest is not sent."""
        ...


class InMemoryIncidents:
    """The same decisions as DynamoDbIncidents, in memory (replay, the demo, unit tests)."""

    def __init__(self, quiet_seconds: float = QUIET_MINUTES * 60, now: Callable[[], float] = time.time):
        self._quiet = quiet_seconds
        self._now = now
        self._open: dict[str, str] = {}  # principal -> incident id
        self.incidents: dict[str, Incident] = {}

    def record(self, alert: Alert) -> Incident:
        principal, at = principal_of(alert), alert_epoch(alert, self._now)
        current = self.incidents.get(self._open.get(principal, ""))
        if current is None or at - current.last > self._quiet:
            current = Incident(incident_id(principal, at), principal, opened=at, last=at)
            self._open[principal] = current.id
        counts = dict(current.counts)
        counts[str(alert.severity)] = counts.get(str(alert.severity), 0) + 1
        human = alert.actor.get("sourceIdentity")
        updated = replace(
            current,
            label=current.label or str(alert.actor.get("label") or ""),
            humans=tuple(sorted({*current.humans, *([str(human)[:200]] if human else [])})),
            last=max(current.last, at),
            counts=counts,
            put_back=tuple(sorted({*current.put_back, *_put_back(alert)})),
            lockdown=_next_lockdown(current.lockdown, _lockdown_state(alert)),
            last_title=alert.title if at >= current.last or not current.last_title else current.last_title,
            last_severity=str(alert.severity)
            if at >= current.last or not current.last_severity
            else current.last_severity,
            digested=False,
        )
        self.incidents[updated.id] = updated
        return updated

    def get(self, incident_id: str) -> Incident | None:
        return self.incidents.get(incident_id)

    def update(self, incident_id: str, /, **changes: Any) -> None:
        self.incidents[incident_id] = replace(self.incidents[incident_id], **changes)

    def quiet(self, before: float) -> list[Incident]:
        return [i for i in self.incidents.values() if i.last < before and not i.digested]


class DynamoDbIncidents:
    """Incidents in the IncidentTable: `pk` "principal#<arn>" points at the open incident, "incident#<id>" holds it.

    Every item expires (TTL attribute `expiration`) a week after its incident went quiet.
    """

    MAX_TRIES = 8  # compare-and-swap rounds; each lost round means another writer made progress

    def __init__(
        self,
        dynamodb_client: Any,
        table: str,
        quiet_seconds: float = QUIET_MINUTES * 60,
        now: Callable[[], float] = time.time,
    ):
        self._db = dynamodb_client
        self._table = table
        self._quiet = quiet_seconds
        self._now = now

    # -- the publisher's side -------------------------------------------------------------------

    def record(self, alert: Alert) -> Incident:
        principal, at = principal_of(alert), alert_epoch(alert, self._now)
        marker = _marker(alert)
        counted = self._counted(marker)
        if counted is not None:
            return counted  # a retry: counted the first time, in this incident
        incident, newest = self._open_or_join(principal, at)
        for _ in range(self.MAX_TRIES):
            try:
                return self._count(incident, principal, alert, at, newest, marker)
            except self._db.exceptions.TransactionCanceledException as exc:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if (
                    reasons and reasons[0] == "ConditionalCheckFailed"
                ):  # counted at this moment by another try
                    counted = self._counted(marker)
                    if counted is not None:
                        return counted
                continue  # TransactionConflict: another write of the incident was under way
        raise RuntimeError(f"could not count {alert.event_id} in incident {incident}: too much contention")

    def _counted(self, marker: dict[str, Any] | None) -> Incident | None:
        """The incident an alert was already counted in, if it was."""
        if marker is None:
            return None
        item = self._db.get_item(TableName=self._table, Key=marker, ConsistentRead=True).get("Item")
        return self.get(item["incident"]["S"]) if item and "incident" in item else None

    def _open_or_join(self, principal: str, at: float) -> tuple[str, bool]:
        """The incident this call belongs to, and whether it is the incident's newest call so far."""
        key = {"pk": {"S": f"principal#{principal}"}}
        for _ in range(self.MAX_TRIES):
            item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
            if item and at - float(item["last"]["N"]) <= self._quiet:
                if at <= float(item["last"]["N"]):
                    return str(
                        item["incident"]["S"]
                    ), False  # a late call of the open incident: nothing moves
                chosen, condition = item["incident"]["S"], "incident = :seen AND #last = :seen_last"
            elif item:
                chosen, condition = incident_id(principal, at), "incident = :seen AND #last = :seen_last"
            else:
                chosen, condition = incident_id(principal, at), "attribute_not_exists(pk)"
            values: dict[str, Any] = {
                ":incident": {"S": chosen},
                ":at": {"N": _n(at)},
                ":exp": {"N": _n(self._expiry(at))},
            }
            if item:
                values |= {":seen": item["incident"], ":seen_last": item["last"]}
            try:
                self._db.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="SET incident = :incident, #last = :at, expiration = :exp",
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#last": "last"},
                    ExpressionAttributeValues=values,
                )
                return chosen, True
            except self._db.exceptions.ConditionalCheckFailedException:
                continue  # another alert moved the pointer first: read it again
        raise RuntimeError(f"could not record the incident of {principal}: too much contention")

    def _count(
        self,
        incident: str,
        principal: str,
        alert: Alert,
        at: float,
        newest: bool,
        marker: dict[str, Any] | None,
    ) -> Incident:
        names = {"#last": "last", "#c": f"n_{alert.severity}"}
        values: dict[str, Any] = {
            ":one": {"N": "1"},
            ":principal": {"S": principal},
            ":at": {"N": _n(at)},
            ":exp": {"N": _n(self._expiry(at))},
            ":title": {"S": alert.title[:500]},
            ":severity": {"S": str(alert.severity)},
            ":label": {"S": str(alert.actor.get("label") or "")},
            ":false": {"BOOL": False},
        }
        sets = [
            "principal = :principal",
            "opened = if_not_exists(opened, :at)",
            "label = if_not_exists(label, :label)",
            "digested = :false",
        ]
        if newest:  # a late call counts, but the summary's "last call" stays the newest
            sets += ["#last = :at", "expiration = :exp", "last_title = :title", "last_severity = :severity"]
        else:
            sets += ["#last = if_not_exists(#last, :at)", "expiration = if_not_exists(expiration, :exp)"]
            sets += ["last_title = if_not_exists(last_title, :title)"]
            sets += ["last_severity = if_not_exists(last_severity, :severity)"]
        adds = []
        human = alert.actor.get("sourceIdentity")
        if human:
            adds.append("humans :human")
            values[":human"] = {"SS": [str(human)[:200]]}
        put_back = _put_back(alert)
        if put_back:
            adds.append("put_back :put_back")
            values[":put_back"] = {"SS": put_back}
        lockdown = _lockdown_state(alert)
        if lockdown:  # as _next_lockdown: a request does not overwrite the workflow's word
            sets.append(
                "lockdown = if_not_exists(lockdown, :lockdown)"
                if lockdown == REQUESTED
                else "lockdown = :lockdown"
            )
            values[":lockdown"] = {"S": lockdown}
        count = {
            "TableName": self._table,
            "Key": {"pk": {"S": f"incident#{incident}"}},
            "UpdateExpression": f"SET {', '.join(sets)} ADD #c :one{''.join(', ' + a for a in adds)}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if marker is None:  # no event id to know a retry by (a workflow notice): counted as it comes
            return _incident(self._db.update_item(**count, ReturnValues="ALL_NEW")["Attributes"])
        once = {  # an Update, not a Put: the publishers' role needs dynamodb:UpdateItem only
            "TableName": self._table,
            "Key": marker,
            "UpdateExpression": "SET incident = :incident, expiration = :exp",
            "ConditionExpression": "attribute_not_exists(pk)",
            "ExpressionAttributeValues": {":incident": {"S": incident}, ":exp": values[":exp"]},
        }
        self._db.transact_write_items(TransactItems=[{"Update": once}, {"Update": count}])
        counted = self.get(incident)
        assert counted is not None  # just written
        return counted

    # -- the Slack function's side --------------------------------------------------------------

    def get(self, incident_id: str) -> Incident | None:
        item = self._db.get_item(
            TableName=self._table, Key={"pk": {"S": f"incident#{incident_id}"}}, ConsistentRead=True
        ).get("Item")
        return _incident(item) if item else None

    def update(self, incident_id: str, /, **changes: Any) -> None:
        names = {f"#{k}": k for k in changes}
        values = {f":{k}": _attribute(v) for k, v in changes.items()}
        for tries_left in reversed(range(self.MAX_TRIES)):
            try:
                self._db.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": f"incident#{incident_id}"}},
                    UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in changes),
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
                return
            except self._db.exceptions.TransactionConflictException:
                if not tries_left:  # a publisher's count (a transaction) was under way on the item
                    raise

    def quiet(self, before: float) -> list[Incident]:
        """A scan: the table holds only the last week (TTL): its incidents, a few hundred items at most, and
        one small marker per alert (tens of bytes each; 10,000 alerts are well under a megabyte to read)."""
        found: list[Incident] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "begins_with(pk, :incident) AND #last < :before AND digested = :false",
            "ExpressionAttributeNames": {"#last": "last"},
            "ExpressionAttributeValues": {
                ":incident": {"S": "incident#"},
                ":before": {"N": _n(before)},
                ":false": {"BOOL": False},
            },
        }
        while True:
            page = self._db.scan(**kwargs)
            found += [_incident(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _expiry(self, at: float) -> float:
        return max(at, self._now()) + self._quiet + KEEP_SECONDS


def _marker(alert: Alert) -> dict[str, Any] | None:
    """The key of the item that says an alert is counted (None for an alert with no event id)."""
    if not alert.event_id:
        return None
    digest = hashlib.sha256(alert.event_id.encode("utf-8", "replace")).hexdigest()[:32]
    return {"pk": {"S": f"alert#{digest}"}}


def _n(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def _attribute(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": _n(value)}
    return {"S": str(value)}


def _incident(item: Mapping[str, Any]) -> Incident:
    def s(name: str) -> str:
        return str(item.get(name, {}).get("S", ""))

    def n(name: str) -> float:
        return float(item.get(name, {}).get("N", 0))

    counts = {str(sev): int(n(f"n_{sev}")) for sev in Severity if f"n_{sev}" in item}
    return Incident(
        id=s("pk").removeprefix("incident#"),
        principal=s("principal"),
        label=s("label"),
        humans=tuple(sorted(item.get("humans", {}).get("SS", []))),
        opened=n("opened"),
        last=n("last"),
        counts=counts,
        put_back=tuple(sorted(item.get("put_back", {}).get("SS", []))),
        lockdown=s("lockdown"),
        last_title=s("last_title"),
        last_severity=s("last_severity"),
        channel=s("channel"),
        thread_ts=s("thread_ts"),
        posted=int(n("posted")),
        webhook_posts=int(n("webhook_posts")),
        digested=bool(item.get("digested", {}).get("BOOL", False)),
        acknowledged_by=s("acknowledged_by"),
        parent_alert=s("parent_alert"),
    )


def severities_text(counts: Mapping[str, int]) -> str:
    """ "2 critical, 5 high, 33 medium": the counts in severity order."""
    return ", ".join(f"{counts[str(s)]:,} {s}" for s in Severity if counts.get(str(s))) or "none"


def record_all(store: IncidentStore, alerts: Iterable[Alert]) -> list[Incident]:
    """Record alerts in order (tests and the demo)."""
    return [store.record(alert) for alert in alerts]


PAGED = (Severity.CRITICAL, Severity.HIGH)  # what the README's pager filter policy lets through


@dataclass
class SlackTraffic:
    """The messages a stream of alerts makes, by leash.slack_incidents' rules, without posting anything.

    `leash replay` and the noise benchmark count with it; tests/functional/test_incidents.py checks it against
    what the real Slack function posts.
    """

    store: InMemoryIncidents = field(default_factory=InMemoryIncidents)
    alerts: int = 0
    parents: int = 0  # Web API: one message in the channel per incident
    replies: int = 0  # Web API: each later alert, in its incident's thread
    broadcasts: int = 0  # Web API: criticals in a thread, also shown in the channel
    updates: int = 0  # Web API: chat.update of the parent's summary
    webhook_posts: int = 0  # webhook fallback: the first alert of each incident and every critical
    pages: dict[str, int] = field(default_factory=dict)  # severity -> messages a critical+high filter passes
    _alone: dict[str, int] = field(default_factory=dict)  # incident -> alerts the webhook posted alone

    alone: int = 0  # alerts of no principal (alarms): a message of their own either way

    def add(self, alert: Alert) -> Incident | None:
        self.alerts += 1
        if alert.severity in PAGED:
            self.pages[str(alert.severity)] = self.pages.get(str(alert.severity), 0) + 1
        if principal_of(alert) == NO_PRINCIPAL:
            self.alone += 1
            return None
        incident = self.store.record(alert)
        critical = alert.severity is Severity.CRITICAL
        if incident.alerts == 1:
            self.parents += 1
            self.webhook_posts += 1
            self._alone[incident.id] = 1
        else:
            self.replies += 1
            self.updates += 1
            self.broadcasts += critical
            self.webhook_posts += critical
            self._alone[incident.id] += critical
        return incident

    @property
    def incidents(self) -> int:
        return len(self.store.incidents)

    @property
    def top_level(self) -> int:
        """Messages in the channel itself with a bot token: a parent per incident, each critical broadcast and
        each alert of no principal (an alarm)."""
        return self.parents + self.broadcasts + self.alone

    @property
    def digests(self) -> int:
        """Webhook fallback: one digest per incident with alerts that were not posted on their own."""
        return sum(1 for i in self.store.incidents.values() if i.alerts > self._alone.get(i.id, 0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "alerts": self.alerts,
            "incidents": self.incidents,
            "top_level_posts": self.top_level,
            "parents": self.parents,
            "thread_replies": self.replies,
            "critical_broadcasts": self.broadcasts,
            "summary_updates": self.updates,
            "pages": {str(s): self.pages.get(str(s), 0) for s in PAGED},
            "alone": self.alone,
            "webhook_fallback": {"posts": self.webhook_posts + self.alone, "digests": self.digests},
        }


def incidents_from_env(env: Mapping[str, str], dynamodb_client: Any) -> DynamoDbIncidents | None:
    """The incident store of LEASH_INCIDENT_TABLE (LEASH_QUIET_MINUTES), or None when the function has none."""
    settings = IncidentSettings.from_env(env)
    if not settings.table:
        return None
    return DynamoDbIncidents(dynamodb_client, settings.table, settings.quiet_seconds)
