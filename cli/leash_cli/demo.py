"""`leash demo`: an AI agent's incident on an emulated account, caught by Leash's real rules, handlers and ASL.

An agent assumes its role and, with boto3 on moto, strips protections (one in a second region), grants
itself administrator access (an IAM call, recorded in us-east-1), opens a security group to the world,
deletes a bucket, stops CloudTrail and probes its fence. Leash is deployed in eu-west-1, not us-east-1:
the calls of other regions reach it as its forwarders deliver them, each with its own region. Each call
leaves the CloudTrail record AWS would deliver (leash_cli.agent); template.yaml's patterns route it to
the real handlers, which act on moto in the call's region; a lockdown they request runs the real state
machine. Afterwards the account is read back.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from leash.alerts import Alert
from leash.events import wrap_record
from leash.inbox import workflow_alert
from leash.incident_blocks import render_parent, summary_lines
from leash.incidents import SlackTraffic
from leash.model import ActionKind
from leash.render import describe, render_text
from leash.slack_blocks import LOCKDOWN_APPLIED
from leash_cli.agent import AgentSession, Record
from leash_cli.emulator import ACCOUNT, Workflows, create_tables, emulated_account
from leash_cli.template import (
    APP_ROOT,
    Router,
    deployment_for,
    function_environment,
    leash_resources,
    load_template,
)

# Where the demo's stack is deployed, and the second region the agent works in. The calls of us-east-1 (IAM's)
# and of the second region reach the home region's rules as the forwarders deliver them: unchanged.
HOME_REGION, SECOND_REGION = "eu-west-1", "us-west-2"
# The deploy parameters of the demo's "stack"; the handlers get the environment template.yaml derives
# from them, with the emulated account's table and bus names.
GUARDRAIL = "agent-guardrail-deny"
DEMO_PARAMETERS = {
    "GuardrailPolicyArns": f"arn:aws:iam::{ACCOUNT}:policy/{GUARDRAIL}",
    "AgentPermissionsBoundaryArn": f"arn:aws:iam::{ACCOUNT}:policy/agent-boundary",
    "ExemptPrincipalArns": f"arn:aws:iam::{ACCOUNT}:role/breakglass-admin",
}
DEMO_RESOURCES = {
    "IdempotencyTable": "leash-idempotency",
    "LedgerTable": "leash-ledger",
    "SpikeTable": "leash-spikes",
    "IncidentTable": "leash-incidents",
    "LeashEventBus": "leash-leash",
}
DEMO_ENV = {
    **function_environment(
        load_template(),
        ["NotifyFunction", "ReapplyFunction", "SpikeFunction"],
        DEMO_PARAMETERS,
        DEMO_RESOURCES,
        account=ACCOUNT,
        region=HOME_REGION,
    ),
    "AWS_DEFAULT_REGION": HOME_REGION,
    "AWS_REGION": HOME_REGION,  # what Lambda sets: the functions' own region
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
FUNCTION_DIRS = {"NotifyFunction": "notify", "ReapplyFunction": "reapply", "SpikeQueue": "spikes"}
AGENT_ROLE, AGENT_SESSION, AGENT_SOURCE = "ai-agent-deploy", "claude-code-7f3a", "jordan@example.com"
PROBES = 60  # denied calls the agent makes while probing its fence
# What the guardrail denies the agent, whatever else it may do (the demo's session enforces explicit denies).
GUARDRAIL_DENIES = [
    "iam:AttachRolePolicy",
    "iam:CreateAccessKey",
    "iam:PassRole",
    "secretsmanager:GetSecretValue",
]


@dataclass(frozen=True)
class DemoStep:
    event: str  # the call, e.g. "rds:ModifyDBInstance prod-db"
    rules: tuple[str, ...]
    status: str  # "not routed" | "counted" | handler outcome status | "lockdown succeeded"
    reason: str
    alert: Alert | None = None
    denied: bool = False  # the agent's call was denied (by its guardrail, or by the lockdown)


@dataclass
class DemoResult:
    steps: list[DemoStep] = field(default_factory=list)
    account: dict[str, str] = field(default_factory=dict)  # read back from the emulated account afterwards
    slack: SlackTraffic = field(default_factory=SlackTraffic)  # the alerts as Slack incidents and threads
    thread: list[tuple[Alert, bool]] = field(default_factory=list)  # (alert, also broadcast) per reply


def _load_handler(function: str) -> Any:
    name = f"leash_demo_{function}"
    spec = importlib.util.spec_from_file_location(name, APP_ROOT / "functions" / function / "app.py")
    assert spec is not None and spec.loader is not None, f"functions/{function}/app.py is missing"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class _Context:
    function_name = "leash-notify-demo"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{HOME_REGION}:{ACCOUNT}:function:leash-notify-demo"
    aws_request_id = "demo"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def create_leash_tables() -> str:
    """What `sam deploy` creates that the handlers use: the alerts topic and the four tables."""
    import boto3

    create_tables(
        {
            table: DEMO_RESOURCES[table]
            for table in ("IdempotencyTable", "LedgerTable", "SpikeTable", "IncidentTable")
        }
    )
    return boto3.client("sns").create_topic(Name="leash-alerts")["TopicArn"]


def build_account() -> dict[str, str]:
    """The account before the agent starts: every protection on, in the home region but for an EC2 instance
    in the second region. Returns the IDs moto chose."""
    import boto3

    iam = boto3.client("iam")
    guardrail = iam.create_policy(
        PolicyName=GUARDRAIL,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": GUARDRAIL_DENIES, "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    boundary = iam.create_policy(
        PolicyName="agent-boundary",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["ec2:*", "rds:*", "s3:*", "cloudtrail:*"], "Resource": "*"}
                ],
            }
        ),
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            }
        ],
    }
    iam.create_role(
        RoleName=AGENT_ROLE,
        AssumeRolePolicyDocument=json.dumps(trust),
        PermissionsBoundary=boundary["Policy"]["Arn"],
    )
    iam.attach_role_policy(RoleName=AGENT_ROLE, PolicyArn=guardrail)
    iam.create_user(UserName="deploy-bot")

    boto3.client("rds").create_db_instance(
        DBInstanceIdentifier="prod-db",
        DBInstanceClass="db.r6g.large",
        Engine="postgres",
        MasterUsername="app",
        MasterUserPassword="demo-password",
        AllocatedStorage=100,
        DeletionProtection=True,
    )
    s3 = boto3.client("s3")
    for bucket in ("nightly-db-backups", "scratch-exports", "org-trail-logs"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": HOME_REGION})
    s3.put_bucket_versioning(Bucket="nightly-db-backups", VersioningConfiguration={"Status": "Enabled"})
    cloudtrail = boto3.client("cloudtrail")
    cloudtrail.create_trail(Name="org-trail", S3BucketName="org-trail-logs", IsMultiRegionTrail=True)
    cloudtrail.start_logging(Name="org-trail")
    boto3.client("secretsmanager").create_secret(Name="prod/payments/stripe-key", SecretString="sk_live_demo")

    ec2, elsewhere = boto3.client("ec2"), boto3.client("ec2", region_name=SECOND_REGION)
    ami = elsewhere.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = elsewhere.run_instances(ImageId=ami, MinCount=1, MaxCount=1, DisableApiTermination=True)[
        "Instances"
    ][0]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vpc)["GroupId"]
    return {"instance": instance["InstanceId"], "group": group}


def agent_incident(agent: AgentSession, ids: dict[str, str]) -> list[tuple[str, Callable[[], Any]]]:
    """The incidents of SPEC, in order, as the agent's own boto3 calls."""
    rds, s3, ec2 = agent.client("rds"), agent.client("s3"), agent.client("ec2")
    ec2_elsewhere = agent.client("ec2", SECOND_REGION)
    cloudtrail, iam, secrets = agent.client("cloudtrail"), agent.client("iam"), agent.client("secretsmanager")
    calls: list[tuple[str, Callable[[], Any]]] = [
        (
            "rds:ModifyDBInstance prod-db",
            lambda: rds.modify_db_instance(
                DBInstanceIdentifier="prod-db", DeletionProtection=False, ApplyImmediately=True
            ),
        ),
        (
            f"ec2:ModifyInstanceAttribute in {SECOND_REGION}",
            lambda: ec2_elsewhere.modify_instance_attribute(
                InstanceId=ids["instance"], DisableApiTermination={"Value": False}
            ),
        ),
        (
            "iam:PutRolePolicy unblock-deploy",  # IAM: recorded in us-east-1, forwarded home
            lambda: iam.put_role_policy(
                RoleName=AGENT_ROLE,
                PolicyName="unblock-deploy",
                PolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                    }
                ),
            ),
        ),
        (
            "s3:PutBucketVersioning nightly-db-backups",
            lambda: s3.put_bucket_versioning(
                Bucket="nightly-db-backups", VersioningConfiguration={"Status": "Suspended"}
            ),
        ),
        (
            "ec2:AuthorizeSecurityGroupIngress",
            lambda: ec2.authorize_security_group_ingress(
                GroupId=ids["group"],
                IpPermissions=[
                    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
                ],
            ),
        ),
        ("s3:DeleteBucket scratch-exports", lambda: s3.delete_bucket(Bucket="scratch-exports")),
        ("cloudtrail:StopLogging org-trail", lambda: cloudtrail.stop_logging(Name="org-trail")),
    ]
    probes = [
        (
            "iam:AttachRolePolicy",
            lambda: iam.attach_role_policy(
                RoleName=AGENT_ROLE, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
            ),
        ),
        (
            "secretsmanager:GetSecretValue",
            lambda: secrets.get_secret_value(SecretId="prod/payments/stripe-key"),
        ),
        ("iam:CreateAccessKey", lambda: iam.create_access_key(UserName="deploy-bot")),
    ]
    calls += [probes[i % len(probes)] for i in range(PROBES)]
    return calls


def read_back(ids: dict[str, str]) -> dict[str, str]:
    """What the account looks like after the incident, asked of the emulated account itself."""
    import boto3

    rds, s3, ec2, iam = (boto3.client(s) for s in ("rds", "s3", "ec2", "iam"))
    db = rds.describe_db_instances(DBInstanceIdentifier="prod-db")["DBInstances"][0]
    termination = boto3.client("ec2", region_name=SECOND_REGION).describe_instance_attribute(
        InstanceId=ids["instance"], Attribute="disableApiTermination"
    )
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [ids["group"]]}])
    world = [r for r in rules["SecurityGroupRules"] if not r["IsEgress"] and r.get("CidrIpv4") == "0.0.0.0/0"]
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    inline = iam.list_role_policies(RoleName=AGENT_ROLE)["PolicyNames"]
    attached = [
        p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=AGENT_ROLE)["AttachedPolicies"]
    ]
    on_off = {True: "on", False: "off"}
    return {
        "RDS prod-db deletion protection": on_off[db["DeletionProtection"]],
        f"EC2 instance termination protection ({SECOND_REGION})": on_off[
            termination["DisableApiTermination"]["Value"]
        ],
        "S3 nightly-db-backups versioning": s3.get_bucket_versioning(Bucket="nightly-db-backups").get(
            "Status", "never"
        ),
        "security group web open to 0.0.0.0/0": "yes" if world else "no",
        "CloudTrail org-trail logging": on_off[
            boto3.client("cloudtrail").get_trail_status(Name="org-trail")["IsLogging"]
        ],
        "S3 scratch-exports": "exists"
        if "scratch-exports" in buckets
        else "deleted (alerted; nothing can undo it)",
        f"role {AGENT_ROLE} inline policies": ", ".join(sorted(inline)) or "none",
        f"role {AGENT_ROLE} guardrail": "attached" if GUARDRAIL in attached else "detached",
    }


class Incident:
    """EventBridge and Lambda for the demo: routes each CloudTrail record by template.yaml's rules to the handlers."""

    def __init__(self, topic: str):
        self.steps: list[DemoStep] = []
        self.router = Router.from_template(overrides=DEMO_PARAMETERS, account=ACCOUNT, region=HOME_REGION)
        # What the handlers learn from ListStackResources of their stack, which the emulated account has not:
        # Leash's resources for the demo's deployment, offline from template.yaml (as replay judges tampering).
        import leash.wiring

        template = load_template()
        own = leash_resources(
            template, deployment_for(template, DEMO_PARAMETERS, account=ACCOUNT, region=HOME_REGION)
        )
        leash.wiring.own_resources = lambda *_: lambda: own  # type: ignore[assignment]
        self.handlers = {fn: _load_handler(d) for fn, d in FUNCTION_DIRS.items()}
        for handler in self.handlers.values():
            if hasattr(handler, "_idempotency"):
                handler._idempotency.register_lambda_context(_Context())
        self.lockdowns = LockdownTap(topic)
        self.records: list[Record] = []  # what CloudTrail has written and EventBridge not yet delivered
        self._spike_queue: list[dict[str, Any]] = []

    def deliver(self, label: str) -> None:
        records = list(self.records)
        self.records.clear()
        for record in records:
            event = wrap_record(record)
            targets = self.router.targets(event)
            if not targets:
                self.steps.append(DemoStep(label, (), "not routed", "filtered out by the patterns"))
                continue
            spike_rules = targets.pop("SpikeQueue", None)
            if spike_rules:  # each rule's copy, as EventBridge sends them: the detector counts the call once
                self._spike_queue += [event] * len(spike_rules)
                if not targets:
                    self.steps.append(
                        DemoStep(
                            label,
                            spike_rules,
                            "counted",
                            f"{record.get('errorCode') or 'call'} counted by the spike detector",
                            denied=bool(record.get("errorCode")),
                        )
                    )
            for function, rules in targets.items():
                outcome = self.handlers[function].notifier.handle(event)
                self.steps.append(DemoStep(label, rules, outcome.status, outcome.reason, outcome.alert))
            self.steps.extend(self.lockdowns.run(label))

    def flush_spikes(self, label: str) -> None:
        """The spike queue's batch (SQS to the spikes function, up to 1,000 records)."""
        queue, self._spike_queue = self._spike_queue, []
        result = self.handlers["SpikeQueue"].consumer.handle(
            {
                "Records": [
                    {
                        "messageId": f"demo-{i}",
                        "receiptHandle": "demo",
                        "body": json.dumps(e),
                        "attributes": {},
                        "messageAttributes": {},
                        "eventSource": "aws:sqs",
                    }
                    for i, e in enumerate(queue)
                ]
            }
        )
        for alert in result.alerts:
            self.steps.append(
                DemoStep(
                    label,
                    ("DeniedCallsRule", "AgentCallsRule"),
                    "published",
                    f"{len({e['detail']['eventID'] for e in queue})} calls in one batch of {len(queue)} records",
                    alert,
                )
            )
        self.steps.extend(self.lockdowns.run(label))


def run_demo() -> DemoResult:
    """Play the incident; return each step and the account read back (the CLI prints it, tests assert it)."""
    from botocore.exceptions import ClientError

    result = DemoResult()
    with emulated_account(DEMO_ENV):
        os.environ["ALERTS_TOPIC_ARN"] = topic = create_leash_tables()
        ids = build_account()
        incident = Incident(topic)
        agent = AgentSession(AGENT_ROLE, AGENT_SESSION, incident.records.append, source_identity=AGENT_SOURCE)
        denied = 0
        calls = agent_incident(agent, ids)
        for n, (label, call) in enumerate(calls):
            if n == len(calls) - PROBES:
                # The probes are one burst, recorded at the time of the first: an agent fires them within a
                # second (CloudTrail's eventTime has one-second resolution), and the emulated calls, slower,
                # must not straddle two spike windows, which would count them as two smaller spikes.
                agent.clock = partial(_at, datetime.now(UTC))
            try:
                call()
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "AccessDenied":
                    raise
                denied += 1
                label += " (denied)"
            incident.deliver(label)
        incident.flush_spikes(f"{denied} denied calls")
        result.steps = incident.steps
        result.account = read_back(ids)
        for step in incident.steps:  # what the Slack function would post, by the incidents' rules
            if step.alert is not None:
                before = result.slack.broadcasts
                joined = result.slack.add(step.alert)
                if joined is not None and joined.alerts > 1:
                    result.thread.append((step.alert, result.slack.broadcasts > before))
    return result


def _at(moment: datetime) -> datetime:
    return moment


class LockdownTap:
    """What EventBridge does with Leash's lockdown requests: the LockdownRequested rule starts the real ASL."""

    def __init__(self, topic_arn: str):
        import boto3

        events = boto3.client("events")
        events.create_event_bus(Name=DEMO_ENV["LEASH_EVENT_BUS"])
        self._sqs = boto3.client("sqs")
        self._queue = self._sqs.create_queue(QueueName="leash-bus-tap")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self._queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        bus = DEMO_ENV["LEASH_EVENT_BUS"]
        template = load_template()
        source = template["Resources"]["LockdownStateMachine"]["Properties"]["Events"]["LockdownRequested"]
        self._pattern = deployment_for(template).resolve(source["Properties"]["Pattern"])
        events.put_rule(Name="LockdownRequested", EventBusName=bus, EventPattern=json.dumps(self._pattern))
        events.put_targets(Rule="LockdownRequested", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
        self._workflows = Workflows(
            {
                "LedgerTable": DEMO_ENV["LEDGER_TABLE"],
                "AlertsTopicArn": topic_arn,
                "ResourcePrefix": DEMO_ENV["LEASH_ROLE_PREFIX"],
                "ExemptPrincipalArns": DEMO_ENV["LEASH_EXEMPT_ARNS"],
            }
        )

    def run(self, event_name: str) -> list[DemoStep]:
        steps = []
        for message in self._sqs.receive_message(QueueUrl=self._queue, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            self._sqs.delete_message(QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"])
            request = json.loads(message["Body"])["detail"]  # the rule's InputPath: $.detail
            execution = self._workflows.start("lockdown", request)
            # The fields the workflow's Notify state puts in the message attributes, as the Slack forwarder reads them.
            state = json.loads(execution.get("output") or "{}")
            notice = state.get("notice") or {
                "outcome": "failed",
                "severity": "critical",
                "principal": request["principal"],
                "headline": f"LOCKDOWN {execution['status']}: {execution.get('error')}",
                "detail": execution.get("cause", ""),
            }
            alert = workflow_alert(
                {
                    "workflow": "lockdown",
                    "kind": f"lockdown-{notice['outcome']}",
                    "severity": notice["severity"],
                    "principal": notice["principal"],
                    "headline": notice["headline"],
                    "detail": notice["detail"],
                    "request": f"Requested by {request['requestedBy']} ({request['trigger']}); reason: {request['reason']}",
                    "execution": execution.get("executionArn", ""),
                }
            )
            steps.append(
                DemoStep(
                    event_name,
                    ("LockdownRequested",),
                    f"lockdown {execution['status'].lower()}",
                    f"{execution['transitions']} state transitions",
                    alert,
                )
            )
        return steps


def print_slack(result: DemoResult, console: Any) -> None:
    """The incidents as Slack shows them with a bot token: each parent's summary, then its thread."""
    from rich.markup import escape
    from rich.panel import Panel

    traffic = result.slack
    for incident in traffic.store.incidents.values():
        lines = [f"[bold]{escape(label)}[/]: {escape(value)}" for label, value in summary_lines(incident)]
        if result.thread:  # the parent's buttons, as Slack would show them after the incident's last alert
            parent = render_parent(incident, result.thread[-1][0])
            actions = [b for b in parent["blocks"] if b["type"] == "actions"]
            buttons = [e["text"]["text"] for block in actions for e in block["elements"]]
            lines.append(" ".join(f"[ {escape(b)} ]" for b in buttons))
        console.print(
            Panel(
                "\n".join(lines),
                title=f"#leash-alerts: {incident.worst.upper()} incident: {escape(incident.label)}",
                subtitle=f"{incident.alerts - 1} replies in the thread",
                expand=False,
            )
        )
    for alert, broadcast in result.thread:
        style = SEVERITY_STYLE[str(alert.severity)]
        also = "  [dim](also sent to the channel)[/]" if broadcast else ""
        console.print(
            f"   └ [{style}]{alert.severity.upper()}[/] {escape(alert.title)}{also}", highlight=False
        )
    console.print(
        f"In Slack: {traffic.incidents} incident{'s' if traffic.incidents != 1 else ''}, "
        f"{traffic.top_level} top-level posts ({traffic.broadcasts} critical broadcasts), "
        f"{traffic.replies} thread replies, instead of {traffic.alerts} posts."
    )


SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan"}


def _did(step: DemoStep) -> str:
    if step.alert is None:
        return "-"
    if step.rules == ("LockdownRequested",):
        return step.alert.title  # the workflow's notice: what it did to the role
    return describe(step.alert.leash_did[0]) if step.alert.leash_did else "alerted"


def print_demo(result: DemoResult, console: Any) -> None:
    from rich.panel import Panel
    from rich.table import Table

    steps = result.steps
    console.rule(
        f"[bold]Leash demo[/]: Leash in {HOME_REGION}, agent {AGENT_ROLE}/{AGENT_SESSION}, emulated account (moto)"
    )
    for step in steps:
        if step.alert:
            style = SEVERITY_STYLE[str(step.alert.severity)]
            console.print(
                Panel(
                    render_text(step.alert).rstrip(),
                    title=f"[{style}] {step.alert.severity.upper()} [/]",
                    subtitle=f"{step.event} -> {', '.join(step.rules)}",
                    border_style=style.split()[-1],
                    expand=False,
                )
            )
    table = Table(title="What Leash did with each of the agent's calls")
    for col in ("call", "rule", "severity / reason", "Leash did"):
        table.add_column(col)
    # The same quiet outcome of the same call: one row, counted; every alert its own row.
    rows: dict[tuple[str, int, str, str, str], int] = {}
    for n, step in enumerate(steps):
        sev = str(step.alert.severity) if step.alert else f"{step.status}: {step.reason}"
        key = (step.event, n if step.alert else -1, ", ".join(step.rules) or "-", sev, _did(step))
        rows[key] = rows.get(key, 0) + 1
    for (event, _, rules, sev, did), count in rows.items():
        style = SEVERITY_STYLE.get(sev, "dim")
        table.add_row(event + (f" x{count}" if count > 1 else ""), rules, f"[{style}]{sev}[/]", did)
    console.print(table)
    print_slack(result, console)
    account = Table(title="The account afterwards, read back from the emulator")
    account.add_column("what")
    account.add_column("now")
    for what, now in result.account.items():
        account.add_row(what, now)
    console.print(account)
    alerts = sum(1 for s in steps if s.alert)
    reapplied = sum(
        1 for s in steps if s.alert and any(a.kind is ActionKind.REAPPLIED for a in s.alert.leash_did)
    )
    locked = sum(1 for s in steps if s.alert and s.alert.notice == LOCKDOWN_APPLIED)
    denied = sum(1 for s in steps if s.denied and s.status == "counted")
    console.print(
        f"{alerts} alerts, {reapplied} protections put back, {locked} lockdown, {denied} denied calls "
        "counted by the spike detector."
    )
