"""A service control policy that denies changes to Leash's own resources to everyone but its deployers.

Built offline from template.yaml and the deploy parameters (the names CloudFormation gives Leash's
resources follow from the stack name, the region and ResourcePrefix), so it can be reviewed before it
is attached. Its one Deny statement also works in an agent role's permissions boundary or an identity
policy. Leash's key is not in it: the key's own policy already refuses those calls (template.yaml).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from leash_build.cfn import SLACK_SECRETS
from leash_cli.template import deployment_for

SCP_CHARACTERS = 5_120  # AWS Organizations' limit on one service control policy

# What changes Leash: deleting, disabling, rewriting, muting or redirecting a part of it. Reads, Publish,
# PutItem, StartExecution and log writes are what Leash's own roles and its responders do: not here.
CHANGES = (
    "cloudformation:DeleteStack",
    "cloudformation:UpdateStack",
    "cloudformation:CreateChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:UpdateTerminationProtection",
    "cloudformation:SetStackPolicy",
    "lambda:Delete*",
    "lambda:Update*",
    "lambda:Put*",
    "lambda:AddPermission",
    "lambda:RemovePermission",
    "lambda:CreateEventSourceMapping",
    "events:DeleteRule",
    "events:DisableRule",
    "events:PutRule",
    "events:PutTargets",
    "events:RemoveTargets",
    "events:DeleteEventBus",
    "events:PutPermission",
    "events:RemovePermission",
    "sns:DeleteTopic",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
    "sns:Unsubscribe",
    "sns:SetSubscriptionAttributes",
    "sns:AddPermission",
    "sns:RemovePermission",
    "sqs:DeleteQueue",
    "sqs:PurgeQueue",
    "sqs:SetQueueAttributes",
    "sqs:AddPermission",
    "sqs:RemovePermission",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
    "dynamodb:UpdateTimeToLive",
    "dynamodb:UpdateContinuousBackups",
    "dynamodb:PutResourcePolicy",
    "dynamodb:DeleteResourcePolicy",
    "logs:DeleteLogGroup",
    "logs:DeleteLogStream",
    "logs:PutRetentionPolicy",
    "logs:DeleteRetentionPolicy",
    "logs:AssociateKmsKey",
    "logs:DisassociateKmsKey",
    "logs:PutSubscriptionFilter",
    "logs:DeleteSubscriptionFilter",
    "states:DeleteStateMachine",
    "states:UpdateStateMachine",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:DisableAlarmActions",
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:SetAlarmState",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecret",
    "secretsmanager:DeleteSecret",
    "secretsmanager:PutResourcePolicy",
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:UpdateRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:PassRole",
)


def leash_resources(template: Mapping[str, Any], deployment: Any, partition: str = "aws") -> list[str]:
    """The ARNs (with wildcards where CloudFormation adds a random suffix) of what this stack deploys."""
    stack, region, account = deployment.stack_name, deployment.region, deployment.account
    prefix = deployment.parameters.get("ResourcePrefix", "leash")

    def arn(service: str, resource: str, where: str = region) -> str:
        return f"arn:{partition}:{service}:{where}:{account}:{resource}"

    # SAM names a state machine "<logical ID>-<random>" unless the template names it.
    machines = [
        arn("states", f"stateMachine:{logical_id}-*")
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Serverless::StateMachine"
    ]
    resources = [
        arn("cloudformation", f"stack/{stack}/*"),
        arn("lambda", f"function:{stack}-*"),
        arn(
            "events", f"rule/{stack}-*"
        ),  # on the default bus, and every rule on Leash's bus ("<stack>-leash")
        arn("events", f"event-bus/{stack}-leash"),
        arn("sns", f"{stack}-*"),
        arn("sqs", f"{stack}-*"),
        arn("dynamodb", f"table/{stack}-*"),
        arn("logs", f"log-group:/leash/{stack}/*"),
        *machines,
        arn("cloudwatch", f"alarm:{stack}-*"),
        # Every role named like Leash's, existing or not: creating one is how an agent would pose as Leash.
        arn("iam", f"role/{prefix}-*", where=""),
    ]
    resources += [str(deployment.parameters.get(p) or "") for p in SLACK_SECRETS]
    return [r for r in resources if r]


def protection_policy(
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    *,
    account: str,
    region: str,
    stack_name: str,
    deployers: Sequence[str],
) -> dict[str, Any]:
    """The policy: changes to Leash's resources denied unless made by a deployer (the deploy role, the
    break-glass principal) or by CloudFormation on their behalf."""
    if not deployers:
        raise ValueError(
            "name at least one deployer (the role that runs sam deploy), or nobody could update Leash"
        )
    deployment = deployment_for(template, parameters, account=account, region=region, stack_name=stack_name)
    partition = (
        "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyDeployersChangeLeash",
                "Effect": "Deny",
                "Action": list(CHANGES),
                "Resource": leash_resources(template, deployment, partition),
                "Condition": {
                    "ArnNotLike": {"aws:PrincipalArn": list(deployers)},
                    # CloudFormation acting for a deployer (a plain `sam deploy`); missing: a direct call.
                    "ForAllValues:StringNotEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]},
                },
            }
        ],
    }


def render(policy: Mapping[str, Any], *, pretty: bool = False) -> str:
    """As AWS takes it: compact by default (an SCP counts whitespace against its 5,120 characters)."""
    if pretty:
        return json.dumps(policy, indent=2)
    return json.dumps(policy, separators=(",", ":"))
