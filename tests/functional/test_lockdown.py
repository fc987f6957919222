"""The lockdown and release workflows: their real ASL executed on moto, asserted in moto IAM."""

from __future__ import annotations

import json

import boto3
import pytest
from conftest import ACCOUNT, fail_first_calls

ROLE = "ai-agent-deploy"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/agents/{ROLE}"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/sess_a8f3b21c"


@pytest.fixture
def iam(workflows):
    iam = boto3.client("iam")
    iam.create_role(RoleName=ROLE, Path="/agents/", AssumeRolePolicyDocument="{}")
    policy = iam.create_policy(
        PolicyName="agent-deploy",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        ),
    )
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=policy["Policy"]["Arn"])
    return iam


def inline_policies(iam, role=ROLE):
    return {
        name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    }


def ledger(principal_arn):
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    items = boto3.client("dynamodb").query(
        TableName="leash-ledger",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"principal#{principal_arn}"}},
    )["Items"]
    return [{k: des.deserialize(v) for k, v in i.items()} for i in items]


@pytest.mark.parametrize(
    "principal", [ROLE, ROLE_ARN, SESSION_ARN], ids=["name", "role-arn", "assumed-role-arn"]
)
def test_role_lockdown_denies_all_and_revokes_older_sessions(workflows, iam, principal):
    result = workflows.run("lockdown", principal)

    assert result["status"] == "SUCCEEDED", result
    policies = inline_policies(iam)
    assert policies["LeashEmergencyDenyAll"]["Statement"] == [
        {"Sid": "LeashEmergencyDenyAll", "Effect": "Deny", "Action": "*", "Resource": "*"}
    ]
    revoke = policies["LeashRevokeOlderSessions"]["Statement"][0]
    assert revoke["Effect"] == "Deny" and revoke["Action"] == "*"
    started = result["startDate"].astimezone().strftime("%Y-%m-%dT%H:%M:%S")
    assert revoke["Condition"]["DateLessThan"]["aws:TokenIssueTime"].startswith(started[:16])
    (notice,) = workflows.notices()
    assert notice["subject"] == "[Leash critical] Lockdown applied to a role"
    assert notice["message"].startswith(f"LOCKDOWN applied to role {ROLE}: deny-all, sessions issued before ")
    assert (
        "requested by oncall@example.com (test); reason: agent probing its fence" in notice["message"].lower()
    )
    (record,) = ledger(ROLE_ARN)
    assert record["outcome"] == "applied" and record["requestedBy"] == "oncall@example.com"
    assert record["feed"] == "ledger"  # in the byTime index that `leash status` queries
    assert json.loads(record["state"])["prior"]["attached"]["arns"] == [
        f"arn:aws:iam::{ACCOUNT}:policy/agent-deploy"
    ]
    print(f"\nrole lockdown: {result['transitions']} state transitions")


def test_role_lockdown_transitions_stay_low(workflows, iam):
    result = workflows.run("lockdown", ROLE)
    assert result["transitions"] <= 15, result["states"]


def test_second_lockdown_reports_already_locked(workflows, iam):
    workflows.run("lockdown", ROLE)
    workflows.notices()
    result = workflows.run("lockdown", ROLE)
    assert result["status"] == "SUCCEEDED"
    (notice,) = workflows.notices()
    assert notice["subject"] == "[Leash medium] Already locked down: nothing changed"
    assert f"LOCKDOWN not repeated: role {ROLE} is already locked down" in notice["message"]


def test_release_removes_deny_all_and_keeps_older_sessions_revoked(workflows, iam):
    workflows.run("lockdown", ROLE)
    result = workflows.run("release", ROLE_ARN)
    assert result["status"] == "SUCCEEDED"
    assert set(inline_policies(iam)) == {"LeashRevokeOlderSessions"}
    notices = workflows.notices()
    assert notices[-1]["subject"] == "[Leash high] Lockdown released for a role"
    assert [(r["outcome"], r["feed"]) for r in ledger(ROLE_ARN)] == [
        ("applied", "ledger"),
        ("released", "ledger"),
    ]


def test_release_of_a_principal_that_is_not_locked_is_a_clean_no_op(workflows, iam):
    result = workflows.run("release", ROLE)
    assert result["status"] == "SUCCEEDED"
    assert inline_policies(iam) == {}
    assert f"RELEASE not needed: role {ROLE} is not locked down" in workflows.notices()[0]["message"]


@pytest.fixture
def user_with_keys(workflows):
    iam = boto3.client("iam")
    iam.create_user(UserName="ci-bot")
    keys = [iam.create_access_key(UserName="ci-bot")["AccessKey"]["AccessKeyId"] for _ in range(2)]
    return iam, keys


def key_status(iam, user="ci-bot"):
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}


def test_user_lockdown_deactivates_every_active_key_and_release_reactivates_exactly_those(
    workflows, user_with_keys
):
    iam, keys = user_with_keys
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/ci-bot"

    locked = workflows.run("lockdown", user_arn)
    assert locked["status"] == "SUCCEEDED", locked
    assert key_status(iam) == dict.fromkeys(keys, "Inactive")
    assert (
        iam.get_user_policy(UserName="ci-bot", PolicyName="LeashEmergencyDenyAll")["PolicyDocument"][
            "Statement"
        ][0]["Effect"]
        == "Deny"
    )
    assert workflows.notices()[0]["subject"] == "[Leash critical] Lockdown applied to an IAM user"
    print(f"\nuser lockdown with 2 keys: {locked['transitions']} state transitions")
    assert locked["transitions"] <= 15 + 2 * len(keys)
    # The remembered keys are a helper item: in the table, not in the byTime index `leash status` reads.
    dynamodb = boto3.client("dynamodb")
    table = dynamodb.scan(TableName="leash-ledger")["Items"]
    assert {i["sk"]["S"].rsplit("#", 1)[-1] for i in table} == {"keys", "lockdown"}
    indexed = dynamodb.query(
        TableName="leash-ledger",
        IndexName="byTime",
        KeyConditionExpression="feed = :feed",
        ExpressionAttributeValues={":feed": {"S": "ledger"}},
    )["Items"]
    assert [(i["pk"]["S"], i["outcome"]["S"]) for i in indexed] == [(f"principal#{user_arn}", "applied")]

    released = workflows.run("release", user_arn)
    assert released["status"] == "SUCCEEDED", released
    assert key_status(iam) == {keys[0]: "Active", keys[1]: "Active"}
    assert iam.list_user_policies(UserName="ci-bot")["PolicyNames"] == []


def test_user_key_inactive_before_lockdown_stays_inactive_after_release(workflows, user_with_keys):
    iam, keys = user_with_keys
    iam.update_access_key(UserName="ci-bot", AccessKeyId=keys[1], Status="Inactive")
    workflows.run("lockdown", f"arn:aws:iam::{ACCOUNT}:user/ci-bot")
    workflows.run("release", f"arn:aws:iam::{ACCOUNT}:user/ci-bot")
    assert key_status(iam) == {keys[0]: "Active", keys[1]: "Inactive"}


@pytest.mark.parametrize(
    ("principal", "create", "subject"),
    [
        (
            f"arn:aws:iam::{ACCOUNT}:role/breakglass-admin",
            "role:breakglass-admin",
            "[Leash high] Lockdown refused: exempt principal",
        ),
        (
            f"arn:aws:iam::{ACCOUNT}:user/ci-deployer",
            "user:ci-deployer",
            "[Leash high] Lockdown refused: exempt principal",
        ),
        (
            "leash-notify-us-east-1",
            "role:leash-notify-us-east-1",
            "[Leash high] Lockdown refused: a Leash role",
        ),
        (
            "AWSServiceRoleForAutoScaling",
            "service-role:AWSServiceRoleForAutoScaling",
            "[Leash high] Lockdown refused: service-linked role",
        ),
        (f"arn:aws:iam::{ACCOUNT}:root", None, "[Leash critical] Lockdown refused: root user"),
    ],
    ids=["exempt-role", "exempt-user", "leash-role", "service-linked-role", "root"],
)
def test_protected_principals_are_refused_with_a_notification(workflows, principal, create, subject):
    iam = boto3.client("iam")
    if create:
        kind, name = create.split(":")
        if kind == "user":
            iam.create_user(UserName=name)
        else:
            path = "/aws-service-role/autoscaling.amazonaws.com/" if kind == "service-role" else "/"
            iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument="{}")

    result = workflows.run("lockdown", principal)

    assert (result["status"], result["error"]) == ("FAILED", "Leash.PrincipalRefused")
    (notice,) = workflows.notices()
    assert notice["subject"] == subject
    if create and create.startswith(("role", "service-role")):
        assert iam.list_role_policies(RoleName=create.split(":")[1])["PolicyNames"] == []
    if principal.endswith(":root"):
        assert "root cannot be restricted by IAM" in notice["message"] and "SCP" in notice["message"]


def test_unknown_principal_fails_cleanly_with_a_notification(workflows):
    result = workflows.run("lockdown", "no-such-agent")
    assert (result["status"], result["error"]) == ("FAILED", "Leash.LockdownFailed")
    (notice,) = workflows.notices()
    assert notice["subject"] == "[Leash high] Unknown principal: nothing done"
    assert "no IAM role or user named no-such-agent" in notice["message"]


@pytest.mark.parametrize(
    "payload",
    [
        {"reason": "x", "requestedBy": "y", "trigger": "z"},
        {"principal": 42, "reason": "x", "requestedBy": "y", "trigger": "z"},
    ],
)
def test_bad_input_ends_in_a_clear_failed_state(workflows, payload):
    result = workflows.start("lockdown", payload)
    assert (result["status"], result["error"]) == ("FAILED", "Leash.InvalidInput")
    assert "principal" in result["cause"]


def test_malformed_arn_is_refused_as_invalid(workflows):
    result = workflows.run("lockdown", "arn:aws:s3:::not-a-principal")
    assert (result["status"], result["error"]) == ("FAILED", "Leash.InvalidPrincipal")


def test_failing_step_notifies_naming_the_step_and_the_error(workflows, iam, monkeypatch):
    from moto.iam.exceptions import IAMException
    from moto.iam.models import IAMBackend

    def refuse(*args, **kwargs):
        raise IAMException("AccessDenied", "not authorized to perform: iam:PutRolePolicy")

    monkeypatch.setattr(IAMBackend, "put_role_policy", refuse)
    result = workflows.run("lockdown", ROLE)
    assert (result["status"], result["error"]) == ("FAILED", "Leash.LockdownFailed")
    (notice,) = workflows.notices()
    assert notice["subject"] == "[Leash critical] Workflow failed: see the message"
    # IAM models no AccessDenied error: Step Functions names it Iam.IamException, as it does Throttling,
    # so it is retried too (bounded, a few seconds) before the workflow gives up and says why.
    assert 'Step and error: {"PutDenyAll":{"Error":"Iam.IamException"' in notice["message"]
    assert "not authorized to perform: iam:PutRolePolicy" in notice["message"]
    assert len(workflows.retry_waits) == 5


def test_lockdown_completes_when_iam_throttles_twice(workflows, iam, monkeypatch):
    from moto.iam.models import IAMBackend

    calls = fail_first_calls(monkeypatch, IAMBackend, "put_role_policy", "Throttling", 2, "Rate exceeded")
    result = workflows.run("lockdown", ROLE)

    assert result["status"] == "SUCCEEDED", result
    assert calls == [
        "failed",
        "failed",
        "answered",
        "answered",
    ]  # deny-all twice throttled, then both policies
    assert inline_policies(iam)["LeashEmergencyDenyAll"]["Statement"][0]["Effect"] == "Deny"
    assert "LeashRevokeOlderSessions" in inline_policies(iam)
    (notice,) = workflows.notices()
    assert notice["subject"] == "[Leash critical] Lockdown applied to a role"
    (record,) = ledger(ROLE_ARN)
    assert record["outcome"] == "applied" and "noticeDelivery" not in record
    # Retried in place (the state is entered once), after waits of full jitter: at most 1 s, then 2 s.
    assert result["states"].count("PutDenyAll") == 1
    first, second = workflows.retry_waits
    assert 0 <= first <= 1 and 0 <= second <= 2


def test_release_completes_when_iam_fails_with_a_5xx(workflows, iam, monkeypatch):
    from moto.iam.models import IAMBackend

    workflows.run("lockdown", ROLE)
    fail_first_calls(monkeypatch, IAMBackend, "delete_role_policy", "ServiceFailure", 1)
    result = workflows.run("release", ROLE)
    assert result["status"] == "SUCCEEDED", result
    assert set(inline_policies(iam)) == {"LeashRevokeOlderSessions"}


def test_notice_is_sent_when_sns_throttles_once(workflows, iam, monkeypatch):
    from moto.sns.models import SNSBackend

    calls = fail_first_calls(monkeypatch, SNSBackend, "publish", "Throttled", 1, "Rate exceeded")
    result = workflows.run("lockdown", ROLE)
    assert result["status"] == "SUCCEEDED", result
    assert calls == ["failed", "answered"]
    assert [n["subject"] for n in workflows.notices()] == ["[Leash critical] Lockdown applied to a role"]


@pytest.mark.parametrize(
    ("code", "error", "retries"),
    [
        ("AuthorizationError", "SNS.AuthorizationErrorException", 0),
        ("InternalError", "SNS.InternalErrorException", 5),
    ],
    ids=["permanent", "5xx-that-outlasts-the-retries"],
)
def test_a_notice_that_cannot_be_sent_is_recorded_and_fails_the_execution(
    workflows, iam, monkeypatch, code, error, retries
):
    from moto.sns.models import SNSBackend

    fail_first_calls(monkeypatch, SNSBackend, "publish", code, 99)
    result = workflows.run("lockdown", ROLE)

    # The lockdown itself happened; the execution fails so that the failed-executions alarm reports it.
    assert (result["status"], result["error"]) == ("FAILED", "Leash.NoticeUndelivered")
    assert result["states"][-3:] == ["Notify", "RecordUndeliveredNotice", "NoticeUndelivered"]
    assert "LeashEmergencyDenyAll" in inline_policies(iam)
    assert workflows.notices() == []
    (record,) = ledger(ROLE_ARN)
    assert (record["outcome"], record["noticeDelivery"]) == ("applied", "failed")
    assert json.loads(record["noticeError"])["Error"] == error
    assert len(workflows.retry_waits) == retries


def test_notices_carry_their_fields_and_slack_offers_release_only_after_a_lockdown(workflows, iam):
    """The forwarder builds the Slack message from the notice's message attributes, never from its text."""
    from leash.inbox import alerts_from_sns
    from leash.slack_blocks import render_slack

    def as_lambda_event(notice):  # what SNS hands the Slack forwarder
        return {
            "Records": [
                {
                    "Sns": {
                        "Subject": notice["subject"],
                        "Message": notice["message"],
                        "Timestamp": "t",
                        "MessageAttributes": {
                            k: {"Type": "String", "Value": v} for k, v in notice["notice"].items()
                        },
                    }
                }
            ]
        }

    workflows.run("lockdown", ROLE)
    workflows.run("lockdown", ROLE)
    applied, repeated = workflows.notices()
    assert (
        applied["notice"]["kind"] == "lockdown-applied"
        and repeated["notice"]["kind"] == "lockdown-already-locked"
    )
    assert applied["notice"]["principal"] == ROLE_ARN and applied["notice"]["severity"] == "critical"
    (alert,) = alerts_from_sns(as_lambda_event(applied))
    assert alert.kind == "workflow" and alert.title == applied["message"].split("\n")[0]
    buttons = [b for b in render_slack(alert)["blocks"] if b["type"] == "actions"]
    assert [e["text"]["text"] for e in buttons[0]["elements"]] == [f"Release {ROLE}"]
    (again,) = alerts_from_sns(as_lambda_event(repeated))
    assert not [b for b in render_slack(again)["blocks"] if b["type"] == "actions"]


def test_a_role_that_only_looks_like_leash_is_locked_like_any_other(workflows):
    """#16: Leash's roles are this stack's exact roles; `leash-backdoor` is nobody's exception."""
    iam = boto3.client("iam")
    iam.create_role(RoleName="leash-backdoor", AssumeRolePolicyDocument="{}")
    result = workflows.run("lockdown", f"arn:aws:iam::{ACCOUNT}:role/leash-backdoor")
    assert result["status"] == "SUCCEEDED"
    assert "LeashEmergencyDenyAll" in iam.list_role_policies(RoleName="leash-backdoor")["PolicyNames"]
