"""The health function on moto: each way Leash can go blind gives its critical alert; a healthy Leash gives none,
and the daily heartbeat says what Leash saw and did.

The world is a small CloudFormation stack named like Leash's, holding EventBridge rules as template.yaml
declares them (one with ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS, one on Leash's own bus, the schedules),
so the function finds them the way it does in AWS: by ListStackResources.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from conftest import ACCOUNT, AlertInbox, load_handler

STACK = "leash"
REGION = "us-east-1"
FORWARDER_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:leash-SlackForwarderFunction-EXAMPLE"


def _rule(pattern=None, state="ENABLED", bus=None, schedule=None):
    props = {"State": state, "Targets": [{"Id": "target", "Arn": {"Fn::GetAtt": ["Target", "Arn"]}}]}
    if pattern:
        props["EventPattern"] = pattern
    if schedule:
        props["ScheduleExpression"] = schedule
    if bus:
        props["EventBusName"] = bus
    return {"Type": "AWS::Events::Rule", "Properties": props}


STACK_TEMPLATE = {
    "Parameters": {"WatchedRegions": {"Type": "CommaDelimitedList"}},
    "Resources": {
        "Target": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "leash-target"}},
        "NotifyFunctionDestructiveData1": _rule({"source": ["aws.s3"], "detail-type": ["AWS API Call via CloudTrail"]}),
        "DeniedCallsRule": _rule({"detail-type": ["AWS API Call via CloudTrail"]}, state="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"),
        "LockdownStateMachineLockdownRequested": _rule({"source": ["leash"]}, bus="leash-leash"),
        "HealthFunctionHeartbeat": _rule(schedule="cron(0 8 * * ? *)"),
    },
}  # fmt: skip


@pytest.fixture
def world(aws, monkeypatch, slack):
    """A healthy Leash on moto: its rules with targets, a complete trail, a confirmed subscriber, a Slack secret."""
    events = boto3.client("events", REGION)
    events.create_event_bus(Name="leash-leash")
    cfn = boto3.client("cloudformation", REGION)
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(STACK_TEMPLATE),
        Parameters=[
            {"ParameterKey": "WatchedRegions", "ParameterValue": "us-east-1,eu-west-1,ap-southeast-2"}
        ],
    )
    rules = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        if r["ResourceType"] == "AWS::Events::Rule"
    }
    boto3.client("s3", REGION).create_bucket(Bucket="org-trail")
    cloudtrail = boto3.client("cloudtrail", REGION)
    cloudtrail.create_trail(Name="org-trail", S3BucketName="org-trail", IsMultiRegionTrail=True)
    cloudtrail.put_event_selectors(
        TrailName="org-trail", EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}]
    )
    cloudtrail.start_logging(Name="org-trail")
    topic = boto3.client("sns", REGION).create_topic(Name="leash-alerts")["TopicArn"]
    sns = boto3.client("sns", REGION)
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="oncall@example.com")
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=FORWARDER_ARN)
    # moto would invoke the forwarder (it needs docker for that): its subscription is listed, not delivered to.
    from moto.sns.models import Subscription

    deliver = Subscription.publish
    monkeypatch.setattr(
        Subscription,
        "publish",
        lambda self, *a, **kw: None if self.protocol == "lambda" else deliver(self, *a, **kw),
    )
    secret = boto3.client("secretsmanager", REGION).create_secret(Name="leash/slack", SecretString=slack.url)[
        "ARN"
    ]
    from leash_cli.emulator import create_tables

    create_tables({"LedgerTable": "leash-ledger"})
    env = {
        "AWS_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "health",
        "LEASH_STACK_NAME": STACK,
        "LEASH_EVENT_BUS": "leash-leash",
        "LEASH_ACCOUNT_ID": ACCOUNT,
        "ALERTS_TOPIC_ARN": topic,
        "LEDGER_TABLE": "leash-ledger",
        "SLACK_WEBHOOK_SECRET_ARN": secret,  # the fake Slack: the second path posts failed checks there
        "SLACK_DEAD_LETTER_QUEUE_URL": boto3.client("sqs", REGION).create_queue(QueueName="slack-dlq")[
            "QueueUrl"
        ],
        "LEASH_SLACK_FORWARDER_ARN": FORWARDER_ARN,
        "LEASH_ALL_EVENTS_RULES": rules["DeniedCallsRule"],
        "LEASH_FORWARDERS_STACK_SET": f"{STACK}-forwarders",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    inbox = AlertInbox(topic)  # an SQS subscriber: what the on-call's Slack and e-mail receive
    return {"rules": rules, "topic": topic, "secret": secret, "inbox": inbox, "slack": slack}


def run(lambda_context, heartbeat=False):
    handler = load_handler("health")
    return handler.lambda_handler({"heartbeat": heartbeat}, lambda_context)


def alerts(world) -> list[dict]:
    return [json.loads(m["Message"]) for m in world["inbox"].drain()]  # SQS gets the JSON ("default")


def health_alerts(world) -> list[dict]:
    found = [a for a in alerts(world) if a["kind"] == "health"]
    for alert in found:
        assert alert["severity"] == "critical" and alert["second_path"] is True
    return found


def titles(found: list[dict]) -> list[str]:
    return [a["title"] for a in found]


def test_a_healthy_leash_raises_nothing(world, lambda_context):
    report = run(lambda_context)
    assert report["failures"] == 0
    assert {c["check"]: c["status"] for c in report["checks"]} == {
        "rules": "ok", "forwarders": "skipped", "trail": "ok", "subscriptions": "ok", "slack": "ok",
    }  # fmt: skip
    assert report["checks"][1]["skipped"] == "not configured: no StackSet leash-forwarders"
    assert alerts(world) == []


def test_a_disabled_rule_is_critical(world, lambda_context):
    rule = world["rules"]["NotifyFunctionDestructiveData1"]
    boto3.client("events", REGION).disable_rule(Name=rule)
    run(lambda_context)
    (alert,) = health_alerts(world)
    assert alert["title"] == f"Leash health check failed: rule {rule} is DISABLED"
    assert alert["reasons"] == ["Leash does not see the calls this rule matches"]
    assert alert["resource"] == rule


def test_a_failed_check_reaches_slack_straight_even_with_the_alerts_topic_deleted(world, lambda_context):
    """The second path: the topic that carries every alert may be what was broken."""
    rule = world["rules"]["NotifyFunctionDestructiveData1"]
    boto3.client("events", REGION).disable_rule(Name=rule)
    boto3.client("sns", REGION).delete_topic(TopicArn=world["topic"])
    run(lambda_context)
    posts = [json.dumps(r) for r in world["slack"].requests]  # straight from the health function
    assert sum(f"rule {rule} is DISABLED" in p for p in posts) == 1
    assert any("alerts topic" in p for p in posts)  # the topic's own check fails too, and says so in Slack


def test_a_rule_without_its_target_is_critical(world, lambda_context):
    rule = world["rules"]["NotifyFunctionDestructiveData1"]
    boto3.client("events", REGION).remove_targets(Rule=rule, Ids=["target"])
    run(lambda_context)
    assert titles(health_alerts(world)) == [f"Leash health check failed: rule {rule} has no target"]


def test_a_rule_on_leash_own_bus_is_checked_there(world, lambda_context):
    rule = world["rules"]["LockdownStateMachineLockdownRequested"]
    boto3.client("events", REGION).disable_rule(Name=rule, EventBusName="leash-leash")
    run(lambda_context)
    assert titles(health_alerts(world)) == [f"Leash health check failed: rule {rule} is DISABLED"]


def test_a_deleted_rule_is_critical(world, lambda_context):
    rule = world["rules"]["HealthFunctionHeartbeat"]
    events = boto3.client("events", REGION)
    events.remove_targets(Rule=rule, Ids=["target"])
    events.delete_rule(Name=rule)
    run(lambda_context)
    assert titles(health_alerts(world)) == [f"Leash health check failed: rule {rule} was deleted"]


def test_a_spike_rule_that_no_longer_sees_reads_is_critical(world, lambda_context):
    rule = world["rules"]["DeniedCallsRule"]
    events = boto3.client("events", REGION)
    described = events.describe_rule(Name=rule)
    events.put_rule(Name=rule, EventPattern=described["EventPattern"], State="ENABLED")
    run(lambda_context)
    (alert,) = health_alerts(world)
    assert alert["title"] == (
        f"Leash health check failed: rule {rule} is ENABLED, not ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    )
    assert alert["reasons"] == ["read-only calls (most denied probing) no longer reach Leash"]


def test_a_stopped_trail_is_critical(world, lambda_context):
    boto3.client("cloudtrail", REGION).stop_logging(Name="org-trail")
    run(lambda_context)
    (alert,) = health_alerts(world)
    assert alert["title"] == "Leash health check failed: CloudTrail trail org-trail is not logging"
    assert alert["resource"] == f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/org-trail"


def test_a_single_region_trail_is_critical(world, lambda_context):
    boto3.client("cloudtrail", REGION).update_trail(Name="org-trail", IsMultiRegionTrail=False)
    run(lambda_context)
    assert titles(health_alerts(world)) == [
        "Leash health check failed: CloudTrail trail org-trail records only its own region (not multi-region)"
    ]


def test_a_trail_without_management_events_is_critical(world, lambda_context):
    boto3.client("cloudtrail", REGION).put_event_selectors(
        TrailName="org-trail", EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": False}]
    )
    run(lambda_context)
    assert titles(health_alerts(world)) == [
        "Leash health check failed: CloudTrail trail org-trail records no management events"
    ]


def test_one_complete_trail_is_enough(world, lambda_context):
    cloudtrail = boto3.client("cloudtrail", REGION)
    cloudtrail.create_trail(Name="team-trail", S3BucketName="org-trail")  # single-region, not logging
    run(lambda_context)
    assert alerts(world) == []


def test_no_trail_at_all_is_critical(world, lambda_context):
    boto3.client("cloudtrail", REGION).delete_trail(Name="org-trail")
    run(lambda_context)
    assert titles(health_alerts(world)) == [
        "Leash health check failed: no CloudTrail trail exists in this account"
    ]


def _only_pending_email(world, monkeypatch):
    """The e-mail subscriber never confirmed (SNS lists it as PendingConfirmation) and Slack is not configured."""
    from moto.sns.models import sns_backends

    backend = sns_backends[ACCOUNT][REGION]
    for arn, subscription in list(backend.subscriptions.items()):
        if subscription.topic.arn != world["topic"]:
            continue
        if subscription.protocol == "email":
            # What ListSubscriptionsByTopic answers for an unconfirmed subscription (moto confirms at once).
            subscription.arn = "PendingConfirmation"
        elif subscription.protocol == "sqs":
            backend.subscriptions.pop(arn)  # the test's own inbox is not a subscriber of the deployment
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", "")


def test_an_unconfirmed_subscription_is_critical(world, lambda_context, monkeypatch):
    _only_pending_email(world, monkeypatch)
    sent = []
    handler = load_handler("health")
    handler.health._send_failure = sent.append  # the topic has no reader left: look at what was sent
    handler.lambda_handler({}, lambda_context)
    (alert,) = sent
    assert (
        alert.title
        == "Leash health check failed: the alerts topic has no confirmed subscription (1 pending confirmation)"
    )
    assert alert.reasons == ("nobody receives Leash's alerts",)
    assert alert.second_path and alert.severity == "critical"


def test_the_slack_forwarder_unsubscribed_is_critical(world, lambda_context):
    sns = boto3.client("sns", REGION)
    (forwarder,) = [
        s for s in sns.list_subscriptions_by_topic(TopicArn=world["topic"])["Subscriptions"]
        if s["Endpoint"] == FORWARDER_ARN
    ]  # fmt: skip
    sns.unsubscribe(SubscriptionArn=forwarder["SubscriptionArn"])
    run(lambda_context)
    assert titles(health_alerts(world)) == [
        "Leash health check failed: the Slack forwarder is not subscribed to the alerts topic"
    ]


def test_a_webhook_secret_pointing_elsewhere_is_critical(world, lambda_context):
    boto3.client("secretsmanager", REGION).put_secret_value(
        SecretId=world["secret"], SecretString="https://collector.example.net/services/T0/B0/X"
    )
    run(lambda_context)
    (alert,) = health_alerts(world)
    assert alert["title"] == (
        "Leash health check failed: the Slack webhook secret does not hold a Slack webhook URL "
        "(it points at collector.example.net)"
    )
    assert "hooks.slack.com" not in json.dumps(alert)  # never the secret itself


def test_an_unreadable_webhook_secret_is_critical(world, lambda_context):
    boto3.client("secretsmanager", REGION).delete_secret(
        SecretId=world["secret"], ForceDeleteWithoutRecovery=True
    )
    run(lambda_context)
    assert titles(health_alerts(world)) == [
        "Leash health check failed: Leash cannot read the Slack webhook secret (ResourceNotFoundException)"
    ]


def test_a_bot_token_secret_without_a_bot_token_is_critical(world, lambda_context, monkeypatch):
    """#15: with SlackBotTokenSecretArn set, its secret is checked as the webhook's is."""
    secrets = boto3.client("secretsmanager", REGION)
    arn = secrets.create_secret(Name="leash/slack-bot", SecretString="xoxp-a-user-token")["ARN"]
    monkeypatch.setenv("SLACK_BOT_TOKEN_SECRET_ARN", arn)
    monkeypatch.setenv("SLACK_CHANNEL_ID", "C0LEASH01")
    run(lambda_context)
    assert titles(health_alerts(world)) == [
        "Leash health check failed: the Slack bot token secret does not hold a bot token (xoxb-...)"
    ]
    secrets.put_secret_value(SecretId=arn, SecretString='{"bot_token": "xoxb-1-2-3"}')
    run(lambda_context)
    assert health_alerts(world) == []


@pytest.fixture
def forwarders(world):
    """The forwarders' StackSet of #12, with an instance in each watched region but the home region."""
    cfn = boto3.client("cloudformation", REGION)
    forwarder = {"Resources": {"Forward": {"Type": "AWS::Events::Rule", "Properties": {
        "Name": "leash-forward", "EventPattern": {"source": ["aws.s3"]}}}}}  # fmt: skip
    cfn.create_stack_set(StackSetName=f"{STACK}-forwarders", TemplateBody=json.dumps(forwarder))
    cfn.create_stack_instances(
        StackSetName=f"{STACK}-forwarders", Accounts=[ACCOUNT], Regions=["eu-west-1", "ap-southeast-2"]
    )
    return cfn


def test_forwarders_in_every_watched_region_are_healthy(forwarders, world, lambda_context):
    report = run(lambda_context)
    (check,) = [c for c in report["checks"] if c["check"] == "forwarders"]
    assert (check["status"], check["checked"]) == ("ok", 2)
    assert alerts(world) == []


def test_a_missing_forwarder_is_critical(forwarders, world, lambda_context):
    forwarders.delete_stack_instances(
        StackSetName=f"{STACK}-forwarders", Accounts=[ACCOUNT], Regions=["ap-southeast-2"], RetainStacks=False
    )
    run(lambda_context)
    (alert,) = health_alerts(world)
    assert alert["title"] == (
        "Leash health check failed: the forwarder in ap-southeast-2 is missing (no stack instance of leash-forwarders)"
    )
    assert alert["reasons"] == ["Leash does not see the calls made in ap-southeast-2"]


def test_every_failure_is_its_own_alert(world, lambda_context):
    boto3.client("cloudtrail", REGION).stop_logging(Name="org-trail")
    boto3.client("events", REGION).disable_rule(Name=world["rules"]["NotifyFunctionDestructiveData1"])
    report = run(lambda_context)
    assert report["failures"] == 2
    assert len({a["event_id"] for a in health_alerts(world)}) == 2


# ---------------------------------------------------------------- the heartbeat


def _day_of_work(world):
    """What the handlers would have emitted and written over the day (their EMF metrics, the ledger)."""
    cloudwatch = boto3.client("cloudwatch", REGION)
    earlier = datetime.now(UTC) - timedelta(hours=3)

    def metric(name, value, **dimensions):
        cloudwatch.put_metric_data(Namespace="Leash", MetricData=[{
            "MetricName": name, "Value": value, "Unit": "Count", "Timestamp": earlier,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        }])  # fmt: skip

    metric("IgnoredEvents", 40, service="notify")
    metric("AlertsPublished", 3, service="notify")
    metric("AlertsPublished", 2, service="reapply")
    metric("DeniedCallsTotal", 12, service="spikes")
    metric("AgentCalls", 150, service="spikes", ActorKind="agent")
    metric("SpikeAlerts", 1, service="spikes")
    from leash.ledger import Ledger

    ledger = Ledger(boto3.client("dynamodb", REGION), "leash-ledger")
    for n, outcome in enumerate(["reapplied", "reapplied", "alert-only"]):
        ledger.record({"eventId": f"e{n}", "protection": "s3-versioning", "outcome": outcome})
    old = Ledger(boto3.client("dynamodb", REGION), "leash-ledger", clock=lambda: 0.0)  # 1970: not today
    old.record({"eventId": "e-old", "protection": "s3-versioning", "outcome": "reapplied"})


def test_the_heartbeat_counts_the_day(world, lambda_context):
    _day_of_work(world)
    report = run(lambda_context, heartbeat=True)
    (beat,) = alerts(world)
    assert beat["kind"] == "heartbeat" and beat["severity"] == "low" and beat["second_path"] is False
    # 40 + 3 + 2 judged by notify and reapply, 12 denied and 150 agent calls counted; 3 + 2 + 1 alerts.
    assert beat["title"] == "Leash is watching: 207 calls seen, 6 alerts, 2 protections put back in 24 h"
    assert beat["reasons"] == [
        "all 4 health checks passed",
        "forwarders: not configured: no StackSet leash-forwarders",
    ]
    assert report["heartbeat"] == beat["title"]


def test_the_heartbeat_emits_the_metric_the_dead_man_switch_watches(world, lambda_context, capsys):
    run(lambda_context, heartbeat=True)
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (emf,) = emitted
    assert emf["Heartbeat"] == [1.0] and emf["service"] == "health"
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Leash"


def test_no_heartbeat_metric_on_an_hourly_check(world, lambda_context, capsys):
    run(lambda_context)
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert all("Heartbeat" not in emf for emf in emitted)


def test_a_quiet_day_reads_in_words(world, lambda_context):
    run(lambda_context, heartbeat=True)
    (beat,) = alerts(world)
    assert beat["title"] == "Leash is watching: 0 calls seen, 0 alerts, 0 protections put back in 24 h"


def test_the_heartbeat_names_failed_checks(world, lambda_context):
    boto3.client("cloudtrail", REGION).stop_logging(Name="org-trail")
    run(lambda_context, heartbeat=True)
    found = alerts(world)
    (beat,) = [a for a in found if a["kind"] == "heartbeat"]
    assert beat["reasons"][0] == "1 health check failed (trail): see the critical alerts"
    assert [a["kind"] for a in found].count("health") == 1


def test_the_heartbeat_goes_out_when_the_figures_cannot_be_read(world, lambda_context, monkeypatch):
    import leash.health

    def broken(*_args, **_kwargs):
        raise RuntimeError("GetMetricData denied")

    monkeypatch.setattr(leash.health, "metric_sums", broken)
    run(lambda_context, heartbeat=True)
    (beat,) = alerts(world)
    assert (
        beat["title"]
        == "Leash is watching (the day's figures could not be read: RuntimeError: GetMetricData denied)"
    )


def test_the_schedule_input_decides_the_heartbeat():
    from leash.health import wants_heartbeat

    assert wants_heartbeat({"heartbeat": True}) and wants_heartbeat('{"heartbeat": true}')
    assert not wants_heartbeat({"heartbeat": False}) and not wants_heartbeat({}) and not wants_heartbeat("x")


def test_times_are_utc():
    from leash.health import Failure, HealthSettings, failure_alert

    settings = HealthSettings(STACK, REGION, ACCOUNT, "arn:topic")
    now = datetime(2026, 5, 1, 8, 0, tzinfo=UTC) + timedelta(seconds=5)
    alert = failure_alert(Failure("trail", "t", "p", "i"), settings, now)
    assert alert.time == "2026-05-01T08:00:05Z" and alert.event_id == "health-20260501T0800-1-trail"
