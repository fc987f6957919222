"""`leash demo`: CloudTrail samples routed by template.yaml's rules into the real notify handler, on moto."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leash.alerts import Alert, render_text
from leash_cli.emulator import ACCOUNT, Workflows, emulated_account
from leash.slack import alert_from_sns_message
from leash_cli.template import REPO_ROOT, Router, deployment_for, function_environment, load_template

EVENTS = REPO_ROOT / "events"
# The deploy parameters of the demo's "stack"; the handlers get the environment template.yaml derives
# from them, with the emulated account's table and bus names.
DEMO_PARAMETERS = {
    "GuardrailPolicyArns": f"arn:aws:iam::{ACCOUNT}:policy/agent-guardrail-deny",
    "AgentPermissionsBoundaryArn": f"arn:aws:iam::{ACCOUNT}:policy/agent-boundary",
    "ExemptPrincipalArns": f"arn:aws:iam::{ACCOUNT}:role/breakglass-admin",
}
DEMO_RESOURCES = {"IdempotencyTable": "leash-idempotency", "LedgerTable": "leash-ledger", "SpikeTable": "leash-spikes",
                  "LeashEventBus": "leash-leash"}
DEMO_ENV = {
    **function_environment(load_template(), ["NotifyFunction", "ReapplyFunction", "SpikeFunction"], DEMO_PARAMETERS,
                           DEMO_RESOURCES, account=ACCOUNT),
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
FUNCTION_DIRS = {"NotifyFunction": "notify", "ReapplyFunction": "reapply", "SpikeQueue": "spikes"}
PROBES = 60  # denied calls the agent makes while probing its fence
# Samples whose remediation the emulator cannot perform (tests/test_reapply.py covers them with Stubber).
EMULATOR_GAPS = {
    "cloudformation-update-termination-protection-disabled-by-agent":
        "moto does not emulate cloudformation:UpdateTerminationProtection",
}


@dataclass(frozen=True)
class DemoStep:
    event: str
    rules: tuple[str, ...]
    status: str  # "not routed" | handler outcome status
    reason: str
    alert: Alert | None = None


def _load_handler(function: str) -> Any:
    name = f"leash_demo_{function}"
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "functions" / function / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class _Context:
    function_name = "leash-notify-demo"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:leash-notify-demo"
    aws_request_id = "demo"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def seed_account() -> dict[str, dict[str, str]]:
    """Create the resources the sample events name, as they are right after the agent stripped their protection.

    Returns, per sample, the IDs to rewrite: moto invents instance, group and key IDs of its own.
    """
    import boto3

    iam = boto3.client("iam")
    iam.create_role(RoleName="data-pipeline-bot", AssumeRolePolicyDocument="{}",
                    Tags=[{"Key": "Usage", "Value": "Agent"}])
    for name in ("agent-guardrail-deny", "agent-boundary"):
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]}))
    iam.create_role(RoleName="ai-agent-deploy", AssumeRolePolicyDocument="{}")
    rds = boto3.client("rds")
    rds.create_db_instance(DBInstanceIdentifier="prod-db", DBInstanceClass="db.r6g.large", Engine="postgres",
                           MasterUsername="app", MasterUserPassword="demo-password", AllocatedStorage=100)
    rds.create_db_cluster(DBClusterIdentifier="prod-aurora", Engine="aurora-postgresql", MasterUsername="app",
                          MasterUserPassword="demo-password")
    boto3.client("dynamodb").create_table(
        TableName="orders", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    s3 = boto3.client("s3")
    for bucket in ("nightly-db-backups", "customer-uploads", "org-trail-logs"):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket="nightly-db-backups", VersioningConfiguration={"Status": "Suspended"})
    cloudtrail = boto3.client("cloudtrail")
    cloudtrail.create_trail(Name="org-trail", S3BucketName="org-trail-logs", IsMultiRegionTrail=False)
    config = boto3.client("config")
    config.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/config-recorder"})
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "org-trail-logs"})
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name="prod/payments/stripe-key", SecretString="sk_live_demo")
    secrets.delete_secret(SecretId="prod/payments/stripe-key", RecoveryWindowInDays=7)

    ec2 = boto3.client("ec2")
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    world_rule = next(r["SecurityGroupRuleId"] for r in ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"] if not r["IsEgress"])
    kms = boto3.client("kms")
    disabled, scheduled = (kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(2))
    kms.disable_key(KeyId=disabled)
    kms.schedule_key_deletion(KeyId=scheduled, PendingWindowInDays=7)
    sample_key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    return {
        "ec2-modify-instance-attribute-disable-termination-protection-by-agent": {"i-0b5a7e1c2d3f40516": instance},
        "ec2-authorize-security-group-ingress-by-agent": {"sg-0123456789abcdef0": group,
                                                          "sgr-0abc1234def567890": world_rule},
        "kms-disable-key-by-agent": {sample_key: disabled},
        "kms-schedule-key-deletion-by-agent": {sample_key: scheduled},
    }


def run_demo(events_dir: Path = EVENTS) -> list[DemoStep]:
    """Play every sample event; return what happened to each (the CLI prints it, tests assert it)."""
    import boto3

    steps: list[DemoStep] = []
    with emulated_account(DEMO_ENV):
        topic = boto3.client("sns").create_topic(Name="leash-alerts")["TopicArn"]
        os.environ["ALERTS_TOPIC_ARN"] = topic
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName="leash-idempotency", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        dynamodb.create_table(
            TableName="leash-ledger", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}])
        dynamodb.create_table(
            TableName="leash-spikes", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        bindings = seed_account()
        lockdowns = LockdownTap(topic)
        router = Router.from_template(overrides=DEMO_PARAMETERS, account=ACCOUNT)
        handlers = {fn: _load_handler(d) for fn, d in FUNCTION_DIRS.items()}
        for handler in handlers.values():
            if hasattr(handler, "_idempotency"):
                handler._idempotency.register_lambda_context(_Context())
        spike_queue: list[dict[str, Any]] = []  # what the spike rules deliver, read later in one batch
        # Every call is played as if it happened a moment ago, all at the same moment (one spike window),
        # so "put back N s later" reads as it would live.
        played_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
        for path in sorted(events_dir.glob("*.json")):
            if path.stem in EMULATOR_GAPS:
                steps.append(DemoStep(path.stem, (), "skipped", EMULATOR_GAPS[path.stem]))
                continue
            text = path.read_text()
            for sample_id, real_id in bindings.get(path.stem, {}).items():
                text = text.replace(sample_id, real_id)
            event = json.loads(text)
            if isinstance(event.get("detail"), dict) and "eventTime" in event["detail"]:
                event["detail"]["eventTime"] = played_at
            routed = router.route(event)
            if not routed:
                steps.append(DemoStep(path.stem, (), "not routed", "filtered out by the patterns"))
                continue
            if any(r.function == "SpikeQueue" for r in routed):
                spike_queue.append(event)
                if all(r.function == "SpikeQueue" for r in routed):
                    steps.append(DemoStep(path.stem, tuple(r.name for r in routed), "counted",
                                          "counted by the spike detector, nothing to alert on its own"))
            for function in dict.fromkeys(r.function for r in routed if r.function != "SpikeQueue"):
                outcome = handlers[function].notifier.handle(event)  # EventBridge invokes each target once
                rules = tuple(r.name for r in routed if r.function == function)
                steps.append(DemoStep(path.stem, rules, outcome.status, outcome.reason, outcome.alert))
            steps.extend(lockdowns.run(path.stem))
        # The agent probes its fence: dozens of denied calls, counted in one batch from the spike queue.
        probes = probe_events(json.loads((events_dir / "dynamodb-delete-table-denied.json").read_text()), PROBES,
                              played_at)
        spike_queue += [e for e in probes if router.route(e)]
        result = handlers["SpikeQueue"].consumer.handle({"Records": [
            {"messageId": f"demo-{i}", "receiptHandle": "demo", "body": json.dumps(e), "attributes": {},
             "messageAttributes": {}, "eventSource": "aws:sqs"} for i, e in enumerate(spike_queue)]})
        for alert in result.alerts:
            steps.append(DemoStep(f"{PROBES} denied probes", ("DeniedCallsRule", "AgentCallsRule"), "published",
                                  f"{len(spike_queue)} calls in one batch", alert))
        steps.extend(lockdowns.run(f"{PROBES} denied probes"))
    return steps


def probe_events(sample: dict[str, Any], count: int, at: str) -> list[dict[str, Any]]:
    """A prompt-injected agent collecting AccessDenied: iam:PassRole, s3:GetObject, secrets reads."""
    probes = [("iam", "PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin"),
              ("s3", "GetObject", "arn:aws:s3:::nightly-db-backups/prod.dump"),
              ("secretsmanager", "GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-AbCdEf")]
    events = []
    for i in range(count):
        service, action, resource = probes[i % len(probes)]
        event = json.loads(json.dumps(sample))
        detail = event["detail"]
        event["source"] = f"aws.{service}"
        detail.update(eventSource=f"{service}.amazonaws.com", eventName=action, eventID=f"probe-{i:04d}", eventTime=at,
                      readOnly=action != "PassRole", errorMessage=f"User: {detail['userIdentity']['arn']} is not "
                      f"authorized to perform: {service}:{action} on resource: {resource}")
        events.append(event)
    return events


class LockdownTap:
    """What EventBridge does with Leash's lockdown requests: the LockdownRequested rule starts the real ASL."""

    def __init__(self, topic_arn: str):
        import boto3

        events = boto3.client("events")
        events.create_event_bus(Name=DEMO_ENV["LEASH_EVENT_BUS"])
        self._sqs = boto3.client("sqs")
        self._queue = self._sqs.create_queue(QueueName="leash-bus-tap")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self._queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bus = DEMO_ENV["LEASH_EVENT_BUS"]
        template = load_template()
        source = template["Resources"]["LockdownStateMachine"]["Properties"]["Events"]["LockdownRequested"]
        self._pattern = deployment_for(template).resolve(source["Properties"]["Pattern"])
        events.put_rule(Name="LockdownRequested", EventBusName=bus, EventPattern=json.dumps(self._pattern))
        events.put_targets(Rule="LockdownRequested", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
        self._workflows = Workflows({"LedgerTable": DEMO_ENV["LEDGER_TABLE"], "AlertsTopicArn": topic_arn,
                                     "ResourcePrefix": DEMO_ENV["LEASH_ROLE_PREFIX"],
                                     "ExemptPrincipalArns": DEMO_ENV["LEASH_EXEMPT_ARNS"]})

    def run(self, event_name: str) -> list[DemoStep]:
        steps = []
        for message in self._sqs.receive_message(QueueUrl=self._queue, MaxNumberOfMessages=10).get("Messages", []):
            self._sqs.delete_message(QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"])
            request = json.loads(message["Body"])["detail"]  # the rule's InputPath: $.detail
            execution = self._workflows.start("lockdown", request)
            notice = json.loads(execution.get("output") or execution.get("input") or "{}").get("notice", {})
            if not notice:
                notice = {"severity": "critical", "subject": "[Leash critical] Lockdown failed",
                          "headline": f"LOCKDOWN {execution['status']}: {execution.get('error')}",
                          "detail": execution.get("cause", "")}
            alert = alert_from_sns_message(f"{notice['headline']}\n\n{notice['detail']}", notice["subject"])
            steps.append(DemoStep(event_name, ("LockdownRequested",), f"lockdown {execution['status'].lower()}",
                                  f"{execution['transitions']} state transitions", alert))
        return steps


SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan"}


def print_demo(steps: list[DemoStep], console: Any) -> None:
    from rich.panel import Panel
    from rich.table import Table

    console.rule("[bold]Leash demo[/] - CloudTrail samples on an emulated AWS account (moto, no credentials)")
    for step in steps:
        if step.alert:
            style = SEVERITY_STYLE[str(step.alert.severity)]
            console.print(Panel(render_text(step.alert).rstrip(), title=f"[{style}] {step.alert.severity.upper()} [/]",
                                subtitle=f"{step.event} -> {', '.join(step.rules)}", border_style=style.split()[-1],
                                expand=False))
    table = Table(title="What Leash did with each event")
    for col in ("event", "rule", "severity / reason", "Leash did"):
        table.add_column(col)
    for step in steps:
        sev = str(step.alert.severity) if step.alert else f"{step.status}: {step.reason}"
        style = SEVERITY_STYLE.get(sev, "dim")
        did = step.alert.leash_did[0] if step.alert and step.alert.leash_did else ("alerted" if step.alert else "-")
        table.add_row(step.event, ", ".join(step.rules) or "-", f"[{style}]{sev}[/]", did)
    console.print(table)
    alerts = sum(1 for s in steps if s.alert)
    reapplied = sum(1 for s in steps if s.alert and any(d.startswith("Leash ") and " s later" in d
                                                        for d in s.alert.leash_did))
    locked = sum(1 for s in steps if s.alert and s.alert.title.startswith("LOCKDOWN applied"))
    console.print(f"{len({s.event for s in steps})} events, {alerts} alerts, {reapplied} protections put back, "
                  f"{locked} lockdown, {sum(1 for s in steps if s.status == 'not routed')} filtered out by "
                  "EventBridge patterns.")
