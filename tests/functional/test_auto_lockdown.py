"""Leash asks for a lockdown by itself for the worst calls by agents, and the request starts the real workflow."""

from __future__ import annotations

import boto3
import pytest
from conftest import ACCOUNT, bus_tap, load_event, load_handler, own_resources

from leash.actors import ActorConfig, classify_actor
from leash.catalog import lookup
from leash.events import parse_event
from leash.lockdown import AutoLockdown
from leash.settings import LockdownSettings
from leash_cli.emulator import create_tables
from leash_cli.template import TEMPLATE, deployment_for, load_template

LEASH = own_resources()  # what the handlers learn from ListStackResources, for the samples' deployment
LEASH_FUNCTION = next(f for f in sorted(LEASH.names["function"]) if "NotifyFunction" in f)
LEASH_RULE = next(r for r in sorted(LEASH.names["rule"]) if "DestructiveData" in r)
CONFIG = ActorConfig(
    agent_role_prefix="ai-agent-", exempt_arns=frozenset({f"arn:aws:iam::{ACCOUNT}:role/breakglass-admin"})
)


def request(name, mode="agents", mutate=None):
    event = load_event(name)
    if mutate:
        mutate(event["detail"])
    call = parse_event(event)
    actor = classify_actor(call.user_identity, CONFIG)
    return AutoLockdown(LockdownSettings(mode, stack_name="leash", event_bus="leash-leash")).request_for(
        call, actor, lookup(call, LEASH)
    )


def as_human(detail):
    detail["userIdentity"]["arn"] = f"arn:aws:sts::{ACCOUNT}:assumed-role/platform-admin/alice"
    detail["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] = "platform-admin"
    detail["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = (
        f"arn:aws:iam::{ACCOUNT}:role/platform-admin"
    )


def test_agent_stopping_cloudtrail_is_locked_down():
    req = request("cloudtrail-stop-logging-by-agent")
    assert req["principal"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/ai-agent-deploy/sess_a8f3b21c"
    assert req["reason"].startswith("agent ai-agent-deploy stopped CloudTrail logging of")
    assert req["trigger"] == "auto:cloudtrail:StopLogging" and req["requestedBy"] == "leash"
    assert req["evidence"]["eventId"] == "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6005"


def test_modes():
    assert request("cloudtrail-stop-logging-by-agent", mode="off") is None
    assert request("cloudtrail-stop-logging-by-agent", mutate=as_human) is None
    assert request("cloudtrail-stop-logging-by-agent", mode="non-exempt", mutate=as_human) is not None


def test_agent_detaching_its_own_guardrail_is_locked_down_but_not_for_another_role():
    assert "its own guardrail" in request("iam-detach-role-policy-guardrail-by-agent")["reason"]

    def other_role(detail):
        detail["requestParameters"]["roleName"] = "ai-agent-reviewer"

    assert request("iam-detach-role-policy-guardrail-by-agent", mutate=other_role) is None


def test_agent_tampering_with_leash_itself_is_locked_down():
    def delete_leash_function(detail):
        detail["requestParameters"]["functionName"] = LEASH_FUNCTION

    req = request("lambda-delete-function-by-tagged-agent-role", mutate=delete_leash_function)
    assert req is None  # data-pipeline-bot is an agent only by its tag, which this unit test does not look up

    def agent_deletes_leash_function(detail):
        delete_leash_function(detail)
        detail["userIdentity"] = load_event("cloudtrail-stop-logging-by-agent")["detail"]["userIdentity"]

    req = request("lambda-delete-function-by-tagged-agent-role", mutate=agent_deletes_leash_function)
    assert f"deleted Leash's Lambda function {LEASH_FUNCTION}" in req["reason"]
    assert request("cloudformation-delete-stack-by-agent") is None  # webhooks-prod is not Leash


def agent_deletes_leash_rule():
    event = load_event("cloudtrail-stop-logging-by-agent")
    detail = event["detail"]
    event["source"], detail["eventSource"], detail["eventName"] = (
        "aws.events",
        "events.amazonaws.com",
        "DeleteRule",
    )
    detail["requestParameters"] = {"name": LEASH_RULE, "force": False}
    detail["eventID"] = "0d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a"
    return event


@pytest.mark.parametrize(
    ("function", "make_event", "said"),
    [
        ("reapply", lambda: load_event("cloudtrail-stop-logging-by-agent"), "stopped CloudTrail logging"),
        ("notify", agent_deletes_leash_rule, "deleted Leash's EventBridge rule"),
    ],
    ids=["reapply-path-stop-logging", "notify-path-delete-leash-rule"],
)
def test_lockdown_request_starts_the_workflow(
    workflows, monkeypatch, lambda_context, function, make_event, said
):
    # The account: the agent role, the trail it stops, Leash's bus with a tap that shows what was put on it.
    iam = boto3.client("iam")
    iam.create_role(RoleName="ai-agent-deploy", AssumeRolePolicyDocument="{}")
    boto3.client("s3").create_bucket(Bucket="org-trail-logs")
    boto3.client("cloudtrail").create_trail(Name="org-trail", S3BucketName="org-trail-logs")
    read_bus = bus_tap()
    create_tables({"IdempotencyTable": "leash-idempotency"})
    for key, value in {
        "ALERTS_TOPIC_ARN": workflows.inbox_topic,
        "IDEMPOTENCY_TABLE": "leash-idempotency",
        "LEDGER_TABLE": "leash-ledger",
        "LEASH_ROLE_PREFIX": "leash",
        "LEASH_AGENT_ROLE_PREFIX": "ai-agent-",
        "LEASH_AUTO_LOCKDOWN": "agents",
        "LEASH_STACK_NAME": "leash",
        "LEASH_EVENT_BUS": "leash-leash",
        "POWERTOOLS_SERVICE_NAME": function,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("leash.wiring.own_resources", lambda *_: lambda: LEASH)

    result = load_handler(function).lambda_handler(make_event(), lambda_context)

    assert result["status"] == "published"
    alert_text = workflows.notices()[0]["message"]
    assert (
        "Leash requested a lockdown of arn:aws:sts::111122223333:assumed-role/ai-agent-deploy/sess_a8f3b21c"
        in alert_text
    )
    (put,) = read_bus()
    assert said in put["detail"]["reason"] and put["detail"]["requestedBy"] == "leash"

    # EventBridge would now apply the template's rule: its pattern, then InputPath $.detail.
    template = load_template(TEMPLATE)
    source = template["Resources"]["LockdownStateMachine"]["Properties"]["Events"]["LockdownRequested"][
        "Properties"
    ]
    from leash.eventpattern import matches

    assert matches(deployment_for(template).resolve(source["Pattern"]), put)
    assert source["InputPath"] == "$.detail"
    execution = workflows.start("lockdown", put["detail"])

    assert execution["status"] == "SUCCEEDED", execution
    assert set(iam.list_role_policies(RoleName="ai-agent-deploy")["PolicyNames"]) == {
        "LeashEmergencyDenyAll",
        "LeashRevokeOlderSessions",
    }
    assert "LOCKDOWN applied to role ai-agent-deploy" in workflows.notices()[-1]["message"]


def test_a_request_is_put_once_per_request_id_and_again_only_if_it_failed(aws, fail_calls):
    """The claim before put_events: a second ask with the same requestId puts nothing; an ask that
    EventBridge refused releases its claim, so the retry asks again."""
    from leash.claims import DynamoDbClaims
    from leash.lockdown import EventBusRequester

    create_tables({"IdempotencyTable": "leash-idempotency"})
    read_bus = bus_tap()
    failed = fail_calls("events.PutEvents", "InternalException")
    requester = EventBusRequester(
        lambda: boto3.client("events"),
        "leash-leash",
        claims=DynamoDbClaims(boto3.client("dynamodb"), "leash-idempotency"),
    )
    ask = {
        "requestId": "evt-1",
        "principal": "ai-agent-deploy",
        "reason": "r",
        "requestedBy": "leash",
        "trigger": "t",
    }

    with pytest.raises(Exception, match="InternalException"):
        requester(ask)
    assert failed == ["events.PutEvents"] and read_bus() == []
    requester(ask)  # the handler's retry
    requester(ask)  # and one more
    assert [put["detail"]["requestId"] for put in read_bus()] == ["evt-1"]
    requester({**ask, "requestId": "evt-2"})
    requester({key: value for key, value in ask.items() if key != "requestId"})  # no id: no claim, put
    assert len(read_bus()) == 2
