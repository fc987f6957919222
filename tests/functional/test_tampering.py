"""Tampering with Leash (issue #16): every call that disables, deletes, rewrites, mutes or redirects one of
Leash's own resources, made by an agent and by a human, routed by template.yaml's own rules to the real
handler: a critical alert that also takes the second path to Slack, and for the agent a lockdown request.
The same call on a resource that is not Leash's is judged as before, never as tampering.

Leash's resources are the ones its stack would list (ListStackResources), built offline from template.yaml
for the same deployment the rules are resolved for (leash_cli.template.leash_resources).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import boto3
import pytest
from conftest import ACCOUNT, FUNCTION_DIRS, SAMPLE_PARAMETERS, load_event, load_handler

from leash.alerts import Alert
from leash.catalog import TAMPERING, CatalogAction
from leash.itself import LeashResources
from leash.model import ActionKind
from leash_cli.template import Router, deployment_for, eventbridge_rules, leash_resources, load_template

WEBHOOK_SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:leash/slack-webhook-Ab12Cd"
PARAMETERS = {**SAMPLE_PARAMETERS, "SlackWebhookSecretArn": WEBHOOK_SECRET}
TEMPLATE = load_template()
DEPLOYMENT = deployment_for(TEMPLATE, PARAMETERS, account=ACCOUNT)
LEASH = leash_resources(TEMPLATE, DEPLOYMENT)
ROUTER = Router(eventbridge_rules(TEMPLATE, DEPLOYMENT))


def _ref(logical_id: str) -> str:
    return str(DEPLOYMENT.resources[logical_id])


def _attribute(name: str) -> str:
    return str(DEPLOYMENT.attributes[name])


TOPIC = _ref("AlertsTopic")
RELEASE = _ref("ReleaseStateMachine")
LOCKDOWN = _ref("LockdownStateMachine")
# How a caller names one of Leash's resources of each kind, in the form the call's parameter takes.
LEASH_VALUES: dict[str, Any] = {
    "rule": _ref("NotifyFunctionTamper2"),
    "event-bus": _ref("LeashEventBus"),
    "function": _ref("NotifyFunction"),
    "event-source-mapping": sorted(LEASH.names["event-source-mapping"])[0],
    "topic": TOPIC,
    "subscription": f"{TOPIC}:8a21d6e4-3b1c-4f4e-9d1f-5c2b7a9e0f13",
    "queue": _ref("UndeliveredEventsQueue"),
    "table": _ref("LedgerTable"),
    "state-machine": LOCKDOWN,
    "execution": f"arn:aws:states:us-east-1:{ACCOUNT}:execution:{_attribute('LockdownStateMachine.Name')}:lock-1",
    "release-workflow": RELEASE,
    "key": _ref("LeashKey"),
    "alarm": [_ref("UndeliveredEventsAlarm")],
    "alarm-name": _ref("UndeliveredEventsAlarm"),
    "secret": WEBHOOK_SECRET,
    "log-group": _ref("NotifyLogGroup"),
    "stack": "leash",
    "stack-set": "leash-forwarders",
    "role": _ref("NotifyRole"),
    "new-role": "leash-backdoor",
}
# The same shapes, naming what is not Leash's.
OTHER_VALUES: dict[str, Any] = {
    "rule": "payments-nightly-export",
    "event-bus": "payments-bus",
    "function": "payments-api",
    "event-source-mapping": "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
    "topic": f"arn:aws:sns:us-east-1:{ACCOUNT}:payments-events",
    "subscription": f"arn:aws:sns:us-east-1:{ACCOUNT}:payments-events:1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b",
    "queue": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/payments-jobs",
    "table": "orders",
    "state-machine": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:payments-settlement",
    "execution": f"arn:aws:states:us-east-1:{ACCOUNT}:execution:payments-settlement:run-7",
    "release-workflow": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:payments-settlement",
    "key": "1234abcd-12ab-34cd-56ef-1234567890ab",
    "alarm": ["payments-5xx"],
    "alarm-name": "payments-5xx",
    "secret": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/payments/stripe-key-Zx98Yw",
    "log-group": "/aws/lambda/payments-api",
    "stack": "payments-prod",
    "stack-set": "payments-baseline",
    "role": "payments-api-role",
    "new-role": "payments-worker",
}


def _value_kind(action: CatalogAction) -> str:
    """Which of the values above a row's parameter takes (the kind, or the form of its field)."""
    field = action.resource[0]
    if field == "subscriptionArn":
        return "subscription"
    if field == "executionArn":
        return "execution"
    if field == "alarmName":
        return "alarm-name"
    return str(action.leash_kind)


def _example(form: Mapping[str, Any] | None) -> dict[str, Any]:
    """requestParameters in the form a sub-pattern describes (its first choice of each)."""
    if not form:
        return {}
    if set(form) == {"$or"}:
        return _example(form["$or"][0])
    out: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, Mapping):
            out[key] = _example(value)
        elif value and not isinstance(value[0], Mapping):
            out[key] = value[0]
        # {"exists": false}: leave the field out
    return out


def _identity(who: str) -> dict[str, Any]:
    identity = copy.deepcopy(load_event("cloudtrail-stop-logging-by-agent")["detail"]["userIdentity"])
    if who == "human":
        identity["arn"] = f"arn:aws:sts::{ACCOUNT}:assumed-role/platform-admin/alice@example.com"
        identity["principalId"] = "AROA5EXAMPLEHUMAN001:alice@example.com"
        identity["sessionContext"]["sessionIssuer"].update(
            userName="platform-admin", arn=f"arn:aws:iam::{ACCOUNT}:role/platform-admin"
        )
        del identity["sessionContext"]["sourceIdentity"]
    return identity


def tamper_event(action: CatalogAction, who: str, values: Mapping[str, Any] = LEASH_VALUES) -> dict[str, Any]:
    """A CloudTrail event of this call, as EventBridge delivers it, naming a resource in the row's field."""
    event = load_event("cloudtrail-stop-logging-by-agent")
    detail = event["detail"]
    event["source"] = f"aws.{action.service}"
    detail["eventSource"], detail["eventName"] = action.event_source, action.name
    detail["userIdentity"] = _identity(who)
    detail["requestParameters"] = {
        **_example(action.only_when),
        action.resource[0]: values[_value_kind(action)],
    }
    detail["eventID"] = f"7a3c0e21-{abs(hash((action.action, action.only_when is None, who))) % 10**12:012d}"
    detail["userAgent"] = "aws-cli/2.22.4 Python/3.12.6 Linux/6.8"
    return event


def _id(action: CatalogAction) -> str:
    return action.action + (
        "" if action.only_when is None else ":" + json.dumps(action.only_when, sort_keys=True)
    )


ROWS = list(TAMPERING)


@pytest.fixture
def handlers(notify_stack, monkeypatch):
    monkeypatch.setattr("leash.wiring.own_resources", lambda *_: lambda: LEASH)
    return {fn: load_handler(d) for fn, d in FUNCTION_DIRS.items()}, notify_stack[1]


def _run(handlers, lambda_context, event) -> tuple[dict, list[Alert], set[str]]:
    functions, inbox = handlers
    routed = {r.function for r in ROUTER.route(event) if r.function != "SpikeQueue"}
    targets = routed or {"NotifyFunction"}  # a call no rule routes still gets a clean answer from notify
    assert len(targets) == 1, (targets, [r.name for r in ROUTER.route(event)])
    result = functions[targets.pop()].lambda_handler(event, lambda_context)
    alerts = [Alert.from_dict(json.loads(m["Message"])) for m in inbox.drain()]
    return result, alerts, routed


@pytest.mark.parametrize("who", ["agent", "human"])
@pytest.mark.parametrize("action", ROWS, ids=_id)
def test_tampering_is_a_critical_alert_on_the_second_path(handlers, lambda_context, action, who):
    event = tamper_event(action, who)
    routed_rules = [r.name for r in ROUTER.route(event) if r.function != "SpikeQueue"]
    assert any("Tamper" in name for name in routed_rules), (
        routed_rules
    )  # the tamper rules route it, for anyone

    result, alerts, _ = _run(handlers, lambda_context, event)

    assert result["status"] == "published", result
    assert result["severity"] == "critical"
    (alert,) = alerts
    assert alert.second_path is True
    assert "Leash" in alert.title and action.did in alert.title
    assert any("tampering with Leash itself" in r for r in alert.reasons)
    lockdowns = [a for a in alert.leash_did if a.kind is ActionKind.LOCKDOWN_REQUESTED]
    if who == "agent":
        assert [a.principal for a in lockdowns] == [event["detail"]["userIdentity"]["arn"]]
    else:
        assert lockdowns == []  # AutoLockdown=agents: a person is alerted, not locked out


@pytest.mark.parametrize("action", ROWS, ids=_id)
def test_the_same_call_on_anything_else_is_not_tampering(handlers, lambda_context, action):
    event = tamper_event(action, "agent", OTHER_VALUES)

    result, alerts, _ = _run(handlers, lambda_context, event)

    assert all(not a.second_path and "Leash" not in a.title for a in alerts), [a.title for a in alerts]
    assert result["status"] in ("published", "ignored"), result


@pytest.mark.parametrize("action", ROWS, ids=_id)
def test_leash_own_and_failed_calls_on_its_resources_route_nowhere(action):
    own = tamper_event(action, "agent")
    own["detail"]["userIdentity"] = load_event("rds-modify-db-instance-by-leash")["detail"]["userIdentity"]
    assert [r.name for r in ROUTER.route(own)] == []
    failed = tamper_event(action, "agent")
    failed["detail"]["errorCode"] = "AccessDenied"
    assert {r.name for r in ROUTER.route(failed)} <= {"DeniedCallsRule", "AgentCallsRule"}


def test_the_table_covers_every_call_the_issue_names():
    named = {
        "events": "DeleteRule DisableRule PutRule RemoveTargets PutTargets",
        "lambda": "DeleteFunction20150331 UpdateFunctionCode20150331v2 UpdateFunctionConfiguration20150331v2 "
        "PutFunctionConcurrency20171031 DeleteFunctionConcurrency20171031 AddPermission20150331v2 "
        "RemovePermission20150331v2 CreateEventSourceMapping20150331 UpdateEventSourceMapping20150331 "
        "DeleteEventSourceMapping20150331",
        "sns": "DeleteTopic Subscribe Unsubscribe SetSubscriptionAttributes SetTopicAttributes AddPermission "
        "RemovePermission",
        "sqs": "DeleteQueue PurgeQueue SetQueueAttributes",
        "dynamodb": "DeleteTable UpdateTable UpdateTimeToLive",
        "states": "UpdateStateMachine DeleteStateMachine StopExecution StartExecution",
        "kms": "DisableKey ScheduleKeyDeletion PutKeyPolicy DisableKeyRotation CreateGrant",
        "monitoring": "DeleteAlarms DisableAlarmActions PutMetricAlarm",
        "secretsmanager": "PutSecretValue UpdateSecret DeleteSecret",
        "logs": "DeleteLogGroup PutRetentionPolicy",
        "cloudformation": "DeleteStack UpdateStack ExecuteChangeSet CreateChangeSet UpdateTerminationProtection "
        "SetStackPolicy DeleteStackInstances UpdateStackSet DeleteStackSet UpdateStackInstances",
        "iam": "PutRolePolicy DeleteRolePolicy AttachRolePolicy DetachRolePolicy UpdateAssumeRolePolicy "
        "PutRolePermissionsBoundary DeleteRolePermissionsBoundary TagRole UntagRole DeleteRole UpdateRole CreateRole",
    }
    wanted = {(service, name) for service, names in named.items() for name in names.split()}
    assert wanted <= {(a.service, a.name) for a in TAMPERING}


def test_leash_resources_come_from_the_stack_resource_list(aws):
    """The handlers' provider reads ListStackResources of their own stack (moto), every page, by kind."""
    from leash.itself import from_stack_resources

    cfn = boto3.client("cloudformation")
    body = {
        "Resources": {
            "AlertsTopic": {"Type": "AWS::SNS::Topic"},
            "SpikeQueue": {"Type": "AWS::SQS::Queue"},
            "LedgerTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": "leash-ledger",
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                },
            },
        }
    }
    cfn.create_stack(StackName="leash", TemplateBody=json.dumps(body))
    found = from_stack_resources(cfn, "leash", role_prefix="leash-", secrets=[WEBHOOK_SECRET])
    topic = boto3.client("sns").list_topics()["Topics"][0]["TopicArn"]
    queue = boto3.client("sqs").list_queues()["QueueUrls"][0]
    assert found.owns("topic", [topic]) and found.owns(
        "topic", [f"{topic}:5e6f7a8b-0000-4000-8000-000000000001"]
    )
    assert found.owns("queue", [queue]) and found.owns("table", ["leash-ledger"])
    assert found.owns("stack", [f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/leash/0a1b2c3d"])
    assert found.owns("secret", ["leash/slack-webhook"]) and found.owns("secret", [WEBHOOK_SECRET])
    assert found.owns("new-role", ["leash-backdoor"]) and not found.owns("new-role", ["payments-worker"])
    assert not found.owns("table", ["orders"]) and not found.owns("topic", ["arn:aws:sns:us-east-1:1:other"])


def test_a_function_named_in_any_form_is_leash_s():
    name = LEASH_VALUES["function"]
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    forms = [name, f"{name}:live", arn, f"{arn}:7", f"{ACCOUNT}:function:{name}"]
    assert all(LEASH.owns("function", [form]) for form in forms)
    assert not LeashResources().owns("function", forms)
