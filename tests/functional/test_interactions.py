"""Slack buttons: requests signed exactly as Slack signs them, the real lockdown ASL on moto."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import boto3
import pytest
from conftest import ACCOUNT, function_url_event, ledger_records, load_event, load_handler
from slack_sdk.signature import SignatureVerifier

from leash.actors import ActorConfig, classify_actor
from leash.assess import assess
from leash.catalog import lookup
from leash.events import parse_event
from leash.inbox import workflow_alert
from leash.slack_blocks import ACKNOWLEDGE, LOCKDOWN, RELEASE, button_value, render_slack
from leash_cli.emulator import create_tables

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ROLE = "ai-agent-deploy"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/sess_a8f3b21c"


def click(
    action_id: str,
    user: str,
    response_url: str,
    *,
    principal=SESSION,
    event_id="evt-1",
    timestamp: int | None = None,
    secret: str = SECRET,
    tamper: bool = False,
) -> dict:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "jordan"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "leash_actions",
                "type": "button",
                "value": button_value(
                    principal, event_id, "agent ai-agent-deploy deleted DB instance prod-db"
                ),
            }
        ],
        "message": {
            "text": "CRITICAL",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "CRITICAL: agent deleted prod-db"}},
                {"type": "actions", "block_id": "leash_actions", "elements": []},
            ],
        },
    }
    body = urlencode({"payload": json.dumps(payload)})
    ts = int(time.time()) if timestamp is None else timestamp
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(ts), body=body)  # as Slack does
    return function_url_event(body + ("&x=1" if tamper else ""), ts, signature)


@pytest.fixture
def buttons(workflows, monkeypatch, slack):
    iam = boto3.client("iam")
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")
    secret = boto3.client("secretsmanager").create_secret(Name="leash/slack-signing", SecretString=SECRET)[
        "ARN"
    ]
    create_tables({"IdempotencyTable": "leash-idempotency"})
    for key, value in {
        "SLACK_SIGNING_SECRET_ARN": secret,
        "LEASH_SLACK_LOCKDOWN_USERS": "U0ONCALL,U0LEAD",
        "LEASH_SLACK_RELEASE_USERS": "U0LEAD",
        "LOCKDOWN_STATE_MACHINE_ARN": workflows.arns["lockdown"],
        "RELEASE_STATE_MACHINE_ARN": workflows.arns["release"],
        "LEDGER_TABLE": "leash-ledger",
        "IDEMPOTENCY_TABLE": "leash-idempotency",
        "POWERTOOLS_SERVICE_NAME": "interactions",
    }.items():
        monkeypatch.setenv(key, value)
    return load_handler("interactions"), workflows, iam, slack


def executions(workflows, name="lockdown"):
    return workflows.sfn.list_executions(stateMachineArn=workflows.arns[name])["executions"]


def test_allowed_click_locks_the_role_down_and_updates_the_message(buttons, lambda_context):
    handler, workflows, iam, slack = buttons

    reply = handler.lambda_handler(click(LOCKDOWN, "U0ONCALL", slack.url), lambda_context)

    assert reply["statusCode"] == 200
    (execution,) = executions(workflows)
    result = workflows.wait(execution["executionArn"])
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["input"])["requestedBy"] == "slack:U0ONCALL (jordan)"
    assert json.loads(result["input"])["trigger"] == "slack"
    assert set(iam.list_role_policies(RoleName=ROLE)["PolicyNames"]) == {
        "LeashEmergencyDenyAll",
        "LeashRevokeOlderSessions",
    }
    (update,) = slack.requests
    assert update["replace_original"] is True
    assert [b["type"] for b in update["blocks"]] == ["header", "context"]  # the buttons are gone
    assert update["blocks"][-1]["elements"][0]["text"].startswith(
        f":lock: Lockdown of {SESSION} started by <@U0ONCALL> at "
    )


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (lambda url: click(LOCKDOWN, "U0ONCALL", url, secret="not-the-secret"), 401),
        (lambda url: click(LOCKDOWN, "U0ONCALL", url, tamper=True), 401),
        (lambda url: click(LOCKDOWN, "U0ONCALL", url, timestamp=int(time.time()) - 6 * 60), 401),
        (lambda url: click(LOCKDOWN, "U0INTRUDER", url), 403),
        (lambda url: click(RELEASE, "U0ONCALL", url), 403),  # may lock down, may not release
    ],
    ids=["bad-signature", "tampered-body", "stale-timestamp", "user-not-allowed", "release-not-allowed"],
)
def test_refused_requests_do_nothing(buttons, lambda_context, make, status):
    handler, workflows, iam, slack = buttons
    assert handler.lambda_handler(make(slack.url), lambda_context)["statusCode"] == status
    assert executions(workflows) == [] and executions(workflows, "release") == []
    assert slack.requests == [] and iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == []


def test_replayed_request_is_refused(buttons, lambda_context):
    handler, workflows, iam, slack = buttons
    request = click(ACKNOWLEDGE, "U0ONCALL", slack.url)
    assert handler.lambda_handler(request, lambda_context)["statusCode"] == 200
    assert handler.lambda_handler(request, lambda_context)["statusCode"] == 401
    assert len(slack.requests) == 1


def test_double_click_starts_one_execution(buttons, lambda_context):
    handler, workflows, iam, slack = buttons
    first = click(LOCKDOWN, "U0ONCALL", slack.url)
    second = click(
        LOCKDOWN, "U0LEAD", slack.url, timestamp=int(time.time()) + 1
    )  # another request, same button
    assert handler.lambda_handler(first, lambda_context)["statusCode"] == 200
    assert handler.lambda_handler(second, lambda_context)["statusCode"] == 200
    assert len(executions(workflows)) == 1
    assert "was already started" in slack.requests[-1]["blocks"][-1]["elements"][0]["text"]


def test_acknowledge_lands_in_the_ledger(buttons, lambda_context):
    handler, workflows, iam, slack = buttons
    assert (
        handler.lambda_handler(click(ACKNOWLEDGE, "U0LEAD", slack.url, event_id="evt-42"), lambda_context)[
            "statusCode"
        ]
        == 200
    )
    items = boto3.client("dynamodb").query(
        TableName="leash-ledger",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "event#evt-42"}},
    )["Items"]
    assert [(i["outcome"]["S"], i["actor"]["S"], i["feed"]["S"]) for i in items] == [
        ("acknowledged", "slack:U0LEAD (jordan)", "ledger")
    ]
    assert "Acknowledged by <@U0LEAD>" in slack.requests[0]["blocks"][-1]["elements"][0]["text"]


def test_three_acknowledge_clicks_give_one_record_and_say_who_was_first(buttons, lambda_context):
    handler, workflows, iam, slack = buttons
    clicks = [
        click(ACKNOWLEDGE, "U0LEAD", slack.url, event_id="evt-7"),
        click(ACKNOWLEDGE, "U0ONCALL", slack.url, event_id="evt-7", timestamp=int(time.time()) + 1),
        click(ACKNOWLEDGE, "U0LEAD", slack.url, event_id="evt-7", timestamp=int(time.time()) + 2),
    ]

    assert [handler.lambda_handler(c, lambda_context)["statusCode"] for c in clicks] == [200, 200, 200]

    (record,) = ledger_records("evt-7")
    assert (record["outcome"], record["actor"], record["feed"]) == (
        "acknowledged",
        "slack:U0LEAD (jordan)",
        "ledger",
    )
    lines = [update["blocks"][-1]["elements"][0]["text"] for update in slack.requests]
    assert lines[0].startswith(":eyes: Acknowledged by <@U0LEAD> at ")
    day, clock = record["time"][:10], record["time"][11:19]
    assert (
        lines[1:] == [f":eyes: Already acknowledged by <@U0LEAD> at {day} {clock}Z; nothing more to do."] * 2
    )


def test_same_user_clicking_lock_down_twice_starts_one_execution(buttons, lambda_context):
    handler, workflows, iam, slack = buttons
    first = click(LOCKDOWN, "U0ONCALL", slack.url)
    again = click(LOCKDOWN, "U0ONCALL", slack.url, timestamp=int(time.time()) + 1)
    assert handler.lambda_handler(first, lambda_context)["statusCode"] == 200
    assert handler.lambda_handler(again, lambda_context)["statusCode"] == 200
    assert len(executions(workflows)) == 1
    assert "was already started" in slack.requests[-1]["blocks"][-1]["elements"][0]["text"]


def test_lock_down_of_an_identity_center_role_starts_nothing_and_says_why(buttons, lambda_context):
    """A Lock down button from an old message on an AWSReservedSSO_* role: the workflow is not started."""
    handler, workflows, iam, slack = buttons
    role = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_4f2a9c1e7b3d5a60"
    reply = handler.lambda_handler(click(LOCKDOWN, "U0ONCALL", slack.url, principal=role), lambda_context)
    assert reply["statusCode"] == 200 and executions(workflows) == []
    (update,) = slack.requests
    assert update["blocks"][-1]["elements"][0]["text"].startswith(
        ":no_entry: Not locked down: AWSReservedSSO_AdministratorAccess_4f2a9c1e7b3d5a60 is an IAM Identity Center"
    )


def test_release_button_releases(buttons, lambda_context):
    handler, workflows, iam, slack = buttons
    workflows.start("lockdown", {"principal": ROLE, "reason": "x", "requestedBy": "y", "trigger": "test"})
    assert (
        handler.lambda_handler(click(RELEASE, "U0LEAD", slack.url, principal=ROLE), lambda_context)[
            "statusCode"
        ]
        == 200
    )
    (execution,) = executions(workflows, "release")
    assert workflows.wait(execution["executionArn"])["status"] == "SUCCEEDED"
    assert iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == ["LeashRevokeOlderSessions"]


def alert_for(name):
    call = parse_event(load_event(name))
    config = ActorConfig(
        agent_role_prefix="ai-agent-",
        exempt_arns=frozenset({f"arn:aws:iam::{ACCOUNT}:role/breakglass-admin"}),
    )
    return assess(call, classify_actor(call.user_identity, config), lookup(call))[0]


def buttons_of(payload):
    actions = [b for b in payload["blocks"] if b["type"] == "actions"]
    return [e["text"]["text"] for e in actions[0]["elements"]] if actions else []


def test_alerts_carry_the_buttons_that_apply():
    assert buttons_of(render_slack(alert_for("rds-delete-db-instance-skip-final-snapshot-by-agent"))) == [
        "Lock down ai-agent-deploy",
        "Acknowledge",
    ]
    assert buttons_of(render_slack(alert_for("ec2-delete-subnet-by-exempt-role"))) == ["Acknowledge"]
    assert buttons_of(render_slack(alert_for("s3-put-bucket-policy-by-root"))) == ["Acknowledge"]
    notice = workflow_alert(
        {  # the message attributes of the lockdown workflow's Notify state
            "workflow": "lockdown",
            "kind": "lockdown-applied",
            "severity": "critical",
            "principal": f"arn:aws:iam::{ACCOUNT}:role/{ROLE}",
            "headline": f"LOCKDOWN applied to role {ROLE}: deny-all, sessions issued before 2026-11-22T21:04:36.512Z revoked",
            "detail": "details",
            "request": "Requested by leash (auto:cloudtrail:StopLogging); reason: x",
            "execution": "arn:aws:states:::execution:l:1",
        }
    )
    assert buttons_of(render_slack(notice)) == [f"Release {ROLE}"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (lambda e: e["requestContext"]["http"].update(method="GET"), 404),
        (lambda e: e.update(rawPath="/admin"), 404),
        (lambda e: e.update(body="%%%not base64", isBase64Encoded=True), 400),
        (lambda e: e.update(body="//79", isBase64Encoded=True), 400),  # base64 of bytes that are not UTF-8
    ],
    ids=["wrong-method", "wrong-path", "not-base64", "not-utf8"],
)
def test_requests_that_are_not_slack_clicks_are_refused_without_a_side_effect(
    buttons, lambda_context, slack, change, status
):
    handler, workflows, iam, slack = buttons
    event = click(LOCKDOWN, "U0ONCALL", slack.url)
    change(event)
    assert handler.lambda_handler(event, lambda_context)["statusCode"] == status
    assert slack.requests == [] and executions(workflows) == []


def test_a_base64_body_is_decoded_as_function_urls_send_it(buttons, lambda_context, slack):
    import base64

    event = click(ACKNOWLEDGE, "U0LEAD", slack.url, event_id="evt-64")
    event.update(body=base64.b64encode(event["body"].encode()).decode(), isBase64Encoded=True)
    handler, workflows, iam, slack = buttons
    assert handler.lambda_handler(event, lambda_context)["statusCode"] == 200
