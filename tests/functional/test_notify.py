"""The notify path end to end on moto: one alert per event, clean rejection of bad input, channel renderings."""

from __future__ import annotations

import json

import boto3
import pytest
from conftest import (
    assert_within_slack_limits,
    load_event,
    load_handler,
    sns_publish_calls,
    terminate_instances_event,
)

from leash.actors import ActorConfig
from leash.alerts import Alert
from leash.fit import SNS_MESSAGE_BYTES
from leash.notify import Notifier
from leash.publish import sns_message
from leash.render import render_text
from leash.slack_blocks import render_slack

AGENT_DELETES_DB = "rds-delete-db-instance-skip-final-snapshot-by-agent"


@pytest.fixture
def handler(notify_stack):
    return load_handler("notify"), notify_stack[1]


def test_agent_deleting_database_without_final_snapshot_is_critical_with_readable_channels(
    handler, lambda_context
):
    notify, inbox = handler
    result = notify.lambda_handler(load_event(AGENT_DELETES_DB), lambda_context)
    assert result["status"] == "published" and result["severity"] == "critical"

    (envelope,) = inbox.drain()
    assert envelope["Subject"] == "[Leash CRITICAL] agent ai-agent-deploy deleted DB instance prod-db"
    alert = Alert.from_dict(json.loads(envelope["Message"]))
    email = render_text(alert)
    assert email.startswith("[CRITICAL] agent ai-agent-deploy deleted DB instance prod-db\n")
    assert (
        "Who:       agent ai-agent-deploy for jordan@example.com (source identity), session sess_a8f3b21c"
        in email
    )
    assert "Where:     account 111122223333, us-east-1" in email
    assert "final snapshot skipped" in email
    assert "cloudtrailv2/home?region=us-east-1#/events/3f6c2a1e-7d4b-4c8e-9a21-5b0d6e8f1a01" in email


def test_same_event_twice_alerts_once(handler, lambda_context):
    notify, inbox = handler
    event = load_event(AGENT_DELETES_DB)
    first = notify.lambda_handler(event, lambda_context)
    second = notify.lambda_handler(event, lambda_context)
    assert (first["status"], second["status"]) == ("published", "duplicate")
    assert second["messageId"] == first["messageId"]
    assert len(inbox.drain()) == 1


def test_same_cloudtrail_record_in_a_new_envelope_alerts_once(handler, lambda_context):
    """Two rules (or two deliveries) carry the same eventID in different EventBridge envelopes."""
    notify, inbox = handler
    event = load_event("s3-put-bucket-policy-by-root")
    again = dict(event, id="another-eventbridge-id")
    notify.lambda_handler(event, lambda_context)
    assert notify.lambda_handler(again, lambda_context)["status"] == "duplicate"
    assert len(inbox.drain()) == 1


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (None, "event is a NoneType"),
        ([1, 2], "event is a list"),
        ({"detail-type": "AWS API Call via CloudTrail"}, "event has no detail"),
        ({"detail-type": "AWS API Call via CloudTrail", "detail": "oops"}, "detail is not an object"),
        (
            {"detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "DeleteBucket"}},
            "detail.userIdentity is missing",
        ),
    ],
)
def test_malformed_events_are_rejected_with_a_reason(handler, lambda_context, event, reason):
    notify, inbox = handler
    result = notify.lambda_handler(event, lambda_context)
    assert result["status"] == "rejected" and reason in result["reason"]
    assert inbox.drain() == []


def test_bad_timestamp_is_rejected(handler, lambda_context):
    notify, _ = handler
    event = load_event(AGENT_DELETES_DB)
    event["detail"]["eventTime"] = "yesterday"
    assert "not an ISO-8601 timestamp" in notify.lambda_handler(event, lambda_context)["reason"]


def test_sns_message_structure_gives_email_text_and_machines_json():
    published = []
    notifier = Notifier(
        ActorConfig(agent_role_prefix="ai-agent-"), lambda a: (published.append(a) or "m-1", False)
    )
    notifier.handle(load_event(AGENT_DELETES_DB))
    args = sns_message(published[0])
    body = json.loads(args["Message"])
    assert args["MessageStructure"] == "json"
    # SNS sends each protocol its own key or else "default": e-mail the text, every other protocol the JSON.
    assert sorted(body) == ["default", "email"]
    assert body["email"].startswith("[CRITICAL]")
    assert json.loads(body["default"])["severity"] == "critical"


def test_exempt_principal_from_config_is_alert_only_low(notify_stack, lambda_context):
    notify, inbox = load_handler("notify"), notify_stack[1]
    result = notify.lambda_handler(load_event("ec2-delete-subnet-by-exempt-role"), lambda_context)
    assert result["severity"] == "low"
    assert "exempt principal: alert only" in inbox.drain()[0]["Message"]


def test_unreadable_role_tags_do_not_lose_the_alert(notify_stack, lambda_context):
    """No such role in IAM (or no permission): the call is alerted as a human's, not dropped."""
    notify, inbox = load_handler("notify"), notify_stack[1]
    result = notify.lambda_handler(load_event("lambda-delete-function-by-tagged-agent-role"), lambda_context)
    assert (result["status"], result["severity"]) == ("published", "medium")
    assert len(inbox.drain()) == 1


def test_publish_failure_raises_so_lambda_retries_and_nothing_is_lost(notify_stack, lambda_context):
    notify = load_handler("notify")
    boto3.client("sns").delete_topic(TopicArn=notify_stack[0])
    with pytest.raises(Exception, match=r"(?i)not.?found|does not exist"):
        notify.lambda_handler(load_event(AGENT_DELETES_DB), lambda_context)


def test_thousand_instance_termination_is_delivered_within_sns_and_slack_limits(notify_stack, lambda_context):
    """Before, the alert carried every ID eight times over: 753 IDs passed SNS's 256 KB and nothing went out."""
    published = sns_publish_calls()
    notify, inbox = load_handler("notify"), notify_stack[1]

    result = notify.lambda_handler(terminate_instances_event(1000), lambda_context)

    assert (result["status"], result["severity"]) == ("published", "medium")
    (params,) = published
    # moto refuses a message over 262,144 characters; SNS counts bytes, and this one needs no clipping.
    assert len(params["Message"].encode()) + len(params["Subject"].encode()) < SNS_MESSAGE_BYTES // 50
    assert (
        params["Subject"].startswith("[Leash MEDIUM] human alice@example.com (via SSO permission set")
        and len(params["Subject"]) < 100
    )
    (envelope,) = inbox.drain()
    alert = Alert.from_dict(json.loads(envelope["Message"]))
    assert alert.resource == "i-00000000000000000, i-00000000000000001 and 998 more"
    assert "Resource:  i-00000000000000000, i-00000000000000001 and 998 more" in render_text(alert)
    assert alert.console_url.endswith(
        "#/events/a1d2e3f4-0b1c-4d2e-8f3a-4b5c6d7e8f02"
    )  # every ID, in CloudTrail
    slack = render_slack(alert)
    assert_within_slack_limits(slack)
    assert "and 998 more" in json.dumps(slack)


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_short_resource_lists_are_shown_whole(count):
    published = []
    Notifier(ActorConfig(), lambda a: published.append(a) or "m-1").handle(terminate_instances_event(count))
    ids = [f"i-0{n:016x}" for n in range(count)]
    expected = ", ".join(ids) if count <= 3 else f"{ids[0]}, {ids[1]} and 2 more"
    assert published[0].resource == expected


# --- console sign-ins (eventType AwsConsoleSignIn): not API calls, and judged as sign-ins -------------

ROOT_SIGN_IN = "signin-console-login-by-root"


def _sign_in(identity: dict | None = None, outcome: str = "Success") -> dict:
    """The root sign-in sample, by another identity or failed as AWS records it (no errorCode)."""
    event = load_event(ROOT_SIGN_IN)
    detail = event["detail"]
    if identity is not None:
        detail["userIdentity"] = identity
    detail["responseElements"] = {"ConsoleLogin": outcome}
    if outcome == "Failure":
        detail["errorMessage"] = "Failed authentication"
    return event


def _assumed(role: str, session: str = "web") -> dict:
    return {
        "type": "AssumedRole",
        "principalId": f"AROA5EXAMPLE000001:{session}",
        "arn": f"arn:aws:sts::111122223333:assumed-role/{role}/{session}",
        "accountId": "111122223333",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROA5EXAMPLE000001",
                "arn": f"arn:aws:iam::111122223333:role/{role}",
                "accountId": "111122223333",
                "userName": role,
            }
        },
    }


def test_a_failed_root_sign_in_is_high_and_says_it_failed(handler, lambda_context):
    notify, inbox = handler
    result = notify.lambda_handler(_sign_in(outcome="Failure"), lambda_context)
    assert (result["status"], result["severity"]) == ("published", "high")
    (envelope,) = inbox.drain()
    assert envelope["Subject"] == "[Leash HIGH] root user failed to sign in to the AWS console"
    assert "someone tried the root user's credentials" in envelope["Message"]


def test_a_role_that_is_an_agent_by_its_tag_alerts_when_it_signs_in(handler, lambda_context):
    # The rule routes every successful sign-in: the handler reads the Usage=Agent tag that no pattern can see.
    notify, inbox = handler
    boto3.client("iam").create_role(
        RoleName="data-pipeline-bot", AssumeRolePolicyDocument="{}", Tags=[{"Key": "Usage", "Value": "Agent"}]
    )
    result = notify.lambda_handler(_sign_in(_assumed("data-pipeline-bot")), lambda_context)
    assert (result["status"], result["severity"]) == ("published", "high")
    (envelope,) = inbox.drain()
    assert "agent data-pipeline-bot signed in to the AWS console" in envelope["Subject"]


@pytest.mark.parametrize(
    ("identity", "outcome", "reason"),
    [
        (_assumed("AWSReservedSSO_AdministratorAccess_4f2a9c1e7b3d5a60", "alice@example.com"), "Success",
         "console sign-in by human"),
        (_assumed("ai-agent-deploy"), "Failure", "failed console sign-in by agent"),
        ({"type": "IAMUser", "principalId": "AIDA5EXAMPLE00000001", "arn": "arn:aws:iam::111122223333:user/bob",
          "accountId": "111122223333", "userName": "bob"}, "Success", "console sign-in by human bob"),
    ],
)  # fmt: skip
def test_other_sign_ins_are_none_of_leashs_business(handler, lambda_context, identity, outcome, reason):
    notify, inbox = handler
    result = notify.lambda_handler(_sign_in(identity, outcome), lambda_context)
    assert result["status"] == "ignored" and reason in result["reason"]
    assert inbox.drain() == []
