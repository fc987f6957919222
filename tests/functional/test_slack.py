"""Slack delivery over real HTTP to a local stand-in for Slack: retries, Retry-After, dead letters."""

from __future__ import annotations

import json
import socket

import boto3
import pytest
from conftest import (
    LambdaContext,
    assert_within_slack_limits,
    load_event,
    load_handler,
    terminate_instances_event,
)

from leash.actors import ActorConfig, classify_actor
from leash.assess import assess
from leash.catalog import lookup
from leash.events import parse_event
from leash.inbox import alert_from_sns_message
from leash.publish import sns_message
from leash.slack import PARK_SECONDS, SlackDelivery, SqsDeadLetter, webhook_url_from_secret
from leash_cli.template import load_template


@pytest.fixture
def alert():
    call = parse_event(load_event("rds-delete-db-instance-skip-final-snapshot-by-agent"))
    actor = classify_actor(call.user_identity, ActorConfig(agent_role_prefix="ai-agent-"))
    alert, _ = assess(call, actor, lookup(call))
    return alert


@pytest.fixture
def dead_letters():
    return []


def delivery_to(url, dead_letters, sleeps):
    return SlackDelivery(lambda: url, dead_letters.append, sleep=sleeps.append)


def test_posts_block_kit_alert(slack, alert, dead_letters):
    result = delivery_to(slack.url, dead_letters, []).deliver(alert)
    assert result.status == "posted"
    payload = slack.requests[0]
    assert payload["blocks"][0]["text"]["text"].startswith(
        "CRITICAL: agent ai-agent-deploy deleted DB instance prod-db"
    )
    assert "final snapshot skipped" in json.dumps(payload["blocks"])
    assert dead_letters == []


def test_429_waits_for_retry_after_then_posts(slack, alert, dead_letters):
    slack.replies = [(429, {"Retry-After": "7"}, "rate_limited")]
    sleeps = []
    result = delivery_to(slack.url, dead_letters, sleeps).deliver(alert)
    assert result.status == "posted"
    assert sleeps == [7.0]
    assert len(slack.requests) == 2


def test_5xx_backs_off_then_posts(slack, alert, dead_letters):
    slack.replies = [(500, {}, "oops"), (503, {}, "busy")]
    sleeps = []
    assert delivery_to(slack.url, dead_letters, sleeps).deliver(alert).status == "posted"
    assert sleeps == [0.5, 1.0]


def test_permanent_failure_lands_in_dead_letter_queue(aws, slack, alert):
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="slack-dlq")["QueueUrl"]
    slack.replies = [(500, {}, "down")] * 10
    sleeps = []
    delivery = SlackDelivery(lambda: slack.url, SqsDeadLetter(sqs, queue), sleep=sleeps.append)

    result = delivery.deliver(alert)

    assert result.status == "dead-lettered"
    assert len(slack.requests) == 4  # the first try and three retries
    (message,) = sqs.receive_message(QueueUrl=queue)["Messages"]
    body = json.loads(message["Body"])
    assert body["reason"].startswith("Slack answered HTTP 500")
    assert body["alert"]["event_id"] == alert.event_id
    assert body["slack"]["blocks"]  # ready to re-post by hand


def test_invalid_webhook_is_not_retried(slack, alert, dead_letters):
    slack.replies = [(404, {}, "no_service")]
    sleeps = []
    result = delivery_to(slack.url, dead_letters, sleeps).deliver(alert)
    assert result.status == "dead-lettered" and "HTTP 404: no_service" in result.detail
    assert sleeps == [] and len(slack.requests) == 1
    assert dead_letters[0]["alert"]["title"] == alert.title


def test_unreachable_slack_is_retried_then_dead_lettered(alert, dead_letters):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = []
    result = delivery_to(f"http://127.0.0.1:{port}/hook", dead_letters, sleeps).deliver(alert)
    assert result.status == "dead-lettered" and "unreachable" in result.detail
    assert sleeps == [0.5, 1.0, 2.0]


def test_unreadable_secret_dead_letters_instead_of_losing_the_alert(alert, dead_letters):
    def broken():
        raise RuntimeError("AccessDeniedException")

    result = SlackDelivery(broken, dead_letters.append, sleep=lambda s: None).deliver(alert)
    assert result.status == "dead-lettered"
    assert "AccessDeniedException" in dead_letters[0]["reason"]


@pytest.mark.parametrize(
    "secret",
    ["https://hooks.slack.com/services/T/B/X", '{"webhook_url": "https://hooks.slack.com/services/T/B/X"}'],
)
def test_webhook_secret_formats(secret):
    assert webhook_url_from_secret(secret) == "https://hooks.slack.com/services/T/B/X"


def test_webhook_secret_must_be_a_url():
    with pytest.raises(ValueError, match="https://"):
        webhook_url_from_secret("xoxb-not-a-webhook")


@pytest.mark.parametrize(
    "secret",
    [
        "https://attacker.example/services/T/B/X",  # any other https host would redirect every alert
        "https://hooks.slack.com.attacker.example/services/T/B/X",
        "https://hooks.slack.com@attacker.example/services/T/B/X",
        "https://user@hooks.slack.com/services/T/B/X",
        "http://hooks.slack.com/services/T/B/X",  # not https
        "https://hooks.slack.com:8443/services/T/B/X",
        "https://hooks.slack.com/",
        '{"webhook_url": "https://attacker.example/hook"}',
    ],
)
def test_webhook_secret_must_be_a_slack_url(secret):
    with pytest.raises(
        ValueError, match=r"must hold a Slack incoming-webhook URL \(https://hooks\.slack\.com/"
    ):
        webhook_url_from_secret(secret)


def test_govslack_webhook_is_a_slack_url():
    url = "https://hooks.slack-gov.com/services/T/B/X"
    assert webhook_url_from_secret(url) == url


def test_cloudwatch_alarm_on_the_topic_becomes_a_readable_alert():
    alarm = {
        "AlarmName": "leash-UndeliveredEventsAlarm",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint [3.0] was greater than the threshold (0.0).",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:111122223333:alarm:leash-UndeliveredEventsAlarm",
        "AWSAccountId": "111122223333",
        "StateChangeTime": "2026-11-22T21:10:00.000+0000",
    }
    alert = alert_from_sns_message(json.dumps(alarm))
    assert alert.title == "CloudWatch alarm leash-UndeliveredEventsAlarm is ALARM"
    assert alert.severity == "high" and alert.region == "us-east-1"


@pytest.fixture
def forwarder_env(aws, monkeypatch):
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="slack-dlq")["QueueUrl"]
    monkeypatch.setenv("SLACK_DEAD_LETTER_QUEUE_URL", queue)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "slack")
    from leash_cli.emulator import create_tables

    create_tables({"IncidentTable": "leash-incidents"})
    monkeypatch.setenv("LEASH_INCIDENT_TABLE", "leash-incidents")  # no SLACK_QUEUE_URL: posted at once
    return sqs, queue


def sns_event(alert):
    body = json.loads(sns_message(alert)["Message"])
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {"Message": body["default"], "Subject": "x", "Timestamp": "2026-11-22T21:04:40.000Z"},
            }
        ]
    }


def test_forwarder_without_slack_logs_once_and_returns(
    forwarder_env, monkeypatch, alert, lambda_context, capsys
):
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", "")
    handler = load_handler("slack_forwarder")
    assert handler.lambda_handler(sns_event(alert), lambda_context) == {"results": ["not-configured"]}
    assert handler.lambda_handler(sns_event(alert), lambda_context) == {"results": ["not-configured"]}
    assert capsys.readouterr().out.count("no Slack webhook configured") == 1


def test_forwarder_reads_webhook_from_secret_and_dead_letters_failures(
    forwarder_env, monkeypatch, slack, alert, lambda_context
):
    sqs, queue = forwarder_env
    arn = boto3.client("secretsmanager").create_secret(
        Name="leash/slack", SecretString=json.dumps({"webhook_url": slack.url})
    )["ARN"]
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", arn)
    handler = load_handler("slack_forwarder")

    assert handler.lambda_handler(sns_event(alert), lambda_context) == {"results": ["posted"]}
    slack.replies = [(403, {}, "invalid_token")]
    assert handler.lambda_handler(sns_event(alert), lambda_context) == {"results": ["dead-lettered"]}
    (message,) = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert "HTTP 403: invalid_token" in json.loads(message["Body"])["reason"]


@pytest.mark.parametrize(
    ("setting", "buttons"), [(None, []), ("off", []), ("on", ["Lock down ai-agent-deploy", "Acknowledge"])]
)
def test_forwarder_offers_buttons_only_with_the_interaction_endpoint(
    forwarder_env, monkeypatch, slack, alert, lambda_context, setting, buttons
):
    """template.yaml sets LEASH_SLACK_BUTTONS=on only when SlackSigningSecretArn is set: else a click goes nowhere."""
    arn = boto3.client("secretsmanager").create_secret(Name="leash/slack", SecretString=slack.url)["ARN"]
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", arn)
    if setting:
        monkeypatch.setenv("LEASH_SLACK_BUTTONS", setting)
    handler = load_handler("slack_forwarder")
    assert handler.lambda_handler(sns_event(alert), lambda_context) == {"results": ["posted"]}
    (posted,) = slack.requests
    actions = [b for b in posted["blocks"] if b["type"] == "actions"]
    assert [e["text"]["text"] for a in actions for e in a["elements"]] == buttons
    assert posted["blocks"][1]["text"]["text"].startswith("*What Leash did*")  # first, under the header


def test_the_template_turns_buttons_on_with_the_signing_secret():
    env = load_template()["Resources"]["SlackForwarderFunction"]["Properties"]["Environment"]["Variables"]
    assert env["LEASH_SLACK_BUTTONS"] == {"Fn::If": ["HasSlackInteractivity", "on", "off"]}
    conditions = load_template()["Conditions"]
    assert conditions["HasSlackInteractivity"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "SlackSigningSecretArn"}, ""]}]
    }


class Clock:
    """The invocation's time left, spent by the (fake) sleeps: tests model a Lambda timeout without waiting."""

    def __init__(self, seconds_left: float):
        self.left = seconds_left
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.left -= seconds

    def time_left(self) -> float:
        return self.left

    def context(self):
        clock = self

        class Context(LambdaContext):
            @staticmethod
            def get_remaining_time_in_millis() -> int:
                return int(clock.left * 1000)

        return Context()


FORWARDER_TIMEOUT = load_template()["Resources"]["SlackForwarderFunction"]["Properties"]["Timeout"]
STORM = [(429, {"Retry-After": "30"}, "rate_limited")] * 4


def test_429_storm_parks_the_message_with_its_reason_before_the_timeout(slack, alert, dead_letters):
    """Before, four 429s with Retry-After 30 slept 3 x 20 s and ran into the forwarder's 60 s timeout."""
    slack.replies = list(STORM)
    clock = Clock(FORWARDER_TIMEOUT)
    delivery = SlackDelivery(lambda: slack.url, dead_letters.append, sleep=clock.sleep)

    result = delivery.deliver(alert, clock.time_left)

    assert result.status == "dead-lettered"
    assert clock.sleeps == [30.0]  # the one wait that still left time to try again and park
    assert len(slack.requests) == 2
    assert clock.left >= PARK_SECONDS
    (parked,) = dead_letters
    assert parked["reason"].startswith(
        "Slack rate-limited us: Retry-After 30 s, more than the time left (30.0 s"
    )
    assert parked["alert"]["event_id"] == alert.event_id and parked["slack"]["blocks"]


def test_backoff_on_5xx_stops_when_the_time_runs_short(slack, alert, dead_letters):
    slack.replies = [(503, {}, "busy")] * 4
    clock = Clock(11.0)  # one 5 s attempt and parking; no time for a third attempt
    delivery = SlackDelivery(lambda: slack.url, dead_letters.append, sleep=clock.sleep)

    result = delivery.deliver(alert, clock.time_left)

    assert result.status == "dead-lettered" and clock.sleeps == [0.5]
    assert result.detail.startswith("Slack answered HTTP 503; the next try in 1 s, more than the time left")


def test_no_time_left_parks_without_trying(slack, alert, dead_letters):
    result = delivery_to(slack.url, dead_letters, []).deliver(alert, lambda: 4.0)
    assert result.status == "dead-lettered" and slack.requests == []
    assert result.detail.startswith("no time left to try Slack")


def test_forwarder_parks_a_429_storm_with_its_reason_in_the_slack_dlq(
    forwarder_env, monkeypatch, slack, alert
):
    """The handler bounds every wait by its context's remaining time; nothing sleeps for real."""
    sqs, queue = forwarder_env
    arn = boto3.client("secretsmanager").create_secret(Name="leash/slack", SecretString=slack.url)["ARN"]
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", arn)
    clock = Clock(FORWARDER_TIMEOUT)
    monkeypatch.setattr("time.sleep", clock.sleep)
    handler = load_handler("slack_forwarder")
    slack.replies = list(STORM)

    assert handler.lambda_handler(sns_event(alert), clock.context()) == {"results": ["dead-lettered"]}

    assert clock.sleeps == [30.0] and clock.left >= PARK_SECONDS
    (message,) = sqs.receive_message(QueueUrl=queue)["Messages"]
    body = json.loads(message["Body"])
    assert body["reason"].startswith("Slack rate-limited us: Retry-After 30 s, more than the time left")
    assert body["alert"]["event_id"] == alert.event_id


def test_thousand_instance_alert_posts_to_slack_within_its_limits(slack, dead_letters):
    call = parse_event(terminate_instances_event(1000))
    actor = classify_actor(call.user_identity, ActorConfig())
    alert, _ = assess(call, actor, lookup(call))

    assert delivery_to(slack.url, dead_letters, []).deliver(alert).status == "posted"

    (payload,) = slack.requests
    assert_within_slack_limits(payload)
    assert "i-00000000000000000, i-00000000000000001 and 998 more" in payload["blocks"][0]["text"]["text"]
