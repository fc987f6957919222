"""Spike detection on moto: 10,000 denied calls in batches give one warning, one critical, one lockdown request."""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, bus_tap, load_event, load_handler

from leash.alerts import Alert
from leash.render import render_text, what_leash_did
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


def as_eventbridge_delivers(events):
    """The spike queue's records for these calls: one per spike rule that matches (an agent's denied call
    matches DeniedCallsRule and AgentCallsRule, and each rule sends its own copy)."""
    router = _router()
    return [e for e in events for _ in router.targets(e).get("SpikeQueue", ())]


_ROUTER: list[Router] = []


def _router() -> Router:
    if not _ROUTER:
        _ROUTER.append(Router.from_template())
    return _ROUTER[0]


class UpdateCounter:
    """Counts the DynamoDB writes that ADD to a window (each in a transaction with its calls' markers),
    not the alerted-level flags; and the markers written."""

    def __init__(self, client):
        self.adds = self.markers = 0
        client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", self)

    def __call__(self, params, **kwargs):
        for item in params["TransactItems"]:
            if "Update" in item and item["Update"]["UpdateExpression"].startswith("ADD"):
                self.adds += 1
            elif "Put" in item:
                self.markers += 1


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
    assert writes.adds == 110 and writes.markers == 10_000  # per batch, one window write per 99 calls
    alerts = [(m["Subject"], json.loads(m["Message"])) for m in inbox.drain()]
    titles = [a["title"] for _, a in alerts]
    assert [a["severity"] for _, a in alerts] == ["high", "critical"]
    assert titles == [  # warning crossed in the 2nd batch, critical in the 5th
        "agent ai-agent-deploy: 2000 denied calls in 5 min: iam:PassRole ×1200, s3:GetObject ×600, "
        "secretsmanager:GetSecretValue ×200 on role/admin ×1200, prod-backups ×600, prod/db-AbCdEf ×200",
        "agent ai-agent-deploy: 5000 denied calls in 5 min: iam:PassRole ×3000, s3:GetObject ×1500, "
        "secretsmanager:GetSecretValue ×500 on role/admin ×3000, prod-backups ×1500, prod/db-AbCdEf ×500",
    ]
    assert "for jordan@example.com (source identity)" in alerts[0][1]["actor"]["display"]
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
    assert writes.adds == 2 * 16  # two windows of 1,500 calls: 16 writes of at most 99 calls each
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
    the same alerts and lockdown requests, whichever store holds the counts. The records are what
    EventBridge sends (two copies of the agent's denied calls, one of the human's), and every third
    batch is delivered twice."""
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
        counted: Counter[tuple[str, str]] = Counter()
        for n, start in enumerate(range(0, len(records), 70)):
            for _ in range(2 if n % 3 == 0 else 1):
                result = consumer.handle(batch(records[start : start + 70], start))
                assert result.response == {"batchItemFailures": []}
                counted += result.counted
        return published, requested, counted

    records = as_eventbridge_delivers(events)
    assert len(records) == 400 + 266  # the human's 134 denials match one rule, the agent's 266 both

    in_dynamodb = run(DynamoDbCounterStore(boto3.client("dynamodb"), "leash-spikes"))
    in_memory = run(InMemoryCounterStore())
    assert in_dynamodb == in_memory
    alerts, requests, counted = in_memory
    assert counted == {("denied", "agent"): 266, ("calls", "agent"): 266, ("denied", "human"): 134}
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
    calls = batch(as_eventbridge_delivers([denied(i, seconds=i) for i in range(12)]))  # 24 records
    first = consumer.handle(calls)
    assert len(first.response["batchItemFailures"]) == 24 and published == []
    again = consumer.handle(calls)  # SQS delivers the failed records again
    assert again.response == {"batchItemFailures": []}
    assert [(str(a.severity), a.title.split(":")[1]) for a in published] == [
        ("high", " 12 denied calls in 5 min")
    ]
    later = consumer.handle(batch([denied(i, seconds=i) for i in range(100, 105)], 100))
    assert later.response == {"batchItemFailures": []} and len(published) == 1  # the level alerts once


def test_a_batch_redelivered_after_a_failed_publish_requests_the_lockdown_once(
    spikes, lambda_context, monkeypatch, fail_calls
):
    """The critical crossing asks for the lockdown, then SNS refuses its alert: SQS redelivers the batch,
    which alerts then, still saying the lockdown was requested, but asks EventBridge no second time
    (the request is claimed by principal, window and level before it is put on the bus)."""
    monkeypatch.setenv("LEASH_DENIED_THRESHOLDS_AGENT", "10,50")
    failed = fail_calls("sns.Publish", "InternalError", after=1)  # the warning goes out, the critical fails
    handler, inbox, requests = load_handler("spikes"), spikes[1], spikes[3]
    warning = handler.lambda_handler(batch([denied(i, seconds=i) for i in range(20)]), lambda_context)
    assert warning == {"batchItemFailures": []} and len(inbox.drain()) == 1
    critical = batch([denied(i, seconds=i) for i in range(20, 60)], 20)

    first = handler.lambda_handler(critical, lambda_context)
    assert failed == ["sns.Publish"] and len(first["batchItemFailures"]) == 40
    again = handler.lambda_handler(critical, lambda_context)  # SQS delivers the failed records again

    assert again == {"batchItemFailures": []}
    (request,) = requests()
    assert request["requestId"].startswith(f"spike#arn:aws:iam::{ACCOUNT}:role/ai-agent-deploy#")
    (alert,) = [Alert.from_dict(json.loads(m["Message"])) for m in inbox.drain()]
    assert str(alert.severity) == "critical"
    assert "Leash requested a lockdown of" in what_leash_did(alert)[0]


def test_another_accounts_denials_count_as_one_principal_and_lock_nothing(spikes, lambda_context):
    """Callers from another account have no ARN: they reach the denied rule and count under their account."""
    from identity_forms import FORMS, OTHER_ACCOUNT

    handler, inbox, writes, requests = spikes
    callers = [FORMS["AWSAccount"][0], FORMS["AWSAccount assumed role"][0]]
    events = [denied(i, identity=callers[i % 2]) for i in range(500)]
    assert [r.name for r in Router.from_template().route(events[0])] == ["DeniedCallsRule"]

    assert handler.lambda_handler(batch(events), lambda_context) == {"batchItemFailures": []}

    assert _window_item()["denied"] == 500  # both callers: one window of one principal, the other account
    (message,) = inbox.drain()
    alert = json.loads(message["Message"])
    assert alert["severity"] == "medium"  # the "other" thresholds: 500 is the warning level
    assert alert["title"].startswith(f"external account {OTHER_ACCOUNT}: 500 denied calls in 5 min")
    assert requests() == []


def _consumer(store: str, warning: int, critical: int, **kwargs):
    """A spike consumer on moto's DynamoDB or in memory, its published alerts and its lockdown requests."""
    from leash.counters import DynamoDbCounterStore, InMemoryCounterStore
    from leash.settings import ActorConfig, SpikeConfig, Thresholds
    from leash.spike_consumer import SpikeConsumer

    create_tables({"SpikeTable": "leash-spikes"})
    counters = (
        DynamoDbCounterStore(boto3.client("dynamodb"), "leash-spikes", **kwargs)
        if store == "dynamodb"
        else InMemoryCounterStore()
    )
    published, requested = [], []

    def publish(alert):
        published.append(alert)
        return "id"

    config = SpikeConfig(denied_agent=Thresholds(warning, critical))
    consumer = SpikeConsumer(
        ActorConfig(agent_role_prefix="ai-agent-"),
        config,
        counters,
        publish,
        request_lockdown=requested.append,
    )
    return consumer, published, requested


def _window_item() -> dict:
    """The agent's window in moto's spike table (the markers beside it are "<window>#event#<eventID>")."""
    items = boto3.client("dynamodb").scan(TableName="leash-spikes")["Items"]
    (window,) = [i for i in items if "denied" in i]
    return {k: int(v["N"]) for k, v in window.items() if k in ("denied", "calls")} | {
        "markers": sum(1 for i in items if i["pk"]["S"].startswith(window["pk"]["S"] + "#event#"))
    }


@pytest.mark.parametrize("store", ["dynamodb", "memory"])
def test_a_denied_call_both_rules_deliver_counts_once(aws, store):
    """25 denials by an agent reach the queue twice each (DeniedCallsRule and AgentCallsRule): 25, not 50,
    so the critical level (50) is not reached and no lockdown is requested."""
    consumer, published, requested = _consumer(store, 20, 50)
    records = as_eventbridge_delivers([denied(i, seconds=i) for i in range(25)])
    assert len(records) == 50

    result = consumer.handle(batch(records))

    assert result.response == {"batchItemFailures": []}
    assert result.counted == {("denied", "agent"): 25, ("calls", "agent"): 25}
    assert [(str(a.severity), a.title.split(":")[1]) for a in published] == [
        ("high", " 25 denied calls in 5 min")
    ]
    assert requested == []
    if store == "dynamodb":
        assert _window_item() == {"denied": 25, "calls": 25, "markers": 25}


@pytest.mark.parametrize("store", ["dynamodb", "memory"])
def test_a_batch_delivered_three_times_counts_once(aws, store):
    consumer, published, requested = _consumer(store, 5, 10)
    calls = batch(as_eventbridge_delivers([denied(i, seconds=i) for i in range(5)]))

    results = [consumer.handle(calls) for _ in range(3)]

    assert all(r.response == {"batchItemFailures": []} for r in results)
    assert [sum(r.counted.values()) for r in results] == [10, 0, 0]  # 5 calls, each denied and an agent call
    assert [a.title.split(":")[1] for a in published] == [" 5 denied calls in 5 min"]  # warning, once
    if store == "dynamodb":
        assert _window_item() == {"denied": 5, "calls": 5, "markers": 5}


@pytest.mark.parametrize("store", ["dynamodb", "memory"])
def test_the_two_copies_of_a_call_in_different_batches_count_once(aws, store):
    """SQS hands each rule's copy to a different batch: the second batch counts only its new calls."""
    consumer, published, requested = _consumer(store, 12, 50)
    events = [denied(i, seconds=i) for i in range(15)]

    first = consumer.handle(batch(events[:10]))  # DeniedCallsRule's copies of the first ten
    second = consumer.handle(batch(events, 100))  # AgentCallsRule's copies of all fifteen

    assert first.counted[("denied", "agent")] == 10 and second.counted[("denied", "agent")] == 5
    assert [a.title.split(":")[1] for a in published] == [" 15 denied calls in 5 min"]
    if store == "dynamodb":
        assert _window_item() == {"denied": 15, "calls": 15, "markers": 15}


def test_a_group_retried_after_a_failed_write_counts_each_call_once(aws):
    """150 calls are two writes (99 + 51); the second fails, SQS redelivers the group's records: the first
    99 are known by their markers and dropped, the other 51 counted, and the warning sent once."""
    consumer, published, requested = _consumer("dynamodb", 140, 500)
    ddb = consumer._store._ddb
    failures = [
        ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "TransactWriteItems")
    ]
    calls = []

    def fail_the_second_write(params, **kwargs):
        calls.append(len(params["TransactItems"]))
        if len(calls) == 2 and failures:
            raise failures.pop()

    ddb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", fail_the_second_write)
    records = batch(as_eventbridge_delivers([denied(i, seconds=i) for i in range(150)]))

    first = consumer.handle(records)
    assert len(first.response["batchItemFailures"]) == 300 and published == []
    assert _window_item() == {"denied": 99, "calls": 99, "markers": 99}  # the first write stays, whole
    again = consumer.handle(records)

    assert again.response == {"batchItemFailures": []}
    assert calls == [
        100,
        52,
        100,
        52,
    ]  # the redelivery: 99 markers found (cancelled, nothing kept), 51 counted
    assert again.counted[("denied", "agent")] == 51
    assert _window_item() == {"denied": 150, "calls": 150, "markers": 150}
    assert [a.title.split(":")[1] for a in published] == [" 150 denied calls in 5 min"]


def test_a_write_cancelled_by_a_concurrent_batch_is_retried(aws):
    """Two batches of one principal write its window at once: DynamoDB cancels one transaction
    (TransactionConflict); it is sent again after a short pause, and counts once."""
    pauses = []
    consumer, published, requested = _consumer("dynamodb", 5, 50, sleep=pauses.append)
    ddb = consumer._store._ddb
    conflicts = 2

    def conflict(params, **kwargs):
        nonlocal conflicts
        if conflicts:
            conflicts -= 1
            reasons = [{"Code": "TransactionConflict", "Message": "conflict"}] + [{"Code": "None"}] * (
                len(params["TransactItems"]) - 1
            )
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "x"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )

    ddb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", conflict)
    result = consumer.handle(batch(as_eventbridge_delivers([denied(i, seconds=i) for i in range(8)])))

    assert result.response == {"batchItemFailures": []} and len(pauses) == 2
    assert _window_item() == {"denied": 8, "calls": 8, "markers": 8}
    assert len(published) == 1


def test_an_event_id_cloudtrail_could_not_have_written_fails_alone_and_the_rest_counts_once(aws):
    """An eventID that is not a short token (a lone surrogate, 3,000 characters) is refused by parse_event:
    its records fail (SQS redelivers them until the dead-letter queue), the good call counts once."""
    consumer, published, requested = _consumer("dynamodb", 5, 50)
    odd = denied(0)
    odd["detail"]["eventID"] = "\udc80" + "x" * 3000
    records = batch([odd, odd, denied(1)])

    for _ in range(2):
        assert consumer.handle(records).response == {
            "batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]
        }
    assert _window_item() == {"denied": 1, "calls": 1, "markers": 1}


REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")


def forwarded(event: dict, region: str) -> dict:
    """The call as the home region's bus receives it from another region's forwarder: the event's `region`
    and the record's awsRegion are those of the call (EventBridge keeps the originating region)."""
    event["region"] = event["detail"]["awsRegion"] = region
    return event


def test_a_denial_burst_split_across_three_regions_is_one_spike_that_names_its_regions(
    spikes, lambda_context
):
    """1,600 denials by one agent, 800 in eu-west-1, 480 in us-east-1 (IAM, global) and 320 in ap-southeast-2,
    forwarded to one home stack: one window of one principal, one warning alert (1,500), naming the three
    regions; in no region alone would the agent have reached the warning level."""
    handler, inbox, writes, requests = spikes
    events = [
        forwarded(denied(i, seconds=i * 0.1), REGIONS[(0, 0, 0, 0, 0, 1, 1, 1, 2, 2)[i % 10]])
        for i in range(1600)
    ]
    for start in range(0, 1600, 400):
        assert handler.lambda_handler(batch(events[start : start + 400], start), lambda_context) == {
            "batchItemFailures": []
        }

    assert _window_item()["denied"] == 1600  # one item: the principal's window, whatever the region
    (message,) = inbox.drain()
    alert = Alert.from_dict(json.loads(message["Message"]))
    assert (str(alert.severity), alert.action) == ("high", "leash:AccessDeniedSpike")
    assert alert.title.startswith("agent ai-agent-deploy: 1600 denied calls in 5 min")
    assert alert.region == "eu-west-1, us-east-1, ap-southeast-2"  # most calls first
    assert "Where:     account 111122223333, regions eu-west-1, us-east-1 and ap-southeast-2" in render_text(
        alert
    )
    assert (
        "counted across 3 regions, as one principal: eu-west-1 ×800, us-east-1 ×480, ap-southeast-2 ×320"
        in alert.reasons
    )


@pytest.mark.parametrize("store", ["dynamodb", "memory"])
def test_both_stores_count_an_agent_probing_in_three_regions_as_one(aws, store):
    """The same calls through the DynamoDB and the in-memory store (replay's): one critical crossing, the
    lockdown request's evidence names the regions."""
    consumer, published, requested = _consumer(store, 20, 30)
    calls = [forwarded(denied(i, seconds=i), REGIONS[i % 3]) for i in range(30)]
    for start in (0, 15):
        consumer.handle(batch(as_eventbridge_delivers(calls[start : start + 15]), start * 2))
    assert [str(a.severity) for a in published] == ["high", "critical"]
    assert {a.region for a in published} == {"ap-southeast-2, eu-west-1, us-east-1"}  # ties by name
    (request,) = requested
    assert request["evidence"]["regions"] == {"ap-southeast-2": 10, "eu-west-1": 10, "us-east-1": 10}


def test_a_spike_alert_links_to_no_console_event():
    """Its region is a list of the regions counted: no one CloudTrail event, so no console link to build."""
    from leash.model import Severity

    spike = Alert(Severity.HIGH, "t", {}, "leash:AccessDeniedSpike", "", ACCOUNT, "us-east-1, eu-west-1",
                  "2026-11-22T21:00:00Z", "spike#k", kind="spike")  # fmt: skip
    assert spike.console_url == "" and spike.to_dict()["console_url"] == ""
