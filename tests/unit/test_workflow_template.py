"""The workflows survive AWS: every task retries throttling and 5xx, every notice is caught, failures alarm,
and only Leash may publish to the alerts topic. Read from statemachines/ and template.yaml, so a new state,
role or alarm without these fails here."""

from __future__ import annotations

import json

import pytest

from leash_cli.template import TEMPLATE, load_template

ACCT = "111122223333"
WORKFLOWS = ("lockdown", "release")

# What Step Functions raises on throttling and server faults, per integration (ServiceName.ErrorName):
# aws-sdk tasks name errors after the SDK's exception (IAM models no throttling error: `Throttling` is
# Iam.IamException); the optimized dynamodb and sns integrations after the service's error code.
TRANSIENT = {
    "iam": {"Iam.IamException", "Iam.ServiceFailureException", "Iam.SdkClientException"},
    "dynamodb": {"DynamoDB.ProvisionedThroughputExceededException", "DynamoDB.ThrottlingException",
                 "DynamoDB.RequestLimitExceeded", "DynamoDB.InternalServerError"},
    "sns": {"SNS.ThrottledException", "SNS.KMSThrottlingException", "SNS.InternalErrorException"},
}  # fmt: skip
PREFIX = {"iam": "Iam.", "dynamodb": "DynamoDB.", "sns": "SNS."}


@pytest.fixture(scope="module")
def template():
    return load_template()


def asl(name: str) -> dict:
    return json.loads((TEMPLATE.parent / "statemachines" / f"{name}.asl.json").read_text())


def tasks(states: dict, inside_map: bool = False):
    """(name, state, inside a Map) for every Task, the Map's item processors included."""
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state, inside_map
        if state["Type"] == "Map":
            yield from tasks(state["ItemProcessor"]["States"], inside_map=True)


def service(resource: str) -> str:
    parts = resource.split(":")  # arn:aws:states:::aws-sdk:iam:putRolePolicy | arn:aws:states:::sns:publish
    return parts[6] if parts[5] == "aws-sdk" else parts[5]


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_every_task_retries_throttling_and_5xx_with_backoff_and_full_jitter(workflow):
    checked = 0
    for name, task, _ in tasks(asl(workflow)["States"]):
        svc = service(task["Resource"])
        assert task.get("Retry"), f"{workflow}.{name} has no Retry"
        retried = set()
        for retrier in task["Retry"]:
            assert retrier["JitterStrategy"] == "FULL", name
            assert retrier["BackoffRate"] > 1 and retrier["IntervalSeconds"] >= 1, name
            assert 0 < retrier["MaxDelaySeconds"] <= 60 and 0 < retrier["MaxAttempts"] <= 6, name
            # Retrying everything would retry NoSuchEntity, refusals and bad input too.
            assert not {"States.ALL", "States.TaskFailed"} & set(retrier["ErrorEquals"]), name
            retried |= set(retrier["ErrorEquals"])
        assert retried >= TRANSIENT[svc], (name, TRANSIENT[svc] - retried)
        checked += 1
    assert checked >= 12


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_error_names_are_spelled_as_step_functions_raises_them(workflow):
    """moto's spelling (`iam.NoSuchEntityException`) is the emulator's business, never the shipped ASL's."""
    for name, task, _ in tasks(asl(workflow)["States"]):
        for handler in task.get("Retry", []) + task.get("Catch", []):
            for error in handler["ErrorEquals"]:
                assert error.startswith(("States.", PREFIX[service(task["Resource"])])), (name, error)


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_no_task_can_end_the_execution_uncaught(workflow):
    """A Task's own Catch, or its Map's: no error ends the workflow before it recorded and said why."""
    states = asl(workflow)["States"]
    for name, task, inside_map in tasks(states):
        if not inside_map:
            assert ["States.ALL"] in [c["ErrorEquals"] for c in task.get("Catch", [])], name
    for name, state in states.items():
        if state["Type"] == "Map":
            assert ["States.ALL"] in [c["ErrorEquals"] for c in state["Catch"]], name


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_a_notice_that_cannot_be_sent_is_recorded_then_fails_the_execution(workflow):
    states = asl(workflow)["States"]
    notices = [(n, t) for n, t, _ in tasks(states) if t["Resource"] == "arn:aws:states:::sns:publish"]
    assert notices
    for name, notice in notices:
        (catch,) = notice["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["ResultPath"] == f"$.errors.{name}"
        record = states[catch["Next"]]
        assert record["Resource"] == "arn:aws:states:::dynamodb:updateItem"
        assert record["Parameters"]["Key"]["sk"]["S.$"].endswith(f"#{workflow}', $$.Execution.StartTime)")
        assert "noticeDelivery = :failed" in record["Parameters"]["UpdateExpression"]
        # Even if the ledger cannot be written either, the execution fails (and so alarms).
        assert {c["Next"] for c in record["Catch"]} == {record["Next"]}
        assert states[record["Next"]] == {
            **states[record["Next"]],
            "Type": "Fail",
            "Error": "Leash.NoticeUndelivered",
        }


def test_workflow_roles_may_mark_an_undelivered_notice(template):
    for role in ("LockdownRole", "ReleaseRole"):
        (policy,) = template["Resources"][role]["Properties"]["Policies"]
        (ledger,) = [s for s in policy["PolicyDocument"]["Statement"] if s.get("Sid") == "Ledger"]
        assert "dynamodb:UpdateItem" in ledger["Action"], role


@pytest.mark.parametrize("workflow", ["Lockdown", "Release"])
def test_an_execution_that_does_not_succeed_alarms(template, workflow):
    alarm = template["Resources"][f"{workflow}FailedAlarm"]["Properties"]
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    watched = {
        m["MetricStat"]["Metric"]["MetricName"]
        for m in metrics.values()
        if "MetricStat" in m
        and m["MetricStat"]["Metric"]["Namespace"] == "AWS/States"
        and m["MetricStat"]["Metric"]["Dimensions"]
        == [{"Name": "StateMachineArn", "Value": {"Ref": f"{workflow}StateMachine"}}]
    }
    assert watched == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    (summed,) = [m for m in metrics.values() if m.get("ReturnData")]
    assert summed["Expression"] == "SUM([failed, timedOut, aborted])"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]
    assert workflow.lower() in alarm["AlarmDescription"]


# ---------------------------------------------------------------- who may publish to the alerts topic


def _arn(value) -> str:
    """A role's !GetAtt X.Arn as a concrete ARN (the logical ID stands for the role's name here); a role
    deployed under a condition (!If [Has..., !GetAtt X.Arn, !Ref AWS::NoValue]) as when it is deployed."""
    if isinstance(value, dict) and "Fn::If" in value:
        value = value["Fn::If"][1]
    return f"arn:aws:iam::{ACCT}:role/{value['Fn::GetAtt'][0]}" if isinstance(value, dict) else value


def _publishers(template) -> set[str]:
    """The roles whose own policies grant sns:Publish on the alerts topic."""
    out = set()
    for logical_id, res in template["Resources"].items():
        for policy in (
            res.get("Properties", {}).get("Policies", []) if res["Type"] == "AWS::IAM::Role" else []
        ):
            for st in policy["PolicyDocument"]["Statement"]:
                if st.get("Action") == "sns:Publish" and st.get("Resource") == {"Ref": "AlertsTopic"}:
                    out.add(f"arn:aws:iam::{ACCT}:role/{logical_id}")
    return out


@pytest.fixture(scope="module")
def topic_policy(template):
    res = template["Resources"]["AlertsTopicPolicy"]
    assert res["Type"] == "AWS::SNS::TopicPolicy" and res["Properties"]["Topics"] == [{"Ref": "AlertsTopic"}]
    return {st["Sid"]: st for st in res["Properties"]["PolicyDocument"]["Statement"]}


def denied(
    deny: dict,
    principal_arn: str | None = None,
    service_name: str | None = None,
    source_arn: str | None = None,
) -> bool:
    """IAM's documented reading of the two negated operators the Deny uses: a key absent from the request
    makes ArnNotEquals / StringNotEquals true; the conditions of a statement all hold for it to apply.
    (moto does not evaluate SNS topic policies, so this reads the document, nothing more.)"""
    context = {
        "aws:PrincipalArn": principal_arn,
        "aws:PrincipalServiceName": service_name,
        "aws:SourceArn": source_arn,
    }
    assert set(deny["Condition"]) == {"ArnNotEquals", "StringNotEquals"}
    for conditions in deny["Condition"].values():
        for key, values in conditions.items():
            values = [_arn(v) for v in (values if isinstance(values, list) else [values])]
            if context[key] is not None and context[key] in values:
                return False
    return True


def test_only_leash_roles_and_its_alarms_may_publish_alerts(template, topic_policy):
    publishers = _publishers(template)
    assert len(publishers) == 7  # notify, reapply, spikes, lockdown, release, health, reconcile
    allow = topic_policy["LeashRolesPublish"]
    assert {_arn(a) for a in allow["Principal"]["AWS"]} == publishers
    alarms = topic_policy["LeashAlarmsPublish"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert alarms["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"].endswith(":alarm:${AWS::StackName}-*")
    deny = topic_policy["NobodyElsePublishes"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sns:Publish")
    assert {_arn(a) for a in deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]} == publishers


def test_anyone_else_in_the_account_is_denied_publishing(topic_policy):
    deny = topic_policy["NobodyElsePublishes"]
    for leash_role in topic_policy["LeashRolesPublish"]["Principal"]["AWS"]:
        assert not denied(deny, principal_arn=_arn(leash_role))
    assert not denied(deny, service_name="cloudwatch.amazonaws.com")
    assert denied(
        deny, principal_arn=f"arn:aws:iam::{ACCT}:role/ai-agent-deploy"
    )  # a forged "LOCKDOWN applied"
    assert denied(deny, principal_arn=f"arn:aws:iam::{ACCT}:user/platform-admin")
    assert denied(deny, principal_arn=f"arn:aws:iam::{ACCT}:root")
    assert denied(deny, service_name="events.amazonaws.com")
    # EventBridge publishes for the forwarders' alarm rule only (README "Every region"); any other rule is denied.
    forwarder_alarms = _arn({"Fn::GetAtt": ["ForwarderAlarmsRule", "Arn"]})
    assert not denied(deny, service_name="events.amazonaws.com", source_arn=forwarder_alarms)
    other_rule = f"arn:aws:events:us-east-1:{ACCT}:rule/agent-made-rule"
    assert denied(deny, service_name="events.amazonaws.com", source_arn=other_rule)


def test_the_topic_policy_governs_publishing_and_leaves_subscriptions_to_the_deployers(
    template, topic_policy
):
    # Subscriptions and attributes: only the break-glass principal and the deployer (tests/unit/test_hardening.py).
    publishing = dict(topic_policy)
    changes = publishing.pop("OnlyBreakGlassOrDeployerChangesTheTopic")
    assert changes["Effect"] == "Deny" and "sns:Publish" not in changes["Action"]
    assert {st["Action"] for st in publishing.values()} == {"sns:Publish"}
    # The alarms can still encrypt for the KMS-encrypted topic.
    key = template["Resources"]["LeashKey"]["Properties"]["KeyPolicy"]["Statement"]
    (alarms,) = [st for st in key if st["Sid"] == "AlarmsPublishToEncryptedTopic"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
