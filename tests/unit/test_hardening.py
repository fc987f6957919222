"""template.yaml makes tampering with Leash hard, not only visible (#16): who may rewrite the key and the
topic, what survives a stack deletion, and how much of the account a public endpoint may use."""

from __future__ import annotations

import pytest

from leash_cli.template import deployment_for, load_template

STATEFUL = (
    "AWS::KMS::Key",
    "AWS::SNS::Topic",
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::Logs::LogGroup",
)
ACCOUNT = "111122223333"


@pytest.fixture(scope="module")
def template():
    return load_template()


def statement(policy: dict, sid: str) -> dict:
    (found,) = [s for s in policy["Statement"] if s.get("Sid") == sid]
    return found


def exempt(template, statement_: dict, **parameters: str) -> list[str]:
    deployment = deployment_for(template, parameters, account=ACCOUNT)
    return [a for a in deployment.resolve(statement_["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]) if a]


def test_only_break_glass_deploy_role_or_cloudformation_rewrite_the_key(template):
    policy = template["Resources"]["LeashKey"]["Properties"]["KeyPolicy"]
    deny = statement(policy, "OnlyBreakGlassOrDeployerRewritesTheKey")
    assert deny["Effect"] == "Deny"
    assert {"kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"} <= set(deny["Action"])
    assert deny["Condition"]["ForAllValues:StringNotEquals"] == {
        "aws:CalledVia": "cloudformation.amazonaws.com"
    }
    # No break-glass parameter: the account's root user; with one, that principal and the deploy role.
    assert exempt(template, deny) == [f"arn:aws:iam::{ACCOUNT}:root"]
    glass, deployer = (
        f"arn:aws:iam::{ACCOUNT}:role/breakglass-admin",
        f"arn:aws:iam::{ACCOUNT}:role/cfn-deploy",
    )
    assert exempt(template, deny, BreakGlassPrincipalArn=glass, DeployRoleArn=deployer) == [glass, deployer]


def test_only_break_glass_deploy_role_or_cloudformation_change_the_topic(template):
    policy = template["Resources"]["AlertsTopicPolicy"]["Properties"]["PolicyDocument"]
    deny = statement(policy, "OnlyBreakGlassOrDeployerChangesTheTopic")
    assert {"sns:Subscribe", "sns:SetTopicAttributes", "sns:DeleteTopic"} <= set(deny["Action"])
    key_deny = statement(
        template["Resources"]["LeashKey"]["Properties"]["KeyPolicy"], "OnlyBreakGlassOrDeployerRewritesTheKey"
    )
    assert deny["Condition"] == key_deny["Condition"]  # one rule for who may change Leash's key and topic
    publish = statement(policy, "NobodyElsePublishes")
    assert publish["Effect"] == "Deny" and publish["Action"] == "sns:Publish"


def test_stateful_resources_are_retained_and_tables_protected(template):
    stateful = {k: v for k, v in template["Resources"].items() if v["Type"] in STATEFUL}
    assert len(stateful) >= 14
    for logical_id, resource in stateful.items():
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == (
            "Retain",
            "Retain",
        ), logical_id
        if resource["Type"] == "AWS::DynamoDB::Table":
            assert resource["Properties"]["DeletionProtectionEnabled"] is True, logical_id


def test_the_public_interactions_endpoint_has_reserved_concurrency(template):
    props = template["Resources"]["InteractionsFunction"]["Properties"]
    assert props["FunctionUrlConfig"]["AuthType"] == "NONE"
    assert 0 < props["ReservedConcurrentExecutions"] <= 10


def test_the_forwarder_subscription_has_no_filter_policy_so_alarms_reach_slack(template):
    """CloudWatch publishes alarms without message attributes, and SNS matches an attribute filter policy
    against no such message, not even {"exists": false} (AWS, "Key matching"): a filter here would keep every
    alarm (heartbeat missing, a function failing) out of Slack. The forwarder skips posted_to_slack itself
    (test_second_path)."""
    alerts = template["Resources"]["SlackForwarderFunction"]["Properties"]["Events"]["Alerts"]["Properties"]
    assert "FilterPolicy" not in alerts and "FilterPolicyScope" not in alerts
