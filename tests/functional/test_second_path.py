"""The second path: a tamper alert reaches Slack exactly once, whatever was done to the alerts topic.

The notify handler runs on moto with the environment template.yaml gives it, Slack is a local HTTP server
(as in test_slack.py), and the Slack forwarder's subscription is an SQS queue subscribed as template.yaml
subscribes the forwarder (no filter policy): what it receives is handed to the real forwarder handler. The tamper
class itself belongs to the catalog (#16); here `assess` marks the alert critical and second_path=True, as it will.
"""

from __future__ import annotations

import json
from dataclasses import replace

import boto3
import pytest
from conftest import load_event, load_handler

import leash.notify
from leash.alerts import POSTED_TO_SLACK
from leash.model import Severity
from leash.second_path import SLACK_ONLY
from leash_cli.template import load_template

TAMPER_SAMPLE = "cloudformation-delete-stack-by-agent"  # an agent deleting a stack: Leash's, say
TITLE = "agent ai-agent-deploy deleted CloudFormation stack"


@pytest.fixture
def tamper(monkeypatch):
    """The sample's alert, marked as the catalog's tamper class marks it."""
    assess = leash.notify.assess

    def assess_as_tamper(call, actor, entry):
        alert, reason = assess(call, actor, entry)
        return (replace(alert, severity=Severity.CRITICAL, second_path=True) if alert else None), reason

    monkeypatch.setattr(leash.notify, "assess", assess_as_tamper)
    return load_event(TAMPER_SAMPLE)


class Forwarder:
    """The Slack forwarder behind its subscription: an SQS queue subscribed as the template does, drained
    into the real handler as Lambda's SNS event."""

    def __init__(self, topic_arn: str, lambda_context):
        sqs = boto3.client("sqs")
        self.sqs, self.context = sqs, lambda_context
        self.url = sqs.create_queue(QueueName="slack-forwarder-subscription")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        event = load_template()["Resources"]["SlackForwarderFunction"]["Properties"]["Events"]["Alerts"]
        self.filter_policy = event["Properties"].get("FilterPolicy")
        self.subscription = boto3.client("sns").subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"FilterPolicy": json.dumps(self.filter_policy)} if self.filter_policy else {},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self.handler = load_handler("slack_forwarder")
        self.delivered = 0  # messages the subscription delivered to the forwarder

    def run(self) -> list[str]:
        """What the forwarder did with each message its subscription delivered."""
        messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
        self.delivered += len(messages)
        if not messages:
            return []
        records = [{"EventSource": "aws:sns", "Sns": json.loads(m["Body"])} for m in messages]
        return self.handler.lambda_handler({"Records": records}, self.context)["results"]


@pytest.fixture
def second_path(notify_stack, slack, monkeypatch, lambda_context):
    """The notify function with Slack configured (the secret holds the fake Slack's URL) and its forwarder."""
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="slack-dlq")["QueueUrl"]
    arn = boto3.client("secretsmanager").create_secret(
        Name="leash/slack", SecretString=json.dumps({"webhook_url": slack.url})
    )["ARN"]
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", arn)
    monkeypatch.setenv("SLACK_DEAD_LETTER_QUEUE_URL", dlq)
    topic_arn, inbox = notify_stack
    forwarder = Forwarder(topic_arn, lambda_context)
    notify = load_handler("notify")

    class World:
        pass

    world = World()
    world.__dict__.update(
        topic_arn=topic_arn, inbox=inbox, forwarder=forwarder, notify=notify, sqs=sqs, dlq=dlq, slack=slack
    )
    world.parked = lambda: sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    return world


def slack_titles(slack) -> list[str]:
    return [request["text"] for request in slack.requests]


def test_topic_deleted_tamper_alert_still_reaches_slack_once(
    second_path, tamper, lambda_context, capsys, caplog
):
    boto3.client("sns").delete_topic(TopicArn=second_path.topic_arn)

    result = second_path.notify.lambda_handler(tamper, lambda_context)

    assert (result["status"], result["severity"], result["messageId"]) == (
        "published",
        "critical",
        SLACK_ONLY,
    )
    (text,) = slack_titles(second_path.slack)
    assert TITLE in text
    assert second_path.forwarder.run() == [] and second_path.parked() == []
    assert '"SecondPathTopicFailed":[1.0]' in capsys.readouterr().out  # the metric
    assert "posted to Slack directly; the alerts topic refused it: NotFound" in caplog.text


def test_subscription_removed_tamper_alert_still_reaches_slack_once(second_path, tamper, lambda_context):
    boto3.client("sns").unsubscribe(SubscriptionArn=second_path.forwarder.subscription)

    result = second_path.notify.lambda_handler(tamper, lambda_context)

    assert result["status"] == "published"
    (text,) = slack_titles(second_path.slack)
    assert TITLE in text
    assert second_path.forwarder.run() == []  # unsubscribed: the topic delivers it nowhere near Slack


def test_topic_fine_slack_gets_it_once_not_again_through_the_forwarder(second_path, tamper, lambda_context):
    result = second_path.notify.lambda_handler(tamper, lambda_context)

    assert result["status"] == "published" and result["messageId"] != SLACK_ONLY
    assert second_path.forwarder.run() == []  # delivered to the forwarder, which skips it: posted already
    assert second_path.forwarder.delivered == 1
    (envelope,) = second_path.inbox.drain()  # other subscribers (e-mail, SQS) still get it, marked
    assert envelope["MessageAttributes"][POSTED_TO_SLACK]["Value"] == "true"
    (text,) = slack_titles(second_path.slack)
    assert TITLE in text


def test_slack_down_the_topic_carries_it_and_the_forwarder_posts_it_once(second_path, tamper, lambda_context):
    second_path.slack.replies = [(500, {}, "down")] * 4  # the direct post and its three retries

    result = second_path.notify.lambda_handler(tamper, lambda_context)

    assert result["status"] == "published"
    assert second_path.parked() == []  # the topic has it: nothing parked by the second path
    assert second_path.forwarder.run() == ["posted"]  # unmarked, so the forwarder posts it
    assert [TITLE in t for t in slack_titles(second_path.slack)] == [True] * 5
    assert len(second_path.slack.requests) == 5  # 4 refused, 1 posted: in Slack once


def test_both_paths_down_parks_the_alert_and_raises_so_lambda_retries(second_path, tamper, lambda_context):
    boto3.client("sns").delete_topic(TopicArn=second_path.topic_arn)
    second_path.slack.replies = [(404, {}, "no_service")]

    with pytest.raises(Exception, match=r"(?i)not.?found|does not exist"):
        second_path.notify.lambda_handler(tamper, lambda_context)

    (message,) = second_path.parked()
    body = json.loads(message["Body"])
    assert "HTTP 404: no_service" in body["reason"] and "and the alerts topic" in body["reason"]
    assert TITLE in body["alert"]["title"] and body["slack"]["blocks"]


def test_an_ordinary_alert_takes_only_the_topic(second_path, lambda_context):
    result = second_path.notify.lambda_handler(load_event(TAMPER_SAMPLE), lambda_context)

    assert result["status"] == "published"
    assert second_path.slack.requests == []
    assert second_path.forwarder.run() == ["posted"]
    assert len(second_path.slack.requests) == 1


def test_a_redirected_webhook_is_refused_and_the_topic_still_carries_the_alert(
    second_path, tamper, lambda_context
):
    """An agent writes its own URL into the webhook secret: nothing is posted there, the alert still goes out."""
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(
        SecretId="leash/slack", SecretString=json.dumps({"webhook_url": "https://attacker.example/hook"})
    )
    notify = load_handler("notify")  # a fresh container: no cached secret

    result = notify.lambda_handler(tamper, lambda_context)

    assert result["status"] == "published" and second_path.slack.requests == []
    (envelope,) = second_path.inbox.drain()
    assert POSTED_TO_SLACK not in (envelope.get("MessageAttributes") or {})


def test_with_only_a_bot_token_the_second_path_posts_through_the_web_api(
    notify_stack, slack_api, monkeypatch, tamper, lambda_context
):
    """No incoming webhook, a bot token (#15): the tamper alert still reaches the channel straight, once."""
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="slack-dlq")["QueueUrl"]
    arn = boto3.client("secretsmanager").create_secret(
        Name="leash/slack-bot", SecretString="xoxb-1111-2222-leash-test"
    )["ARN"]
    for name, value in {
        "SLACK_BOT_TOKEN_SECRET_ARN": arn,
        "SLACK_CHANNEL_ID": "C0LEASH01",
        "SLACK_API_URL": slack_api.url,
        "SLACK_DEAD_LETTER_QUEUE_URL": dlq,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLACK_WEBHOOK_SECRET_ARN", raising=False)
    topic_arn, _ = notify_stack
    boto3.client("sns").delete_topic(TopicArn=topic_arn)

    result = load_handler("notify").lambda_handler(tamper, lambda_context)

    assert (result["status"], result["messageId"]) == ("published", SLACK_ONLY)
    (post,) = slack_api.posts()
    assert post["channel"] == "C0LEASH01" and "thread_ts" not in post and TITLE in post["text"]
    assert slack_api.tokens == ["Bearer xoxb-1111-2222-leash-test"]
    assert sqs.receive_message(QueueUrl=dlq).get("Messages", []) == []
