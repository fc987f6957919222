"""Spike detection on moto: 10,000 denied calls in batches give one warning, one critical, one lockdown request."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from conftest import ACCOUNT, bus_tap, load_event, load_handler

from leash.alerts import Alert
from leash.render import what_leash_did
from leash_cli.emulator import create_tables
from leash_cli.template import Router

BASE = load_event("dynamodb-delete-table-denied")  # a real-shaped AccessDenied from the agent
START = datetime(2026, 11, 22, 21, 0, 0, tzinfo=UTC)  # aligned on a 5-minute window
PROBES = [  # what a prompt-injected agent tries, in proportion 6:3:1
    ("iam", "PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin"),
    ("s3", "GetObject", "arn:aws:s3:::prod-backups/db-2026-11-21.dump"),
    ("secretsmanager", "GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-AbCdEf"),
]


def denied(i: int, identity=None, seconds: float = 0.0, code="AccessDenied") -> dict:
    service, action, resource = PROBES[0 if i % 10 < 6 else 1 if i % 10 < 9 else 2]
    event = copy.deepcopy(BASE)
    detail = event["detail"]
    event["source"] = f"aws.{service}"
    detail.update(
        eventSource=f"{service}.amazonaws.com",
        eventName=action,
        eventID=f"probe-{i:06d}",
        eventTime=(START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        errorCode=code,
        errorMessage=f"User: {detail['userIdentity']['arn']} is not authorized to perform: "
        f"{service}:{action} on resource: {resource} because no identity-based policy allows it",
    )
    if identity:
        detail["userIdentity"] = identity
    return event


def batch(events, start=0):
    return {
        "Records": [
            {
                "messageId": f"m-{start + n}",
                "receiptHandle": "r",
                "body": json.dumps(e),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:{ACCOUNT}:spikes",
                "awsRegion": "us-east-1",
            }
            for n, e in enumerate(events)
        ]
    }


class UpdateCounter:
    """Counts DynamoDB UpdateItem calls that ADD (counter writes), not the alerted-level flags."""

    def __init__(self, client):
        self.adds = 0
        client.meta.events.register("provide-client-params.dynamodb.UpdateItem", self)

    def __call__(self, params, **kwargs):
        if params["UpdateExpression"].startswith("ADD"):
            self.adds += 1


@pytest.fixture
def spikes(aws, monkeypatch):
    create_tables({"SpikeTable": "leash-spikes"})
    topic = boto3.client("sns").create_topic(Name="leash-alerts")["TopicArn"]
    from conftest import AlertInbox

    inbox = AlertInbox(topic)
    read_bus = bus_tap()
    for key, value in {
        "ALERTS_TOPIC_ARN": topic,
        "SPIKE_TABLE": "leash-spikes",
        "POWERTOOLS_SERVICE_NAME": "spikes",
        "LEASH_ROLE_PREFIX": "leash",
        "LEASH_AGENT_ROLE_PREFIX": "ai-agent-",
        "LEASH_AGENT_ROLE_NAMES": "",
        "LEASH_EXEMPT_ARNS": "",
        "LEASH_AUTO_LOCKDOWN": "agents",
        "LEASH_EVENT_BUS": "leash-leash",
        "LEASH_SPIKE_WINDOW_MINUTES": "5",
        "LEASH_DENIED_THRESHOLDS_AGENT": "1500,5000",
        "LEASH_DENIED_THRESHOLDS_HUMAN": "300,2000",
        "LEASH_DENIED_THRESHOLDS_OTHER": "500,5000",
        "LEASH_AGENT_CALL_THRESHOLDS": "20000,50000",
    }.items():
        monkeypatch.setenv(key, value)
    handler = load_handler("spikes")
    writes = UpdateCounter(handler.consumer._store._ddb)

    def requests():
        return [event["detail"] for event in read_bus()]

    return handler, inbox, writes, requests


def test_burst_of_10000_denied_calls_alerts_once_per_level_and_requests_one_lockdown(spikes, lambda_context):
    handler, inbox, writes, requests = spikes
    events = [denied(i, seconds=i * 0.02) for i in range(10_000)]  # 200 s of probing, one window

    responses = [
        handler.lambda_handler(batch(events[i : i + 1000], i), lambda_context) for i in range(0, 10_000, 1000)
    ]

    assert all(r == {"batchItemFailures": []} for r in responses)
    assert writes.adds == 10  # one counter write per principal per batch
    alerts = [(m["Subject"], json.loads(m["Message"])) for m in inbox.drain()]
    titles = [a["title"] for _, a in alerts]
    assert [a["severity"] for _, a in alerts] == ["high", "critical"]
    assert titles == [  # warning crossed in the 2nd batch, critical in the 5th
        "agent ai-agent-deploy: 2000 denied calls in 5 min: iam:PassRole ×1200, s3:GetObject ×600, "
        "secretsmanager:GetSecretValue ×200 on role/admin ×1200, prod-backups ×600, prod/db-AbCdEf ×200",
        "agent ai-agent-deploy: 5000 denied calls in 5 min: iam:PassRole ×3000, s3:GetObject ×1500, "
        "secretsmanager:GetSecretValue ×500 on role/admin ×3000, prod-backups ×1500, prod/db-AbCdEf ×500",
    ]
    assert "source identity jordan@example.com" in alerts[0][1]["actor"]["display"]
    assert (
        "Leash requested a lockdown of arn:aws:iam::111122223333:role/ai-agent-deploy"
        in what_leash_did(Alert.from_dict(alerts[1][1]))[0]
    )
    (request,) = requests()
    assert request["principal"] == f"arn:aws:iam::{ACCOUNT}:role/ai-agent-deploy"
    assert (
        request["trigger"] == "auto:spike:denied" and request["evidence"]["topActions"]["iam:PassRole"] >= 600
    )


def test_a_human_under_the_threshold_produces_nothing(spikes, lambda_context):
    handler, inbox, writes, requests = spikes
    human = load_event("ec2-terminate-instances-by-human")["detail"]["userIdentity"]
    result = handler.lambda_handler(batch([denied(i, identity=human) for i in range(150)]), lambda_context)
    assert result == {"batchItemFailures": []}
    assert inbox.drain() == [] and requests() == []


def test_aws_service_denials_are_ignored_by_rule_and_handler(spikes, lambda_context):
    handler, inbox, writes, requests = spikes
    service = {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}
    events = [denied(i, identity=service) for i in range(200)]
    assert Router.from_template().route(events[0]) == []
    handler.lambda_handler(batch(events), lambda_context)
    assert writes.adds == 0 and inbox.drain() == []


def test_a_malformed_record_is_the_only_one_reported_failed(spikes, lambda_context):
    handler, inbox, writes, requests = spikes
    records = batch([denied(i) for i in range(5)])
    records["Records"][2]["body"] = '{"detail-type": "EC2 Instance State-change Notification"}'
    records["Records"][3]["body"] = "not json"
    result = handler.lambda_handler(records, lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-3"}]}
    assert writes.adds == 1


def test_a_record_with_oddly_typed_identity_is_still_counted(spikes, lambda_context):
    """A wrongly typed identity field reads as absent (it used to crash the classifier): the denial counts,
    by the session's ARN since the role behind it is unreadable, and no record fails."""
    handler, inbox, writes, requests = spikes
    odd = denied(1)
    odd["detail"]["userIdentity"]["sessionContext"] = "not an object"
    result = handler.lambda_handler(batch([denied(0), odd, denied(2)]), lambda_context)
    assert result == {"batchItemFailures": []}
    assert writes.adds == 2  # the role's group and the session's


def test_windows_are_separate(spikes, lambda_context):
    handler, inbox, writes, requests = spikes
    first = [denied(i, seconds=10) for i in range(1500)]
    second = [denied(i, seconds=310) for i in range(1500)]  # the next 5-minute window
    handler.lambda_handler(batch(first + second), lambda_context)
    assert writes.adds == 2
    assert [json.loads(m["Message"])["severity"] for m in inbox.drain()] == ["high", "high"]


def test_denied_rule_sees_every_spelling_and_reads(spikes):
    router = Router.from_template()
    for code in (
        "AccessDenied",
        "AccessDeniedException",
        "Client.UnauthorizedOperation",
        "UnauthorizedOperation",
        "AuthorizationError",
    ):
        event = denied(1, code=code)
        event["detail"]["readOnly"] = True
        assert [r.name for r in router.route(event)] == ["DeniedCallsRule", "AgentCallsRule"], code
    leash_role = load_event("rds-modify-db-instance-by-leash")["detail"]["userIdentity"]
    assert [r.name for r in router.route(denied(1, identity=leash_role))] == []


def test_runaway_agent_call_volume_alerts(spikes, lambda_context, monkeypatch):
    monkeypatch.setenv("LEASH_AGENT_CALL_THRESHOLDS", "300,1000")
    handler = load_handler("spikes")
    inbox = spikes[1]
    reads = []
    for i in range(400):  # successful reads: no denial, just an agent out of control
        event = denied(i, seconds=i * 0.1)
        del event["detail"]["errorCode"], event["detail"]["errorMessage"]
        event["detail"].update(eventSource="ec2.amazonaws.com", eventName="DescribeInstances", readOnly=True)
        reads.append(event)
    handler.lambda_handler(batch(reads), lambda_context)
    (alert,) = [json.loads(m["Message"]) for m in inbox.drain()]
    assert alert["title"] == "agent ai-agent-deploy: 400 calls in 5 min: ec2:DescribeInstances ×400"
    assert alert["severity"] == "high" and alert["action"] == "leash:CallVolumeSpike"


def test_dynamodb_and_in_memory_counters_raise_the_same_alerts(aws):
    """The Lambda's counters and replay's are one detector: the same calls, in the same batches, give
    the same alerts and lockdown requests, whichever store holds the counts."""
    from leash.counters import DynamoDbCounterStore, InMemoryCounterStore
    from leash.settings import ActorConfig, SpikeConfig, Thresholds
    from leash.spike_consumer import SpikeConsumer

    create_tables({"SpikeTable": "leash-spikes"})
    config = SpikeConfig(denied_agent=Thresholds(40, 120), denied_human=Thresholds(25, 60))
    actors = ActorConfig(agent_role_prefix="ai-agent-")
    human = copy.deepcopy(BASE["detail"]["userIdentity"])
    human["arn"] = human["arn"].replace("ai-agent-deploy", "platform-admin")
    human["sessionContext"]["sessionIssuer"]["userName"] = "platform-admin"
    human["sessionContext"]["sessionIssuer"]["arn"] = f"arn:aws:iam::{ACCOUNT}:role/platform-admin"
    # Two principals, two windows, 30 distinct resources (more than a window keeps by name).
    events = [denied(i, identity=human if i % 3 == 0 else None, seconds=i * 1.5) for i in range(400)]
    for i, event in enumerate(events):
        event["detail"]["errorMessage"] = event["detail"]["errorMessage"].replace(
            "role/admin", f"role/admin-{i % 30}"
        )

    def run(store):
        published, requested = [], []

        def publish(alert):
            published.append(alert.to_dict())
            return "id"

        consumer = SpikeConsumer(actors, config, store, publish, request_lockdown=requested.append)
        for start in range(0, len(events), 70):
            result = consumer.handle(batch(events[start : start + 70], start))
            assert result.response == {"batchItemFailures": []}
        return published, requested

    in_dynamodb = run(DynamoDbCounterStore(boto3.client("dynamodb"), "leash-spikes"))
    in_memory = run(InMemoryCounterStore())
    assert in_dynamodb == in_memory
    alerts, requests = in_memory
    assert len(alerts) >= 4 and {a["severity"] for a in alerts} >= {"high", "critical", "medium"}
    assert [r["principal"] for r in requests] == [f"arn:aws:iam::{ACCOUNT}:role/ai-agent-deploy"] * len(
        requests
    )


@pytest.mark.parametrize("store", ["dynamodb", "memory"])
def test_an_alert_that_could_not_be_published_is_sent_when_the_batch_comes_back(aws, store):
    """Publish fails at the crossing: SQS redelivers the batch, which finds the level reached and not
    alerted (the claim was released), and alerts then, once. Decided by the window's total, not the delta."""
    from leash.counters import DynamoDbCounterStore, InMemoryCounterStore
    from leash.settings import ActorConfig, SpikeConfig, Thresholds
    from leash.spike_consumer import SpikeConsumer

    create_tables({"SpikeTable": "leash-spikes"})
    counters = (
        DynamoDbCounterStore(boto3.client("dynamodb"), "leash-spikes")
        if store == "dynamodb"
        else InMemoryCounterStore()
    )
    published, failures = [], [RuntimeError("SNS is down")]

    def publish(alert):
        if failures:
            raise failures.pop()
        published.append(alert)
        return "id"

    config = SpikeConfig(denied_agent=Thresholds(10, 50))
    consumer = SpikeConsumer(ActorConfig(agent_role_prefix="ai-agent-"), config, counters, publish)
    calls = batch([denied(i, seconds=i) for i in range(12)])
    first = consumer.handle(calls)
    assert len(first.response["batchItemFailures"]) == 12 and published == []
    again = consumer.handle(calls)  # SQS delivers the failed records again
    assert again.response == {"batchItemFailures": []}
    assert [str(a.severity) for a in published] == ["high"]
    later = consumer.handle(batch([denied(i, seconds=i) for i in range(100, 105)], 100))
    assert later.response == {"batchItemFailures": []} and len(published) == 1  # the level alerts once
