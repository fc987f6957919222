"""Hostile or odd input at each handler's boundary: refused with a reason, or handled, never a crash.

The cases the fuzz (tests/fuzz) found, one by one, with what a user sees: the alert, the SNS message,
the Slack post, the HTTP status, and the absence of side effects.
"""

from __future__ import annotations

import base64
import json
import time

import boto3
import pytest
from conftest import load_event, load_handler
from slack_sdk.signature import SignatureVerifier

from leash.actors import ActorConfig, classify_actor
from leash.inbox import alerts_from_sns
from leash.interactions import Reply, request_body, request_headers
from leash.model import ActorKind

AGENT_DELETES_DB = "rds-delete-db-instance-skip-final-snapshot-by-agent"


@pytest.fixture
def notify(notify_stack):
    return load_handler("notify"), notify_stack[1]


def test_lone_surrogates_are_replaced_and_the_call_is_still_alerted(notify, lambda_context):
    """JSON can carry "\\ud800", UTF-8 cannot: SNS refused the whole alert before; now one character is replaced."""
    handler, inbox = notify
    event = load_event(AGENT_DELETES_DB)
    event["detail"]["requestParameters"]["dBInstanceIdentifier"] = "prod-db\ud800"
    event["detail"]["userAgent"] = "agent/\udcff"
    result = handler.lambda_handler(event, lambda_context)
    assert (result["status"], result["severity"]) == ("published", "critical")
    (envelope,) = inbox.drain()
    assert envelope["Subject"] == "[Leash CRITICAL] agent ai-agent-deploy deleted DB instance prod-db\ufffd"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("eventID", "k" * 2_100, "more than CloudTrail writes"),  # DynamoDB refuses keys over 2,048 bytes
        ("eventID", "k" * 200, "is not an event ID"),  # CloudTrail's are UUIDs: 128 characters at most
        ("eventID", "a/b#c", "is not an event ID"),
        ("eventName", "x" * 3_000, "more than CloudTrail writes"),
        ("errorCode", ["AccessDenied"], "detail.errorCode is a list, expected a string"),
        ("recipientAccountId", 111122223333, "detail.recipientAccountId is a int"),
    ],
)
def test_fields_cloudtrail_never_writes_are_refused_with_a_reason(
    notify, lambda_context, field, value, reason
):
    handler, inbox = notify
    event = load_event(AGENT_DELETES_DB)
    event["detail"][field] = value
    result = handler.lambda_handler(event, lambda_context)
    assert result["status"] == "rejected" and reason in result["reason"]
    assert inbox.drain() == []


@pytest.mark.parametrize(
    "identity_patch",
    [
        {"sessionContext": 5},
        {"sessionContext": {"sessionIssuer": "Role"}},
        {"arn": ["arn:aws:iam::1:role/x"]},
        {"type": 5},
        {"accountId": 111122223333, "invokedBy": []},
    ],
)
def test_wrongly_typed_identity_fields_read_as_absent_and_the_call_is_alerted(
    notify, lambda_context, identity_patch
):
    """An AttributeError in the classifier lost these alerts (Lambda retried, then dead-lettered them)."""
    handler, inbox = notify
    event = load_event(AGENT_DELETES_DB)
    event["detail"]["userIdentity"].update(identity_patch)
    assert handler.lambda_handler(event, lambda_context)["status"] == "published"
    assert len(inbox.drain()) == 1


def test_classifier_keeps_what_is_readable():
    identity = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::111122223333:assumed-role/ai-agent-deploy/s1",
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": 5, "userName": ["x"]},
            "sourceIdentity": {},
        },
    }
    actor = classify_actor(identity, ActorConfig(agent_role_prefix="ai-agent-"))
    assert (actor.kind, actor.name, actor.role_arn, actor.source_identity) == (
        ActorKind.HUMAN,  # the role signal reads the issuer's userName, as the agent rules do (leash.agents)
        "ai-agent-deploy",
        None,
        None,
    )
    readable = {
        **identity,
        "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "ai-agent-deploy"}},
    }
    assert classify_actor(readable, ActorConfig(agent_role_prefix="ai-agent-")).kind is ActorKind.AGENT


def sns(message, attributes=None):
    return {
        "Records": [{"Sns": {"Message": message, "MessageAttributes": attributes or {}, "Subject": None}}]
    }


@pytest.mark.parametrize("event", [None, [], {"Records": 5}, {"Records": [None, "x", {"Sns": []}]}])
def test_what_is_not_an_sns_delivery_gives_no_alert(event):
    assert alerts_from_sns(event) == []


def test_message_attributes_that_are_not_sns_shaped_are_ignored():
    (alert,) = alerts_from_sns(sns("hello", attributes=[1]))
    assert (alert.kind, alert.reasons) == ("message", ("hello",))


def test_forged_leash_json_is_shown_as_text_never_trusted_field_by_field():
    """Leash-looking JSON with a severity or a type Leash never writes: a low "message", the raw text its body."""
    forged = json.dumps({"severity": "crit", "event_id": "x", "title": ["LOCKDOWN"], "actor": 5})
    (alert,) = alerts_from_sns(sns(forged))
    assert (alert.kind, alert.severity, alert.title) == (
        "message",
        "low",
        "Message on the Leash alerts topic",
    )
    assert alert.reasons == (forged,)


def test_forwarder_posts_forged_and_odd_messages_as_text(aws, monkeypatch, slack, lambda_context):
    queue = boto3.client("sqs").create_queue(QueueName="slack-dlq")["QueueUrl"]
    secret = boto3.client("secretsmanager").create_secret(
        Name="leash/slack", SecretString=json.dumps({"webhook_url": slack.url})
    )["ARN"]
    for key, value in {
        "SLACK_DEAD_LETTER_QUEUE_URL": queue,
        "SLACK_WEBHOOK_SECRET_ARN": secret,
        # Not "slack": Powertools loggers of one service share their stream, which test_slack reads (capsys).
        "POWERTOOLS_SERVICE_NAME": "slack-hostile-input",
    }.items():
        monkeypatch.setenv(key, value)
    handler = load_handler("slack_forwarder")
    event = {
        "Records": [
            sns(json.dumps({"severity": "critical", "event_id": "x", "reasons": "not a list"}))["Records"][0],
            sns(None)["Records"][0],
            {"Sns": "not an object"},
        ]
    }
    assert handler.lambda_handler(event, lambda_context) == {"results": ["posted", "posted"]}
    assert [r["text"].split(" ", 1)[1] for r in slack.requests] == [
        "LOW: Message on the Leash alerts topic"
    ] * 2


def function_url(body, headers, *, base64_body=False):
    return {
        "rawPath": "/slack/interactions",
        "requestContext": {"http": {"method": "POST"}},
        "headers": headers,
        "body": body,
        "isBase64Encoded": base64_body,
    }


@pytest.mark.parametrize(
    ("event", "status"),
    [
        (None, 404),
        ("GET /", 404),
        ({"rawPath": "/slack/interactions", "requestContext": "x"}, 404),
        (function_url(5, {}), 400),
        (function_url("payload=x", {}, base64_body=True), 400),  # the flag lies: not base64
        (
            function_url(base64.b64encode(b"payload=\xc3\x28").decode(), {}, base64_body=True),
            400,
        ),  # not UTF-8
        (function_url("A" * 2_000_000, {}), 400),
    ],
)
def test_requests_that_are_not_slack_requests_are_refused_before_any_check(event, status):
    reply = request_body(event)
    assert isinstance(reply, Reply) and reply.status == status


def test_headers_that_are_not_text_are_left_out():
    event = function_url("", {"X-Slack-Signature": ["v0=a"], 5: "x", "X-Slack-Request-Timestamp": "1"})
    assert request_headers(event) == {"x-slack-request-timestamp": "1"}
    assert request_headers({"headers": "x"}) == {}


SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def buttons(aws, monkeypatch):
    from leash_cli.emulator import create_tables

    create_tables({"IdempotencyTable": "leash-idempotency", "LedgerTable": "leash-ledger"})
    secret = boto3.client("secretsmanager").create_secret(Name="leash/slack-signing", SecretString=SECRET)[
        "ARN"
    ]
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="leash-lockdown",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::111122223333:role/leash-lockdown",
    )["stateMachineArn"]
    for key, value in {
        "SLACK_SIGNING_SECRET_ARN": secret,
        "LEASH_SLACK_LOCKDOWN_USERS": "U0ONCALL",
        "LEASH_SLACK_RELEASE_USERS": "U0ONCALL",
        "LOCKDOWN_STATE_MACHINE_ARN": arn,
        "RELEASE_STATE_MACHINE_ARN": arn,
        "LEDGER_TABLE": "leash-ledger",
        "IDEMPOTENCY_TABLE": "leash-idempotency",
        "POWERTOOLS_SERVICE_NAME": "interactions",
    }.items():
        monkeypatch.setenv(key, value)
    return load_handler("interactions"), sfn, arn


def signed(payload: str) -> dict:
    from urllib.parse import urlencode

    body = urlencode({"payload": payload})
    ts = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    return function_url(body, {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature})


@pytest.mark.parametrize(
    "value",
    [
        {"eventId": "e-1"},  # no principal: a KeyError (502) before
        {"principal": ["arn"], "eventId": "e-1"},
        {
            "principal": "arn:aws:sts::1:assumed-role/r/\ud800",
            "eventId": "e-1",
        },  # a UnicodeEncodeError before
        {"principal": "a" * 3_000, "eventId": "e-1"},
    ],
)
def test_signed_click_with_a_broken_button_value_is_400_and_starts_nothing(buttons, lambda_context, value):
    handler, sfn, arn = buttons
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ONCALL"},
        "actions": [{"action_id": "leash_lockdown", "value": json.dumps(value)}],
    }
    assert handler.lambda_handler(signed(json.dumps(payload)), lambda_context)["statusCode"] == 400
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


@pytest.mark.parametrize(
    "payload",
    [
        {
            "type": "block_actions",
            "user": "U0ONCALL",
            "actions": [{"action_id": "leash_lockdown", "value": "{}"}],
        },
        {
            "type": "block_actions",
            "user": {"id": {"x": 1}},
            "actions": [{"action_id": "leash_lockdown", "value": "{}"}],
        },
        {"type": "block_actions", "user": {"id": "U0ONCALL"}, "actions": ["leash_lockdown"]},
        [1, 2],
    ],
)
def test_signed_request_of_the_wrong_shape_is_400(buttons, lambda_context, payload):
    handler, sfn, arn = buttons
    assert handler.lambda_handler(signed(json.dumps(payload)), lambda_context)["statusCode"] == 400
