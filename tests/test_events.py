"""Every sample in events/ goes through the template's rules and the real notify handler.

Like StreamAlert's rule fixtures, the table states what must happen to each event:
which rules of template.yaml match it, what the handler does, and what the alert says.
"""

from __future__ import annotations

import json

import boto3
import pytest

from conftest import EVENTS, load_event, load_handler
from leash.alerts import Alert, render_slack
from leash_cli.template import Router

# event file -> (rules that match, handler status, severity, phrases the alert must contain)
EXPECTED = {
    "rds-delete-db-instance-skip-final-snapshot-by-agent": (
        ["DestructiveData"], "published", "critical",
        ["agent ai-agent-deploy deleted DB instance prod-db", "final snapshot skipped", "us-east-1",
         "session sess_a8f3b21c", "source identity jordan@example.com"]),
    "ec2-terminate-instances-by-human": (
        ["DestructiveCompute"], "published", "medium",
        ["terminated instance i-0a1b2c3d4e5f60718", "session alice@example.com", "eu-west-1"]),
    "s3-delete-bucket-via-mcp": (
        ["DestructiveData"], "published", "critical",
        ["agent developer-sandbox deleted bucket nightly-db-backups", "called through the AWS MCP server"]),
    "iam-attach-role-policy-by-agent": (
        ["AgentSensitiveIdentityIam"], "published", "medium",
        ["agent ai-agent-deploy attached a policy to role ai-agent-deploy", "role name starts with ai-agent-"]),
    "cloudtrail-stop-logging-by-agent": (
        ["DestructiveAudit"], "published", "critical",
        ["stopped CloudTrail logging of arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail", "covering tracks"]),
    "ec2-delete-subnet-by-exempt-role": (
        ["DestructiveCompute"], "published", "low",
        ["exempt breakglass-admin deleted subnet subnet-0f1e2d3c4b5a69788", "alert only, never remediated"]),
    "s3-put-bucket-policy-by-root": (
        ["RootActivity"], "published", "critical",
        ["root user replaced the bucket policy of customer-uploads", "root cannot be restricted by IAM"]),
    "rds-modify-db-instance-by-leash": ([], "ignored", None, ["made by leash leash-notify-us-east-1"]),
    "dynamodb-delete-table-denied": ([], "ignored", None, ["the call failed (AccessDenied)"]),
    "guardduty-update-detector-disable-by-agent": (
        ["DestructiveAudit"], "published", "high", ["agent ai-agent-deploy disabled GuardDuty detector"]),
    "secretsmanager-delete-secret-force-by-iam-user": (
        ["DestructiveIdentity"], "published", "critical",
        ["human bob deleted secret prod/payments/stripe-key", "deleted without a recovery window"]),
    "ec2-terminate-instances-by-autoscaling": (
        ["DestructiveCompute"], "ignored", None, ["made by aws-service autoscaling.amazonaws.com"]),
    "lambda-delete-function-by-tagged-agent-role": (
        ["DestructiveCompute"], "published", "high",
        ["agent data-pipeline-bot deleted Lambda function stripe-webhook-processor", "role tag Usage=Agent"]),
    "rds-modify-db-instance-class-by-agent": (
        ["AgentSensitiveDataModifyDBInstance"], "published", "medium",
        ["changed the instance class of analytics-db to db.r6g.4xlarge"]),
    "rds-modify-db-instance-backup-window-by-agent": ([], "ignored", None, ["not in the catalog"]),
    "cloudformation-delete-stack-by-agent": (
        ["DestructivePlatform"], "published", "high", ["deleted CloudFormation stack webhooks-prod"]),
    "ec2-authorize-security-group-ingress-by-agent": (
        ["AgentSensitiveComputeEc2"], "published", "medium", ["opened ingress on security group sg-0123456789abcdef0"]),
    "kms-schedule-key-deletion-by-agent": (
        ["DestructiveIdentity"], "published", "critical",
        ["scheduled deletion of KMS key arn:aws:kms:us-east-1:111122223333:key/1234abcd", "in 7 days"]),
    "malformed-ec2-state-change-notification": (
        [], "rejected", None, ["detail-type is 'EC2 Instance State-change Notification'"]),
}  # fmt: skip


def test_every_sample_event_is_exercised():
    assert sorted(p.stem for p in EVENTS.glob("*.json")) == sorted(EXPECTED)


@pytest.fixture(scope="module")
def router():
    return Router.from_template()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_template_rules_route_the_event(router, name):
    rules, *_ = EXPECTED[name]
    assert [r.name for r in router.route(load_event(name))] == rules


@pytest.fixture
def notify(notify_stack):
    # The role whose only agent signal is its Usage=Agent tag.
    iam = boto3.client("iam")
    iam.create_role(RoleName="data-pipeline-bot", AssumeRolePolicyDocument="{}", Tags=[{"Key": "Usage", "Value": "Agent"}])
    return load_handler("notify"), notify_stack[1]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notify_handler_does_what_the_event_deserves(notify, lambda_context, name):
    handler, inbox = notify
    _, status, severity, phrases = EXPECTED[name]

    result = handler.lambda_handler(load_event(name), lambda_context)

    assert result["status"] == status
    assert result["severity"] == severity
    delivered = inbox.drain()
    if status != "published":
        assert delivered == []
        for phrase in phrases:
            assert phrase in result["reason"]
        return
    assert len(delivered) == 1
    envelope = delivered[0]
    alert = Alert.from_dict(json.loads(envelope["Message"]))  # SQS subscribers get the JSON body
    slack_text = json.dumps(render_slack(alert))
    assert envelope["Subject"].startswith(f"[Leash {severity.upper()}]")
    for phrase in phrases:
        assert phrase in slack_text, phrase
