"""Incidents end to end: notify on moto publishes each alert with its incident; the Slack function queues it
on its FIFO queue (moto) and posts it to Slack's Web API served over real HTTP (or the webhook fallback).

What a responder sees is asserted: one parent per incident, the replies in its thread, the summary in each
chat.update, broadcast criticals, and the dead letters with what is needed to post them later.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from conftest import ACCOUNT, LambdaContext, load_event, load_handler

from leash.alerts import Alert
from leash.incidents import DynamoDbIncidents, InMemoryIncidents, SlackTraffic
from leash.model import Severity
from leash_cli.template import function_environment, load_template

START = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)
CHANNEL = "C0LEASH01"
TOKEN = "xoxb-1111-2222-leash-test"


def call(sample: str, n: int, minutes: float) -> dict:
    """The sample as a new call: its own eventID, `minutes` after 21:00 UTC."""
    event = copy.deepcopy(load_event(sample))
    when = (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event["id"] = f"{sample[:20]}-{n}"
    event["time"] = when
    event["detail"]["eventID"] = f"{n:08d}-0000-4000-8000-{abs(hash(sample)) % 10**12:012d}"
    event["detail"]["eventTime"] = when
    return event


MEDIUM = "rds-modify-db-instance-class-by-agent"  # an agent resizing a database: medium
CRITICAL = "rds-delete-db-instance-skip-final-snapshot-by-agent"  # the same agent role: critical
HUMAN = "ec2-terminate-instances-by-human"


class Stack:
    """notify and the Slack function on moto, wired as template.yaml wires them (the SNS -> Lambda hop by hand)."""

    def __init__(
        self,
        topic_arn,
        inbox,
        monkeypatch,
        *,
        bot_url: str | None = None,
        webhook_url: str | None = None,
        buttons: bool = True,
    ):
        sqs, secrets = boto3.client("sqs"), boto3.client("secretsmanager")
        self.sqs, self.inbox = sqs, inbox
        self.queue = sqs.create_queue(
            QueueName="leash-slack.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "360"}
        )["QueueUrl"]
        self.dlq = sqs.create_queue(QueueName="leash-slack-dlq")["QueueUrl"]
        parameters = {"QuietMinutes": "30"}
        if buttons:  # the interaction endpoint is deployed: alerts and parents carry buttons
            parameters["SlackSigningSecretArn"] = secrets.create_secret(
                Name="leash/slack-signing-stack", SecretString="8f742231b10e8888abcd99yyyzzz85a5"
            )["ARN"]
        if bot_url:
            parameters["SlackBotTokenSecretArn"] = secrets.create_secret(
                Name="leash/slack-bot", SecretString=json.dumps({"bot_token": TOKEN})
            )["ARN"]
            parameters["SlackChannelId"] = CHANNEL
            monkeypatch.setenv("SLACK_API_URL", bot_url)
        if webhook_url:
            parameters["SlackWebhookSecretArn"] = secrets.create_secret(
                Name="leash/slack-webhook", SecretString=webhook_url
            )["ARN"]
        env = function_environment(
            load_template(),
            ["SlackForwarderFunction"],
            parameters,
            {
                "SlackDeadLetterQueue": self.dlq,
                "SlackQueue": self.queue,
                "IncidentTable": "leash-incidents",
            },
            account=ACCOUNT,
        )
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        # Not "slack": Powertools loggers of one service share their stream, which test_slack reads (capsys).
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "slack-incidents")
        self.notify = load_handler("notify")
        self.slack = load_handler("slack_forwarder")

    def publish(self, events: list[dict]) -> list[dict]:
        """notify each call; return what the alerts topic delivered (SNS envelopes, attributes included)."""
        for event in events:
            assert self.notify.lambda_handler(event, LambdaContext())["status"] == "published"
        return self.inbox.drain()

    def to_queue(self, envelopes: list[dict]) -> None:
        """The alerts topic invokes the Slack function (one record per invocation, as SNS does)."""
        for envelope in envelopes:
            result = self.slack.lambda_handler(
                {"Records": [{"EventSource": "aws:sns", "Sns": envelope}]}, LambdaContext()
            )
            assert result == {"results": ["queued"]}

    def drain_queue(self) -> list[dict]:
        """Lambda's SQS poller: batches of the FIFO queue to the function until the queue is empty."""
        failures = []
        while True:
            got = self.sqs.receive_message(
                QueueUrl=self.queue, MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            if not got:
                return failures
            failures += self.batch(got)

    def batch(self, messages: list[dict], container=None) -> list[dict]:
        """One SQS batch to the function (to `container`, another cold-started copy, if given)."""
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:{ACCOUNT}:leash-slack.fifo",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
        result = (container or self.slack).lambda_handler({"Records": records}, LambdaContext())
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])
        return list(result["batchItemFailures"])

    def run(self, events: list[dict]) -> list[dict]:
        """Calls in, Slack out: notify, the topic, the Slack function's queue, Slack."""
        envelopes = self.publish(events)
        self.to_queue(envelopes)
        return envelopes

    def dead_letters(self) -> list[dict]:
        got = self.sqs.receive_message(QueueUrl=self.dlq, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in got]


@pytest.fixture
def bot(notify_stack, monkeypatch, slack_api):
    topic_arn, inbox = notify_stack
    return Stack(topic_arn, inbox, monkeypatch, bot_url=slack_api.url)


def summary(update: dict) -> str:
    return update["blocks"][1]["text"]["text"]


def test_forty_calls_are_one_parent_thirty_nine_replies_and_a_running_summary(bot, slack_api):
    """An agent resizing databases for 40 minutes, one call a minute, with a critical deletion at the 20th."""
    events = [call(CRITICAL if n == 20 else MEDIUM, n, n) for n in range(40)]
    envelopes = []
    for event in events:  # a call a minute: each is in Slack before the next is made
        envelopes += bot.run([event])
        assert bot.drain_queue() == []

    # SNS: every alert keeps its JSON and carries the attributes a filter policy selects on.
    attributes = [{k: v["Value"] for k, v in e["MessageAttributes"].items()} for e in envelopes]
    assert {a["incident"] for a in attributes} == {attributes[0]["incident"]}
    assert attributes[0]["severity"] == "medium" and attributes[20]["severity"] == "critical"
    assert attributes[0]["actor_kind"] == "agent"
    assert attributes[0]["principal"] == f"arn:aws:iam::{ACCOUNT}:role/ai-agent-deploy"
    assert json.loads(envelopes[0]["Message"])["event_id"] == events[0]["detail"]["eventID"]

    (parent,) = slack_api.parents()
    assert parent["channel"] == CHANNEL
    assert parent["blocks"][0]["text"]["text"] == "MEDIUM incident: agent ai-agent-deploy"
    thread = slack_api.calls[0]  # the parent was the first thing posted
    assert thread == ("chat.postMessage", parent)
    parent_ts = "1763845476.000001"
    replies = slack_api.replies_in(parent_ts)
    assert len(replies) == 39
    # In order: each reply is the next call's own alert.
    titles = [r["blocks"][0]["text"]["text"] for r in replies]
    assert titles[19].startswith("CRITICAL: agent ai-agent-deploy deleted DB instance prod-db")
    assert all(
        t.startswith("MEDIUM: agent ai-agent-deploy changed the instance class")
        for t in titles[:19] + titles[20:]
    )
    # The critical is also broadcast to the channel; nothing else is.
    assert [r.get("reply_broadcast") for r in replies].count(True) == 1 and replies[19][
        "reply_broadcast"
    ] is True

    updates = slack_api.updates()
    assert len(updates) == 39 and {u["ts"] for u in updates} == {parent_ts}
    assert "*Calls*: 2 (2 medium)" in summary(updates[0])
    assert "*Calls*: 21 (1 critical, 20 medium)" in summary(updates[19])
    last = summary(updates[-1])
    assert "*Calls*: 40 (1 critical, 39 medium)" in last
    assert "*Who*: agent ai-agent-deploy" in last and "*Human behind*: jordan@example.com" in last
    assert "*Leash put back*: nothing" in last and "*Lockdown*: none" in last  # DeleteDBInstance locks nobody
    assert "*Last call*: medium · agent ai-agent-deploy changed the instance class of analytics-db" in last
    assert updates[-1]["blocks"][0]["text"]["text"] == "CRITICAL incident: agent ai-agent-deploy"
    buttons = [e["action_id"] for e in updates[-1]["blocks"][-1]["elements"]]
    assert buttons == ["leash_lockdown", "leash_acknowledge"]
    ack = json.loads(updates[-1]["blocks"][-1]["elements"][1]["value"])
    assert ack["incident"] == attributes[0]["incident"]
    assert set(slack_api.tokens) == {f"Bearer {TOKEN}"}
    assert bot.dead_letters() == []

    # `leash replay` counts Slack traffic with SlackTraffic: it agrees with what was posted.
    traffic = SlackTraffic()
    for envelope in envelopes:
        traffic.add(Alert.from_dict(json.loads(envelope["Message"])))
    assert (traffic.incidents, traffic.parents, traffic.replies, traffic.broadcasts, traffic.updates) == (
        1, len(slack_api.parents()), len(replies), 1, len(updates)
    )  # fmt: skip
    assert traffic.top_level == 2 and traffic.pages == {"critical": 1}


def test_two_principals_and_a_quiet_hour_make_three_incidents(bot, slack_api):
    """The agent, then a person at the same time, then the agent again after an hour of quiet."""
    events = [call(MEDIUM, n, n) for n in range(3)]
    events += [call(HUMAN, 10 + n, n) for n in range(2)]
    events += [call(MEDIUM, 20 + n, 90 + n) for n in range(2)]
    envelopes = bot.run(events)
    incidents = [e["MessageAttributes"]["incident"]["Value"] for e in envelopes]
    assert len(set(incidents[:3])) == 1 and len(set(incidents[3:5])) == 1 and len(set(incidents[5:])) == 1
    assert len(set(incidents)) == 3

    bot.drain_queue()

    parents = slack_api.parents()
    assert [p["blocks"][0]["text"]["text"] for p in parents] == [
        "MEDIUM incident: agent ai-agent-deploy",
        "MEDIUM incident: human alice@example.com (via SSO permission set AdministratorAccess)",
        "MEDIUM incident: agent ai-agent-deploy",
    ]
    first, second, third = slack_api.parent_stamps()
    assert [len(slack_api.replies_in(ts)) for ts in (first, second, third)] == [2, 1, 1]
    assert len(slack_api.posts()) == 7


def test_two_people_on_one_sso_permission_set_are_two_incidents(bot, slack_api):
    """The AWSReservedSSO_* role is shared by everyone given the set: each person is their own incident."""
    bob = copy.deepcopy(call(HUMAN, 30, 1))
    identity = bob["detail"]["userIdentity"]
    identity["arn"] = identity["arn"].replace("alice@example.com", "bob@example.com")
    identity["principalId"] = identity["principalId"].replace("alice@example.com", "bob@example.com")
    envelopes = bot.run([call(HUMAN, 31, 0), bob])
    assert len({e["MessageAttributes"]["incident"]["Value"] for e in envelopes}) == 2
    assert [e["MessageAttributes"]["principal"]["Value"].rsplit("/", 1)[-1] for e in envelopes] == [
        "alice@example.com",
        "bob@example.com",
    ]


def test_concurrent_alerts_of_one_incident_open_one_thread(bot, slack_api, atomic_items):
    """Ten notify invocations at once, then four pollers of the FIFO queue at once: one parent, all replies."""
    events = [call(MEDIUM, n, n / 10) for n in range(10)]
    barrier = threading.Barrier(len(events))
    errors: list[BaseException] = []

    # One module per thread: each is its own Lambda container (Powertools' processors are per container).
    containers = [load_handler("notify", f"notify_container_{n}") for n in range(len(events))]

    def notify(event, container):
        try:
            barrier.wait()
            container.lambda_handler(event, LambdaContext())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=notify, args=pair) for pair in zip(events, containers, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    envelopes = bot.inbox.drain()
    assert len(envelopes) == 10
    assert len({e["MessageAttributes"]["incident"]["Value"] for e in envelopes}) == 1
    bot.to_queue(envelopes)

    pollers = threading.Barrier(4)
    handled: list[str] = []

    def poll(container):
        """Lambda's poller for one container: batches until all ten are handled (in-flight groups are skipped)."""
        try:
            pollers.wait()
            # Until all ten are handled; a bound on wall time, not on tries: on a loaded machine one batch
            # (Slack over HTTP, DynamoDB) outlasts any fixed number of the other pollers' empty receives.
            give_up = time.monotonic() + 120
            while len(handled) < 10 and time.monotonic() < give_up:
                got = bot.sqs.receive_message(QueueUrl=bot.queue, MaxNumberOfMessages=2).get("Messages", [])
                if got:
                    assert bot.batch(got, container) == []
                    handled.extend(m["MessageId"] for m in got)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    slack_containers = [load_handler("slack_forwarder", f"slack_container_{n}") for n in range(4)]
    threads = [threading.Thread(target=poll, args=(c,)) for c in slack_containers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    (parent,) = slack_api.parents()
    assert len(slack_api.replies_in(slack_api.parent_stamps()[0])) == 9
    assert "*Calls*: 10 (10 medium)" in summary(slack_api.updates()[-1])


@pytest.fixture
def atomic_items(monkeypatch):
    """DynamoDB applies each single-item write atomically; moto, called from threads, does not: hold a lock."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("update_item", "put_item", "get_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


def test_concurrent_records_join_one_incident(aws, atomic_items):
    """The publishers' side alone: 16 threads record alerts of one principal at once; one incident, 16 counted."""
    from leash_cli.emulator import create_tables

    create_tables({"IncidentTable": "leash-incidents"})
    store = DynamoDbIncidents(boto3.client("dynamodb"), "leash-incidents")
    alerts = [_alert(n) for n in range(16)]
    barrier = threading.Barrier(len(alerts))
    ids: list[str] = []

    def record(alert):
        barrier.wait()
        ids.append(store.record(alert).id)

    threads = [threading.Thread(target=record, args=(a,)) for a in alerts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1
    assert store.get(ids[0]).counts == {"medium": 16}


def _alert(n: int, minutes: float = 0, severity: str = "medium", principal: str = "ai-agent-deploy") -> Alert:
    when = (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Alert.from_dict(
        {
            "severity": severity,
            "title": f"agent {principal} call {n}",
            "actor": {
                "kind": "agent",
                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{principal}/s{n}",
                "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{principal}",
                "label": f"agent {principal}",
                "sourceIdentity": "jordan@example.com",
            },
            "action": "rds:ModifyDBInstance",
            "resource": "analytics-db",
            "account": ACCOUNT,
            "region": "us-east-1",
            "time": when,
            "event_id": f"e-{n}",
        }
    )


def test_dynamodb_and_memory_stores_agree(aws):
    """Replay and the demo count incidents in memory: the same alerts give the same incidents as DynamoDB."""
    from leash_cli.emulator import create_tables

    create_tables({"IncidentTable": "leash-incidents"})
    db = DynamoDbIncidents(boto3.client("dynamodb"), "leash-incidents", quiet_seconds=600)
    memory = InMemoryIncidents(quiet_seconds=600)
    alerts = [_alert(n, minutes=m, severity=s, principal=p) for n, (m, s, p) in enumerate([
        (0, "medium", "a"), (5, "high", "a"), (3, "low", "a"), (9, "medium", "b"), (16, "critical", "a"),
        (40, "medium", "a"), (41, "medium", "b"),
    ])]  # fmt: skip
    got_db = [db.record(a) for a in alerts]
    got_memory = [memory.record(a) for a in alerts]
    assert [i.id for i in got_db] == [i.id for i in got_memory]
    # a: 0-5 min (the late call of 3 min joins it), b: 9, a: 16 (11 min quiet), a: 40, b: 41 (32 min quiet)
    assert len({i.id for i in got_db}) == 5
    for incident in {i.id for i in got_db}:
        d, m = db.get(incident), memory.get(incident)
        assert (d.counts, d.humans, d.opened, d.last, d.label, d.last_title) == (
            m.counts, m.humans, m.opened, m.last, m.label, m.last_title
        )  # fmt: skip


def test_429_waits_for_retry_after_then_posts(bot, slack_api, monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr("time.sleep", sleeps.append)
    slack_api.replies = [(429, {"Retry-After": "3"}, json.dumps({"ok": False, "error": "ratelimited"}))]
    bot.run([call(MEDIUM, 0, 0)])
    assert bot.drain_queue() == []
    assert sleeps == [3.0]
    assert len(slack_api.parents()) == 1 and bot.dead_letters() == []


def test_a_reply_slack_refuses_lands_in_the_dead_letter_queue_ready_to_post(bot, slack_api, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    bot.run([call(MEDIUM, 0, 0)])
    bot.drain_queue()
    slack_api.replies = [(200, {}, json.dumps({"ok": False, "error": "channel_not_found"}))]
    bot.run([call(CRITICAL, 1, 1)])
    assert bot.drain_queue() == []  # parked with its reason: the queue moves on

    (dead,) = bot.dead_letters()
    assert dead["reason"] == "Slack answered 200: channel_not_found"
    assert dead["slack"]["method"] == "chat.postMessage"
    assert dead["slack"]["thread_ts"] == "1763845476.000001" and dead["slack"]["reply_broadcast"] is True
    assert dead["slack"]["channel"] == CHANNEL and dead["slack"]["blocks"]
    assert dead["alert"]["severity"] == "critical" and dead["incident"]


def test_webhook_fallback_posts_the_first_call_each_critical_and_one_digest(notify_stack, monkeypatch, slack):
    """No bot token: 10 calls of one incident are one post, the critical its own, then the digest when quiet."""
    topic_arn, inbox = notify_stack
    stack = Stack(topic_arn, inbox, monkeypatch, webhook_url=slack.url)
    stack.run([call(CRITICAL if n == 5 else MEDIUM, n, n) for n in range(10)])
    stack.drain_queue()
    assert len(slack.requests) == 2  # the first call, and the critical
    assert "First call of incident" in json.dumps(slack.requests[0]["blocks"])
    assert slack.requests[1]["blocks"][0]["text"]["text"].startswith("CRITICAL")

    sweep = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    later = START + timedelta(minutes=9 + 31)
    monkeypatch.setattr("time.time", lambda: later.timestamp())
    assert stack.slack.lambda_handler(sweep, LambdaContext()) == {"digests": ["posted"]}
    digest = slack.requests[2]
    assert (
        digest["blocks"][0]["text"]["text"]
        == "Digest: agent ai-agent-deploy, quiet since 2026-11-22 21:09 UTC"
    )
    text = digest["blocks"][1]["text"]["text"]
    assert "*Calls*: 10 (1 critical, 9 medium)" in text
    assert "8 of its 10 calls were not posted one by one" in digest["blocks"][2]["elements"][0]["text"]
    # Swept once: the next sweep has nothing to say.
    assert stack.slack.lambda_handler(sweep, LambdaContext()) == {"digests": []}
    assert len(slack.requests) == 3


def test_the_summary_says_what_leash_put_back_and_the_lockdown():
    """An agent strips its guardrail (reapplied, lockdown requested), then the workflow locks it down."""
    from leash.incident_blocks import render_parent
    from leash.model import ActionKind, LeashAction

    store = InMemoryIncidents()
    stripped = replace(
        _alert(0),
        severity=Severity.HIGH,
        leash_did=(
            LeashAction(ActionKind.REAPPLIED, protection="agent-guardrail-policy", title="guardrail policy",
                        resource="ai-agent-deploy", fix="re-attached agent-guardrail-deny", seconds=2),
            LeashAction(ActionKind.LOCKDOWN_REQUESTED, principal=f"arn:aws:iam::{ACCOUNT}:role/ai-agent-deploy"),
        ),
    )  # fmt: skip
    first = store.record(stripped)
    assert first.lockdown == "requested" and first.put_back == ("guardrail policy on ai-agent-deploy",)
    locked = replace(
        _alert(1, minutes=1),
        kind="workflow",
        notice="lockdown-applied",
        actor={"kind": "leash", "lockdownPrincipal": f"arn:aws:iam::{ACCOUNT}:role/ai-agent-deploy"},
    )
    incident = store.record(locked)
    assert incident.id == first.id and incident.lockdown == "locked down"
    text = render_parent(incident, stripped)["blocks"][1]["text"]["text"]
    assert "*Leash put back*: guardrail policy on ai-agent-deploy" in text
    assert "*Lockdown*: locked down" in text
    assert "*Calls*: 2 (1 high, 1 medium)" in text


@pytest.mark.parametrize("kind", ["memory", "dynamodb"])
def test_a_request_after_the_lockdown_does_not_undo_it_and_the_parent_offers_release(aws, kind):
    """The demo's order: requested, locked down by the workflow, then a spike asks again (not repeated)."""
    from leash.incident_blocks import render_parent
    from leash.model import ActionKind, LeashAction
    from leash_cli.emulator import create_tables

    role = f"arn:aws:iam::{ACCOUNT}:role/ai-agent-deploy"
    if kind == "dynamodb":
        create_tables({"IncidentTable": "leash-incidents"})
        store = DynamoDbIncidents(boto3.client("dynamodb"), "leash-incidents")
    else:
        store = InMemoryIncidents()
    request = LeashAction(ActionKind.LOCKDOWN_REQUESTED, principal=role)
    asked = replace(_alert(0), severity=Severity.CRITICAL, leash_did=(request,))
    assert store.record(asked).lockdown == "requested"
    notice = replace(_alert(1, minutes=1), kind="workflow", notice="lockdown-applied",
                     actor={"kind": "leash", "lockdownPrincipal": role})  # fmt: skip
    assert store.record(notice).lockdown == "locked down"
    again = replace(_alert(2, minutes=2), severity=Severity.CRITICAL, leash_did=(request,))
    incident = store.record(again)
    assert incident.lockdown == "locked down"
    latest = replace(_alert(3, minutes=3), actor={**_alert(3).actor, "lockable": True})
    elements = render_parent(incident, latest)["blocks"][-1]["elements"]
    assert [e["action_id"] for e in elements] == ["leash_release", "leash_acknowledge"]
    assert json.loads(elements[0]["value"])["principal"] == role
    assert "*Lockdown*: locked down" in render_parent(incident, latest)["blocks"][1]["text"]["text"]


def test_acknowledge_on_the_parent_marks_the_incident_and_its_summary(bot, slack_api, slack, monkeypatch):
    """The real Acknowledge button of the parent, clicked (a signed request to the interactions handler)."""
    import time
    from urllib.parse import urlencode

    from conftest import function_url_event
    from slack_sdk.signature import SignatureVerifier

    bot.run([call(MEDIUM, 0, 0)])
    bot.drain_queue()
    (parent,) = slack_api.parents()
    (button,) = [e for e in parent["blocks"][-1]["elements"] if e["action_id"] == "leash_acknowledge"]
    incident = json.loads(button["value"])["incident"]

    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    for key, value in {
        "SLACK_SIGNING_SECRET_ARN": boto3.client("secretsmanager").create_secret(
            Name="leash/slack-signing", SecretString=secret
        )["ARN"],
        "LEASH_SLACK_LOCKDOWN_USERS": "U0ONCALL",
        "LEASH_SLACK_RELEASE_USERS": "U0LEAD",
        "LOCKDOWN_STATE_MACHINE_ARN": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:lockdown",
        "RELEASE_STATE_MACHINE_ARN": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:release",
        "LEDGER_TABLE": "leash-ledger",
        "IDEMPOTENCY_TABLE": "leash-idempotency",
        "LEASH_INCIDENT_TABLE": "leash-incidents",
        "POWERTOOLS_SERVICE_NAME": "interactions",
    }.items():
        monkeypatch.setenv(key, value)
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ONCALL", "username": "sam"},
        "response_url": slack.url,
        "actions": [{**button, "block_id": "leash_actions"}],
        "message": {"text": parent["text"], "blocks": parent["blocks"]},
    }
    body = urlencode({"payload": json.dumps(payload)})
    ts = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    interactions = load_handler("interactions")
    reply = interactions.lambda_handler(function_url_event(body, ts, signature), LambdaContext())
    assert reply["statusCode"] == 200
    assert "Acknowledged by <@U0ONCALL>" in json.dumps(slack.requests[-1]["blocks"])  # the message, at once

    store = DynamoDbIncidents(boto3.client("dynamodb"), "leash-incidents")
    assert store.get(incident).acknowledged_by.startswith("<@U0ONCALL> at ")
    bot.run([call(MEDIUM, 1, 1)])  # the next alert's summary update says so, and offers no Acknowledge
    bot.drain_queue()
    update = slack_api.updates()[-1]
    assert "*Acknowledged*: <@U0ONCALL> at " in summary(update)
    assert [e["action_id"] for e in update["blocks"][-1]["elements"]] == ["leash_lockdown"]


def test_an_alarm_is_no_one_s_incident_and_is_posted_on_its_own(bot, slack_api):
    """A CloudWatch alarm on the topic has no principal: a message in the channel, no thread, no summary."""
    alarm = {
        "AlarmName": "leash-SlackUndeliveredAlarm",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed",
        "AlarmArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:leash-SlackUndeliveredAlarm",
        "AWSAccountId": ACCOUNT,
        "StateChangeTime": "2026-11-22T21:10:00.000+0000",
    }
    later = {**alarm, "StateChangeTime": "2026-11-22T21:15:00.000+0000"}
    bot.to_queue(
        [{"Message": json.dumps(alarm), "Subject": "ALARM", "Timestamp": "2026-11-22T21:10:01.000Z"}]
    )
    bot.to_queue(
        [{"Message": json.dumps(alarm), "Subject": "ALARM", "Timestamp": "2026-11-22T21:10:02.000Z"}]
    )
    bot.to_queue(
        [{"Message": json.dumps(later), "Subject": "ALARM", "Timestamp": "2026-11-22T21:15:01.000Z"}]
    )
    assert bot.drain_queue() == []
    posts = slack_api.posts()  # SNS delivered the first twice: the FIFO queue's deduplication posts it once
    assert len(posts) == 2 and not any(p.get("thread_ts") for p in posts) and slack_api.updates() == []
    assert (
        posts[0]["blocks"][0]["text"]["text"] == "HIGH: CloudWatch alarm leash-SlackUndeliveredAlarm is ALARM"
    )


def test_without_the_interaction_endpoint_the_incident_has_no_buttons(notify_stack, monkeypatch, slack_api):
    """No SlackSigningSecretArn: no endpoint receives clicks, so neither the parent nor a reply offers any."""
    topic_arn, inbox = notify_stack
    stack = Stack(topic_arn, inbox, monkeypatch, bot_url=slack_api.url, buttons=False)

    stack.to_queue(stack.publish([call(MEDIUM, n, n) for n in range(3)]))
    assert stack.drain_queue() == []

    messages = [body for _, body in slack_api.calls]
    assert len(slack_api.parents()) == 1 and len(messages) == 5  # parent, 2 replies, 2 updates
    assert all(block["type"] != "actions" for body in messages for block in body["blocks"])


SWEEP = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def test_a_quiet_incident_s_parent_says_it_is_closed_once(bot, slack_api, monkeypatch):
    """Three calls, then the 5-minute sweep after QuietMinutes (30): the parent is updated once, closed."""
    bot.run([call(MEDIUM, n, n) for n in range(3)])
    assert bot.drain_queue() == []
    (parent_ts,) = slack_api.parent_stamps()
    assert len(slack_api.updates()) == 2

    not_yet = START + timedelta(minutes=2 + 29)
    monkeypatch.setattr("time.time", lambda: not_yet.timestamp())
    assert bot.slack.lambda_handler(SWEEP, LambdaContext()) == {"digests": []}
    assert len(slack_api.updates()) == 2  # 29 minutes of quiet: still live

    later = START + timedelta(minutes=2 + 31)
    monkeypatch.setattr("time.time", lambda: later.timestamp())
    assert bot.slack.lambda_handler(SWEEP, LambdaContext()) == {"digests": ["posted"]}
    closing = slack_api.updates()[-1]
    assert len(slack_api.updates()) == 3
    assert (closing["channel"], closing["ts"]) == (CHANNEL, parent_ts)
    assert closing["blocks"][0]["text"]["text"] == "MEDIUM incident (closed): agent ai-agent-deploy"
    text = summary(closing)
    assert "*Calls*: 3 (3 medium)" in text
    assert text.endswith(
        "*Quiet since 2026-11-22 21:02 UTC: closed.* A new call by this principal opens a new incident."
    )
    assert "2026-11-22 21:00 UTC to 2026-11-22 21:02 UTC" in closing["blocks"][2]["elements"][0]["text"]
    # The buttons stay, made from the last call as on the live parent: an agent gone quiet may still need
    # locking down, and the incident acknowledging.
    assert closing["blocks"][-1] == slack_api.updates()[1]["blocks"][-1]
    assert [e["action_id"] for e in closing["blocks"][-1]["elements"]] == [
        "leash_lockdown",
        "leash_acknowledge",
    ]
    assert "*Calls*" not in json.dumps(slack_api.posts()[1:])  # the closing is an update, not a new message

    # Swept once: the next sweep does nothing.
    assert bot.slack.lambda_handler(SWEEP, LambdaContext()) == {"digests": []}
    assert len(slack_api.calls) == 6 and bot.dead_letters() == []


def test_a_closing_update_slack_refuses_is_parked_once(bot, slack_api, monkeypatch):
    """Slack refuses the closing chat.update: the Slack DLQ gets it ready to repeat, and no sweep repeats it."""
    monkeypatch.setattr("time.sleep", lambda s: None)
    bot.run([call(MEDIUM, n, n) for n in range(2)])
    assert bot.drain_queue() == []
    later = START + timedelta(minutes=1 + 31)
    monkeypatch.setattr("time.time", lambda: later.timestamp())
    refusal = (200, {}, json.dumps({"ok": False, "error": "message_not_found"}))
    slack_api.replies = [refusal, refusal]
    assert bot.slack.lambda_handler(SWEEP, LambdaContext()) == {"digests": ["dead-lettered"]}
    assert len(slack_api.replies) == 1  # tried once

    (dead,) = bot.dead_letters()
    assert dead["reason"] == "Slack answered 200: message_not_found"
    assert dead["slack"]["method"] == "chat.update" and dead["slack"]["ts"] == slack_api.parent_stamps()[0]
    assert "closed.*" in dead["slack"]["blocks"][1]["text"]["text"]
    assert dead["incident"] and dead["alert"]["title"] == f"closing summary of incident {dead['incident']}"
    assert bot.slack.lambda_handler(SWEEP, LambdaContext()) == {"digests": []}
    assert len(slack_api.replies) == 1  # not tried again
    depth = bot.sqs.get_queue_attributes(QueueUrl=bot.dlq, AttributeNames=["All"])["Attributes"]
    assert (
        int(depth["ApproximateNumberOfMessages"]) + int(depth["ApproximateNumberOfMessagesNotVisible"]) == 1
    )


def test_a_retried_publish_counts_its_alert_once(bot, slack_api, monkeypatch):
    """SNS fails after the alert was counted: Lambda retries the whole event; the retry counts nothing more
    and publishes with the incident of the first try."""
    from botocore.exceptions import ClientError
    from moto.sns.exceptions import InternalError
    from moto.sns.models import SNSBackend

    outage = [True]
    publish = SNSBackend.publish

    def failing(self, *args, **kwargs):
        if outage[0]:
            raise InternalError("SNS had a bad moment")
        return publish(self, *args, **kwargs)

    monkeypatch.setattr(SNSBackend, "publish", failing)
    event = call(MEDIUM, 0, 0)
    with pytest.raises(ClientError, match="InternalError"):
        bot.notify.lambda_handler(event, LambdaContext())
    store = DynamoDbIncidents(boto3.client("dynamodb"), "leash-incidents")
    items = boto3.client("dynamodb").scan(TableName="leash-incidents")["Items"]
    (first_try,) = [
        i["pk"]["S"].removeprefix("incident#") for i in items if i["pk"]["S"].startswith("incident#")
    ]
    assert store.get(first_try).counts == {"medium": 1}  # counted before the publish failed

    outage[0] = False
    (envelope,) = bot.run([event])  # Lambda's retry of the same event
    assert envelope["MessageAttributes"]["incident"]["Value"] == first_try
    assert store.get(first_try).counts == {"medium": 1}  # not 2
    (envelope,) = bot.run([call(MEDIUM, 1, 1)])  # the next call joins it and counts
    assert envelope["MessageAttributes"]["incident"]["Value"] == first_try
    assert store.get(first_try).counts == {"medium": 2}
    assert bot.drain_queue() == []
    assert "*Calls*: 2 (2 medium)" in summary(slack_api.updates()[-1])
