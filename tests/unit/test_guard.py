"""`leash scp`: the policy that lets only the deployers change Leash covers what template.yaml deploys."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pytest
from typer.testing import CliRunner

from leash_cli.guard import SCP_CHARACTERS, protection_policy, render
from leash_cli.main import app
from leash_cli.template import deployment_for, load_template

ACCOUNT, REGION, STACK = "111122223333", "eu-west-1", "leash-prod"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/github-deploy"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:leash/slack-AbCdEf"
PARAMETERS = {"ResourcePrefix": "leash", "SlackWebhookSecretArn": SECRET}


@pytest.fixture(scope="module")
def template():
    return load_template()


@pytest.fixture(scope="module")
def statement(template):
    policy = protection_policy(
        template, PARAMETERS, account=ACCOUNT, region=REGION, stack_name=STACK, deployers=[DEPLOYER]
    )
    (statement,) = policy["Statement"]
    return statement


def denied(statement, action: str, arn: str) -> bool:
    """Whether the statement's Action and Resource match (IAM's wildcards: * and ?, case-sensitive ARNs)."""
    service, name = action.split(":")
    actions = any(
        fnmatchcase(f"{service}:{name}".lower(), pattern.lower()) for pattern in statement["Action"]
    )
    return actions and any(fnmatchcase(arn, pattern) for pattern in statement["Resource"])


def test_fits_in_one_scp_and_is_a_deny_with_the_deployers_exempt(template, statement):
    policy = protection_policy(
        template, PARAMETERS, account=ACCOUNT, region=REGION, stack_name=STACK, deployers=[DEPLOYER]
    )
    assert len(render(policy)) <= SCP_CHARACTERS
    assert statement["Effect"] == "Deny"
    assert statement["Condition"]["ArnNotLike"] == {"aws:PrincipalArn": [DEPLOYER]}
    assert statement["Condition"]["ForAllValues:StringNotEquals"] == {
        "aws:CalledVia": ["cloudformation.amazonaws.com"]
    }
    assert not any("*" == action or action.endswith(":*") for action in statement["Action"])


def test_every_leash_role_and_any_role_posing_as_one_is_covered(template, statement):
    deployment = deployment_for(template, PARAMETERS, account=ACCOUNT, region=REGION, stack_name=STACK)
    roles = [
        deployment.resolve(resource["Properties"]["RoleName"])
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Role"
    ]
    assert len(roles) >= 6
    for name in [*roles, "leash-backdoor"]:
        arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        assert denied(statement, "iam:PutRolePolicy", arn), name
        assert denied(statement, "iam:UpdateAssumeRolePolicy", arn), name
    assert denied(statement, "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/leash-backdoor")
    assert not denied(statement, "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/ai-agent-deploy")


def test_the_names_cloudformation_gives_leash_resources_are_covered(template, statement):
    """Generated names: "<stack>-<logical ID>-<random>"; state machines "<logical ID>-<random>"."""
    resources = template["Resources"]
    functions = [k for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"]
    machines = [k for k, v in resources.items() if v["Type"] == "AWS::Serverless::StateMachine"]
    region = f"{REGION}:{ACCOUNT}"
    cases = [
        ("cloudformation:DeleteStack", f"arn:aws:cloudformation:{region}:stack/{STACK}/0a1b2c3d"),
        ("cloudformation:UpdateTerminationProtection", f"arn:aws:cloudformation:{region}:stack/{STACK}/0a1b"),
        *[
            ("lambda:PutFunctionConcurrency", f"arn:aws:lambda:{region}:function:{STACK}-{f}-AbC123")
            for f in functions
        ],
        *[
            ("lambda:UpdateFunctionCode", f"arn:aws:lambda:{region}:function:{STACK}-{f}-AbC123")
            for f in functions
        ],
        (
            "events:RemoveTargets",
            f"arn:aws:events:{region}:rule/{STACK}-NotifyFunctionDestructiveCompute1-X1",
        ),
        ("events:PutRule", f"arn:aws:events:{region}:rule/{STACK}-leash/{STACK}-LockdownRequests-X1"),
        ("events:PutPermission", f"arn:aws:events:{region}:event-bus/{STACK}-leash"),
        ("sns:Unsubscribe", f"arn:aws:sns:{region}:{STACK}-AlertsTopic-AbC123"),
        ("sns:SetTopicAttributes", f"arn:aws:sns:{region}:{STACK}-AlertsTopic-AbC123"),
        ("sqs:PurgeQueue", f"arn:aws:sqs:{region}:{STACK}-SlackDeadLetterQueue-AbC123"),
        ("dynamodb:DeleteTable", f"arn:aws:dynamodb:{region}:table/{STACK}-LedgerTable-AbC123"),
        ("logs:DeleteLogGroup", f"arn:aws:logs:{region}:log-group:/leash/{STACK}/notify"),
        *[
            ("states:UpdateStateMachine", f"arn:aws:states:{region}:stateMachine:{m}-AbC123")
            for m in machines
        ],
        ("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:{region}:alarm:{STACK}-SlackUndeliveredAlarm-AbC"),
        ("secretsmanager:PutSecretValue", SECRET),
    ]
    assert machines and functions
    for action, arn in cases:
        assert denied(statement, action, arn), (action, arn)
    # What Leash's roles and responders do stays allowed: publishing, writing records, starting workflows.
    assert not denied(statement, "sns:Publish", f"arn:aws:sns:{region}:{STACK}-AlertsTopic-AbC123")
    assert not denied(statement, "dynamodb:PutItem", f"arn:aws:dynamodb:{region}:table/{STACK}-LedgerTable-X")
    assert not denied(
        statement, "states:StartExecution", f"arn:aws:states:{region}:stateMachine:{machines[0]}-X"
    )
    # Another stack's resources are not Leash's.
    assert not denied(statement, "lambda:DeleteFunction", f"arn:aws:lambda:{region}:function:payments-api")


def test_cli_prints_the_policy_from_template_and_parameters(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "scp",
            "--account", ACCOUNT,
            "--region", REGION,
            "--stack-name", STACK,
            "--samconfig", str(tmp_path / "none.toml"),
            "--deployer", DEPLOYER,
            "--deployer", f"arn:aws:iam::{ACCOUNT}:role/breakglass-admin",
            "-p", f"SlackWebhookSecretArn={SECRET}",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    policy = json.loads(result.stdout)
    (statement,) = policy["Statement"]
    assert statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"][1].endswith("role/breakglass-admin")
    assert SECRET in statement["Resource"]


def test_no_deployer_is_refused(template):
    with pytest.raises(ValueError, match="deployer"):
        protection_policy(template, {}, account=ACCOUNT, region=REGION, stack_name=STACK, deployers=[])
