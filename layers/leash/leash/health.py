"""Proof that Leash is watching: a scheduled health check of its own parts, and a daily heartbeat.

Each check reads one part of the deployment (the stack's rules and their targets, the forwarders in the
watched regions, the trail, the alerts topic's subscribers, the Slack webhook secret) through the clients
passed in, and returns what is wrong as data (Failure). Every failure becomes a critical alert that takes
the second path (Alert.second_path); the heartbeat counts what Leash saw and did in the last 24 hours.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from leash.alerts import Alert
from leash.ledger import FEED, FEED_ATTRIBUTE, TIME_INDEX
from leash.model import ActionKind, Severity
from leash.settings import Env, names, required, text
from leash.slack import bot_token_from_secret, secret_url, webhook_url_from_secret

Clients = Callable[[str, str], Any]
"""(service, region) -> boto3 client (leash.aws.boto3_clients)."""

ENABLED = "ENABLED"
ALL_MANAGEMENT_EVENTS = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
# Incoming webhooks are served from these hosts only (commercial and GovCloud Slack).
FORWARDERS_PARAMETER = "WatchedRegions"  # the stack parameter that lists the regions forwarding to this one
NOT_CONFIGURED = "not configured"


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """What the health function checks, from its environment (template.yaml's HealthFunction)."""

    stack_name: str
    region: str
    account: str
    alerts_topic_arn: str
    ledger_table: str = ""
    namespace: str = "Leash"
    all_events_rules: frozenset[str] = frozenset()  # rules the template sets to ALL_MANAGEMENT_EVENTS
    event_bus: str = ""  # Leash's own bus (the lockdown requests' rule lives there)
    slack_secret_arn: str = ""
    slack_bot_token_arn: str = ""
    slack_forwarder_arn: str = ""
    forwarders_stack_set: str = ""

    @classmethod
    def from_env(cls, env: Env) -> HealthSettings:
        stack = required(env, "LEASH_STACK_NAME")
        return cls(
            stack_name=stack,
            # Lambda sets AWS_REGION; boto3's own default serves sam local and the tests.
            region=text(env, "AWS_REGION") or required(env, "AWS_DEFAULT_REGION"),
            account=text(env, "LEASH_ACCOUNT_ID"),
            alerts_topic_arn=required(env, "ALERTS_TOPIC_ARN"),
            ledger_table=text(env, "LEDGER_TABLE"),
            namespace=text(env, "POWERTOOLS_METRICS_NAMESPACE", "Leash"),
            all_events_rules=names(env, "LEASH_ALL_EVENTS_RULES"),
            event_bus=text(env, "LEASH_EVENT_BUS"),
            slack_secret_arn=text(env, "SLACK_WEBHOOK_SECRET_ARN"),
            slack_bot_token_arn=text(env, "SLACK_BOT_TOKEN_SECRET_ARN"),
            slack_forwarder_arn=text(env, "LEASH_SLACK_FORWARDER_ARN"),
            forwarders_stack_set=text(env, "LEASH_FORWARDERS_STACK_SET") or f"{stack}-forwarders",
        )


@dataclass(frozen=True, slots=True)
class Failure:
    """One thing found wrong: which check, about what, what is wrong and what it costs."""

    check: str  # rules | forwarders | trail | subscriptions | slack
    resource: str
    problem: str  # "rule leash-Notify-X is DISABLED"
    impact: str  # "Leash does not see the calls this rule matches"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check: how many things it looked at, what was wrong, or why it did not run."""

    check: str
    checked: int = 0
    failures: tuple[Failure, ...] = ()
    skipped: str = ""  # "not configured: ..." when there is nothing to check

    @property
    def status(self) -> str:
        return "failed" if self.failures else ("skipped" if self.skipped else "ok")

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "checked": self.checked,
            "skipped": self.skipped or None,
            "failures": [f.problem for f in self.failures],
        }


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Error"))


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


# --- the stack's EventBridge rules ---------------------------------------------------------------


def stack_rules(cloudformation: Any, stack_name: str) -> list[tuple[str, str | None]]:
    """(rule name, event bus) of every AWS::Events::Rule in the stack, SAM's generated ones included.

    A rule on a custom bus has the physical ID "bus|rule"; one on the default bus its name alone. The bus is
    None when the ID does not say (check_rules then looks on the default bus and on Leash's own).
    """
    rules = []
    for resource in _pages(
        cloudformation, "list_stack_resources", "StackResourceSummaries", StackName=stack_name
    ):
        if resource.get("ResourceType") != "AWS::Events::Rule" or not resource.get("PhysicalResourceId"):
            continue
        bus, _, name = resource["PhysicalResourceId"].rpartition("|")
        rules.append((name, bus or None))
    return sorted(rules, key=lambda rule: rule[0])


def check_rules(clients: Clients, settings: HealthSettings) -> CheckResult:
    """Every rule of the stack exists, is enabled as the template says, and has a target."""
    cloudformation = clients("cloudformation", settings.region)
    events = clients("events", settings.region)
    try:
        rules = stack_rules(cloudformation, settings.stack_name)
    except ClientError as exc:
        return CheckResult("rules", failures=(Failure(
            "rules", settings.stack_name,
            f"Leash could not list the rules of its stack {settings.stack_name} ({_code(exc)})",
            "Leash cannot tell whether its rules still deliver CloudTrail events",
        ),))  # fmt: skip
    failures = []
    buses = ("default", settings.event_bus) if settings.event_bus else ("default",)
    for name, bus in rules:
        failures += _rule_failures(events, name, (bus,) if bus else buses, name in settings.all_events_rules)
    if not rules:
        failures.append(Failure(
            "rules", settings.stack_name, f"the stack {settings.stack_name} has no EventBridge rules",
            "no CloudTrail event reaches Leash",
        ))  # fmt: skip
    return CheckResult("rules", len(rules), tuple(failures))


def _rule_failures(events: Any, name: str, buses: tuple[str, ...], needs_all_events: bool) -> list[Failure]:
    unseen = "Leash does not see the calls this rule matches"
    for bus in buses:
        where = {} if bus == "default" else {"EventBusName": bus}
        try:
            state = events.describe_rule(Name=name, **where).get("State")
            targets = list(_pages(events, "list_targets_by_rule", "Targets", Rule=name, **where))
            break
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                return [Failure("rules", name, f"Leash could not read rule {name} ({_code(exc)})", unseen)]
    else:
        return [Failure("rules", name, f"rule {name} was deleted", unseen)]
    failures = []
    if state not in (ENABLED, ALL_MANAGEMENT_EVENTS):
        failures.append(Failure("rules", name, f"rule {name} is {state}", unseen))
    elif needs_all_events and state != ALL_MANAGEMENT_EVENTS:
        failures.append(Failure(
            "rules", name, f"rule {name} is {state}, not {ALL_MANAGEMENT_EVENTS}",
            "read-only calls (most denied probing) no longer reach Leash",
        ))  # fmt: skip
    if not targets:
        failures.append(Failure("rules", name, f"rule {name} has no target", unseen))
    return failures


# --- the forwarders in the watched regions -------------------------------------------------------


def check_forwarders(clients: Clients, settings: HealthSettings) -> CheckResult:
    """Each watched region has a current stack instance of the forwarders' StackSet (when there is one)."""
    cloudformation = clients("cloudformation", settings.region)
    stack_set = settings.forwarders_stack_set
    try:
        cloudformation.describe_stack_set(StackSetName=stack_set)
    except ClientError as exc:
        if _code(exc) == "StackSetNotFoundException":
            return CheckResult("forwarders", skipped=f"{NOT_CONFIGURED}: no StackSet {stack_set}")
        return CheckResult("forwarders", failures=(Failure(
            "forwarders", stack_set, f"Leash could not read its StackSet {stack_set} ({_code(exc)})",
            "Leash cannot tell whether the other regions still forward their events",
        ),))  # fmt: skip
    instances = {
        i["Region"]: i
        for i in _pages(cloudformation, "list_stack_instances", "Summaries", StackSetName=stack_set)
        if not settings.account or i.get("Account") == settings.account
    }
    watched = _watched_regions(cloudformation, settings) or set(instances)
    failures = []
    for region in sorted(watched - {settings.region}):
        instance = instances.get(region)
        detailed = (instance or {}).get("StackInstanceStatus", {}).get("DetailedStatus", "SUCCEEDED")
        if instance is None:
            problem = f"the forwarder in {region} is missing (no stack instance of {stack_set})"
        elif instance.get("Status") != "CURRENT" or detailed != "SUCCEEDED":
            problem = f"the forwarder in {region} is {instance.get('Status')} ({detailed})"
        else:
            continue
        failures.append(Failure(
            "forwarders", f"{stack_set} {region}", problem, f"Leash does not see the calls made in {region}",
        ))  # fmt: skip
    return CheckResult("forwarders", len(watched - {settings.region}), tuple(failures))


def _watched_regions(cloudformation: Any, settings: HealthSettings) -> set[str]:
    """The regions the stack's WatchedRegions parameter names (empty when it has none)."""
    (stack,) = cloudformation.describe_stacks(StackName=settings.stack_name)["Stacks"]
    for parameter in stack.get("Parameters", []):
        if parameter.get("ParameterKey") == FORWARDERS_PARAMETER:
            value = parameter.get("ResolvedValue") or parameter.get("ParameterValue") or ""
            # moto writes a list parameter as "['a', 'b']"; CloudFormation as "a,b"
            return {r.strip(" '\"[]") for r in value.split(",") if r.strip(" '\"[]")}
    return set()


# --- the trail -----------------------------------------------------------------------------------


def check_trail(clients: Clients, settings: HealthSettings) -> CheckResult:
    """At least one trail is logging, records every region and records management events."""
    cloudtrail = clients("cloudtrail", settings.region)
    trails = cloudtrail.describe_trails(includeShadowTrails=True).get("trailList", [])
    impact = "CloudTrail events Leash depends on may not be recorded, so Leash may not see them"
    if not trails:
        return CheckResult("trail", failures=(Failure(
            "trail", settings.account or "this account", "no CloudTrail trail exists in this account", impact,
        ),))  # fmt: skip
    failures = []
    for trail in trails:
        problems = _trail_problems(clients, trail)
        if not problems:
            return CheckResult("trail", len(trails))  # one complete trail is all Leash needs
        failures.append(Failure(
            "trail", trail["TrailARN"], f"CloudTrail trail {trail['Name']} {' and '.join(problems)}", impact,
        ))  # fmt: skip
    return CheckResult("trail", len(trails), tuple(failures))


def _trail_problems(clients: Clients, trail: Mapping[str, Any]) -> list[str]:
    arn = trail["TrailARN"]
    # A shadow trail (a multi-region trail seen from another region) answers in its home region.
    cloudtrail = clients("cloudtrail", trail.get("HomeRegion") or arn.split(":")[3])
    try:
        logging = bool(cloudtrail.get_trail_status(Name=arn).get("IsLogging"))
        selectors = cloudtrail.get_event_selectors(TrailName=arn)
    except ClientError as exc:
        return [f"could not be read ({_code(exc)})"]
    problems = []
    if not logging:
        problems.append("is not logging")
    if not trail.get("IsMultiRegionTrail"):
        problems.append("records only its own region (not multi-region)")
    if not _records_management_events(selectors):
        problems.append("records no management events")
    return problems


def _records_management_events(selectors: Mapping[str, Any]) -> bool:
    """Basic selectors with IncludeManagementEvents, or an advanced selector of eventCategory Management."""
    if any(s.get("IncludeManagementEvents") for s in selectors.get("EventSelectors") or []):
        return True
    for selector in selectors.get("AdvancedEventSelectors") or []:
        for field_selector in selector.get("FieldSelectors", []):
            if field_selector.get("Field") == "eventCategory" and "Management" in field_selector.get(
                "Equals", []
            ):
                return True
    return False


# --- who receives the alerts ---------------------------------------------------------------------


def check_subscriptions(clients: Clients, settings: HealthSettings) -> CheckResult:
    """The alerts topic has a confirmed subscription that reaches someone; Slack's forwarder, if Slack is on."""
    sns = clients("sns", settings.region)
    topic = settings.alerts_topic_arn
    try:
        subscriptions = list(_pages(sns, "list_subscriptions_by_topic", "Subscriptions", TopicArn=topic))
    except ClientError as exc:
        return CheckResult("subscriptions", failures=(Failure(
            "subscriptions", topic, f"Leash could not list the alerts topic's subscriptions ({_code(exc)})",
            "Leash cannot tell whether anyone receives its alerts",
        ),))  # fmt: skip
    confirmed = [s for s in subscriptions if s.get("SubscriptionArn", "").startswith("arn:")]
    pending = len(subscriptions) - len(confirmed)
    forwarder = [
        s
        for s in confirmed
        if settings.slack_forwarder_arn and s.get("Endpoint") == settings.slack_forwarder_arn
    ]
    # Without a webhook the Slack forwarder posts nowhere: its subscription reaches nobody.
    reaching = confirmed if settings.slack_secret_arn else [s for s in confirmed if s not in forwarder]
    failures = []
    if not reaching:
        waiting = f" ({pending} pending confirmation)" if pending else ""
        failures.append(Failure(
            "subscriptions", topic, f"the alerts topic has no confirmed subscription{waiting}",
            "nobody receives Leash's alerts",
        ))  # fmt: skip
    if settings.slack_secret_arn and settings.slack_forwarder_arn and not forwarder:
        failures.append(Failure(
            "subscriptions", topic, "the Slack forwarder is not subscribed to the alerts topic",
            "Leash's alerts do not reach Slack",
        ))  # fmt: skip
    return CheckResult("subscriptions", len(subscriptions), tuple(failures))


def _host(secret: str) -> str | None:
    """The host a webhook secret points at, to name it without the URL."""
    try:
        return urlparse(str(secret_url(secret))).hostname
    except (ValueError, AttributeError):  # not JSON, a JSON that is no object, an unparsable URL
        return None


def check_slack(clients: Clients, settings: HealthSettings) -> CheckResult:
    """The Slack secrets are readable and hold what they should: a Slack webhook URL, a bot token (xoxb-).

    The heartbeat's post proves the rest of the way.
    """
    secrets = [(settings.slack_secret_arn, "webhook"), (settings.slack_bot_token_arn, "bot token")]
    configured = [(arn, what) for arn, what in secrets if arn]
    if not configured:
        return CheckResult(
            "slack", skipped=f"{NOT_CONFIGURED}: no SlackWebhookSecretArn or SlackBotTokenSecretArn"
        )
    failures = tuple(f for arn, what in configured if (f := _slack_secret(clients, settings, arn, what)))
    return CheckResult("slack", len(configured), failures)


def _slack_secret(clients: Clients, settings: HealthSettings, secret: str, what: str) -> Failure | None:
    impact = "Leash's alerts do not reach Slack"
    try:
        value = clients("secretsmanager", settings.region).get_secret_value(SecretId=secret)["SecretString"]
    except ClientError as exc:
        return Failure("slack", secret, f"Leash cannot read the Slack {what} secret ({_code(exc)})", impact)
    try:  # the one test of each secret, the senders' own (leash.slack)
        if what == "webhook":
            webhook_url_from_secret(value)
        else:
            bot_token_from_secret(value)
    except (ValueError, AttributeError, TypeError):  # json.JSONDecodeError is a ValueError
        if what != "webhook":
            return Failure(
                "slack", secret, "the Slack bot token secret does not hold a bot token (xoxb-...)", impact
            )
        host = _host(value)
        where = f" (it points at {host})" if host else ""
        return Failure(
            "slack",
            secret,
            f"the Slack webhook secret does not hold a Slack webhook URL{where}",
            f"{impact}; they may go to someone else",
        )
    return None


CHECKS: tuple[Callable[[Clients, HealthSettings], CheckResult], ...] = (
    check_rules,
    check_forwarders,
    check_trail,
    check_subscriptions,
    check_slack,
)


def run_checks(clients: Clients, settings: HealthSettings) -> list[CheckResult]:
    """Every check; one that raises counts as failed (a broken check must not look like a healthy one)."""
    results = []
    for check in CHECKS:
        name = check.__name__.removeprefix("check_")
        try:
            results.append(check(clients, settings))
        except Exception as exc:  # noqa: BLE001 - reported as a failure, with its error
            results.append(CheckResult(name, failures=(Failure(
                name, settings.stack_name, f"the {name} check could not run ({type(exc).__name__}: {exc})",
                "Leash cannot tell whether this part of it works",
            ),)))  # fmt: skip
    return results


def failure_alert(failure: Failure, settings: HealthSettings, now: datetime, number: int = 1) -> Alert:
    """A failed check as a critical alert that also takes the second path, straight to Slack."""
    return Alert(
        severity=Severity.CRITICAL,
        title=f"Leash health check failed: {failure.problem}",
        actor={},
        action=f"health:{failure.check}",
        resource=failure.resource,
        account=settings.account,
        region=settings.region,
        time=_iso(now),
        event_id=f"health-{now:%Y%m%dT%H%M}-{number}-{failure.check}",
        reasons=(failure.impact,),
        kind="health",
        second_path=True,
    )


# --- the heartbeat -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Activity:
    """What Leash saw and did over a day: the heartbeat's three figures."""

    calls: int
    alerts: int
    put_back: int
    hours: int = 24


# The metrics Leash's handlers emit (Powertools, dimension "service"): a CloudTrail event judged by notify
# or reapply counts once per handler that judged it; the spike function counts denied and agent calls.
JUDGED = ("AlertsPublished", "DuplicateEvents", "IgnoredEvents", "MalformedEvents")
CALL_METRICS: tuple[tuple[str, dict[str, str]], ...] = (
    *((m, {"service": "notify"}) for m in JUDGED),
    *((m, {"service": "reapply"}) for m in JUDGED),
    ("DeniedCallsTotal", {"service": "spikes"}),
    ("AgentCalls", {"service": "spikes", "ActorKind": "agent"}),
)
ALERT_METRICS: tuple[tuple[str, dict[str, str]], ...] = (
    ("AlertsPublished", {"service": "notify"}),
    ("AlertsPublished", {"service": "reapply"}),
    ("SpikeAlerts", {"service": "spikes"}),
)


def metric_sums(cloudwatch: Any, namespace: str, metrics: Iterable[tuple[str, Mapping[str, str]]],
                start: datetime, end: datetime) -> list[float]:  # fmt: skip
    """One GetMetricData: the Sum of each metric over [start, end)."""
    queries = [
        {
            "Id": f"m{i}",
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                },
                "Period": int((end - start).total_seconds()),
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for i, (name, dimensions) in enumerate(metrics)
    ]
    sums = dict.fromkeys((q["Id"] for q in queries), 0.0)
    for page in cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=queries, StartTime=start, EndTime=end
    ):
        for result in page["MetricDataResults"]:
            sums[result["Id"]] += sum(result.get("Values", []))
    return list(sums.values())


def protections_put_back(dynamodb: Any, ledger_table: str, since: datetime) -> int:
    """Ledger records of a protection Leash put back since then (a Query on the byTime index, no scan)."""
    count = 0
    for page in dynamodb.get_paginator("query").paginate(
        TableName=ledger_table,
        IndexName=TIME_INDEX,
        KeyConditionExpression="#feed = :feed AND #time >= :since",
        FilterExpression="outcome = :reapplied",
        ExpressionAttributeNames={"#feed": FEED_ATTRIBUTE, "#time": "time"},
        ExpressionAttributeValues={
            ":feed": {"S": FEED},
            ":since": {"S": since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
            ":reapplied": {"S": str(ActionKind.REAPPLIED)},
        },
        Select="COUNT",
    ):
        count += int(page.get("Count", 0))
    return count


def day_of_activity(clients: Clients, settings: HealthSettings, now: datetime, hours: int = 24) -> Activity:
    """The last day's calls seen and alerts (CloudWatch metrics) and protections put back (the ledger)."""
    start = now - timedelta(hours=hours)
    cloudwatch = clients("cloudwatch", settings.region)
    calls = metric_sums(cloudwatch, settings.namespace, CALL_METRICS, start, now)
    alerts = metric_sums(cloudwatch, settings.namespace, ALERT_METRICS, start, now)
    put_back = (
        protections_put_back(clients("dynamodb", settings.region), settings.ledger_table, start)
        if settings.ledger_table
        else 0
    )
    return Activity(round(sum(calls)), round(sum(alerts)), put_back, hours)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def heartbeat_text(activity: Activity) -> str:
    """ "Leash is watching: 1,204 calls seen, 3 alerts, 1 protection put back in 24 h" """
    return (
        f"Leash is watching: {_plural(activity.calls, 'call', 'calls')} seen, "
        f"{_plural(activity.alerts, 'alert', 'alerts')}, "
        f"{_plural(activity.put_back, 'protection', 'protections')} put back in {activity.hours} h"
    )


def heartbeat_alert(activity: Activity | str, results: Iterable[CheckResult], settings: HealthSettings,
                    now: datetime) -> Alert:  # fmt: skip
    """The daily post: the day's figures (or why they could not be read), and how the health checks went."""
    results = list(results)
    title = (
        heartbeat_text(activity)
        if isinstance(activity, Activity)
        else f"Leash is watching (the day's figures could not be read: {activity})"
    )
    failed = [r for r in results if r.failures]
    skipped = [f"{r.check}: {r.skipped}" for r in results if r.skipped]
    reasons = [
        f"{_plural(sum(len(r.failures) for r in failed), 'health check', 'health checks')} failed "
        f"({', '.join(r.check for r in failed)}): see the critical alerts"
        if failed
        else f"all {_plural(len(results) - len(skipped), 'health check', 'health checks')} passed",
        *skipped,
    ]
    return Alert(
        severity=Severity.LOW,
        title=title,
        actor={},
        action="health:heartbeat",
        resource=settings.stack_name,
        account=settings.account,
        region=settings.region,
        time=_iso(now),
        event_id=f"heartbeat-{now:%Y%m%d}",
        reasons=tuple(reasons),
        kind="heartbeat",
    )


def _iso(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What one run did: the checks, the alerts sent for failures, and the heartbeat when it was due."""

    results: list[CheckResult]
    alerts: list[Alert] = field(default_factory=list)
    heartbeat: Alert | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "checks": [r.to_dict() for r in self.results],
            "failures": sum(len(r.failures) for r in self.results),
            "heartbeat": self.heartbeat.title if self.heartbeat else None,
        }


class HealthCheck:
    """Runs the checks, alerts each failure on the second path, and posts the heartbeat when asked."""

    def __init__(
        self,
        clients: Clients,
        settings: HealthSettings,
        send_failure: Callable[[Alert], object],
        send_heartbeat: Callable[[Alert], object],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._clients = clients
        self._settings = settings
        self._send_failure = send_failure
        self._send_heartbeat = send_heartbeat
        self._clock = clock

    def run(self, heartbeat: bool = False) -> HealthReport:
        now = self._clock()
        results = run_checks(self._clients, self._settings)
        failures = [f for r in results for f in r.failures]
        alerts = [failure_alert(f, self._settings, now, n) for n, f in enumerate(failures, 1)]
        for alert in alerts:
            self._send_failure(alert)
        beat = None
        if heartbeat:
            try:
                activity: Activity | str = day_of_activity(self._clients, self._settings, now)
            except Exception as exc:  # noqa: BLE001 - the heartbeat goes out without its figures
                activity = f"{type(exc).__name__}: {exc}"
            beat = heartbeat_alert(activity, results, self._settings, now)
            self._send_heartbeat(beat)
        return HealthReport(results, alerts, beat)


def wants_heartbeat(event: Any) -> bool:
    """The scheduled event's input: {"heartbeat": true} once a day, anything else for the hourly check."""
    if isinstance(event, str):
        try:
            event = json.loads(event)
        except ValueError:
            return False
    return isinstance(event, Mapping) and event.get("heartbeat") is True
