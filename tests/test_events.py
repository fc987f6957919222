"""Every sample in events/ goes through the template's rules and the real notify handler.

Like StreamAlert's rule fixtures, the table states what must happen to each event:
which rules of template.yaml match it, what the handler does, and what the alert says.
"""

from __future__ import annotations

import json

import boto3
import pytest
from conftest import BOUNDARY_ARN, EVENTS, FUNCTION_DIRS, GUARDRAIL_POLICY_ARN, load_event, load_handler

from leash.alerts import Alert
from leash.slack_blocks import render_slack
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
        ["ReapplyAudit"], "published", "critical",
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
        ["human bob deleted secret prod/payments/stripe-key without a recovery window"]),
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
        ["ReapplyAgentComputeEc2"], "published", "high",
        ["opened ingress on security group sg-0123456789abcdef0", "opened to the whole internet"]),
    "kms-schedule-key-deletion-by-agent": (
        ["ReapplyIdentity"], "published", "critical",
        ["scheduled deletion of KMS key arn:aws:kms:us-east-1:111122223333:key/1234abcd", "in 7 days"]),
    # Protections stripped: the reapply function owns these (tests/test_reapply.py puts each one back on
    # moto; here no resource exists, so the alert says it is gone).
    "cloudformation-update-termination-protection-disabled-by-agent": (
        ["ReapplyPlatform"], "published", "high", ["disabled termination protection on stack webhooks-prod"]),
    "cloudtrail-put-event-selectors-without-management-events-by-agent": (
        ["ReapplyAudit"], "published", "critical", ["dropped management events from CloudTrail trail org-trail"]),
    "cloudtrail-update-trail-single-region-by-agent": (
        ["ReapplyAudit"], "published", "critical", ["weakened CloudTrail trail org-trail"]),
    "config-stop-configuration-recorder-by-agent": (
        ["ReapplyAudit"], "published", "high", ["stopped AWS Config recorder default"]),
    "dynamodb-update-table-disable-deletion-protection-by-agent": (
        ["ReapplyData1"], "published", "high", ["disabled deletion protection on orders"]),
    "ec2-disable-ebs-encryption-by-default-by-agent": (
        ["ReapplyCompute"], "published", "high", ["disabled EBS encryption by default", "eu-west-1"]),
    "ec2-modify-instance-attribute-disable-termination-protection-by-agent": (
        ["ReapplyCompute"], "published", "high", ["disabled termination protection on i-0b5a7e1c2d3f40516"]),
    "iam-delete-role-permissions-boundary-by-agent": (
        ["ReapplyIdentity"], "published", "high", ["removed the permissions boundary of role ai-agent-deploy"]),
    "iam-detach-role-policy-guardrail-by-agent": (
        ["ReapplyIdentity"], "published", "high",
        ["detached guardrail policy from role ai-agent-deploy (arn:aws:iam::111122223333:policy/agent-guardrail-deny)"]),
    "iam-put-role-permissions-boundary-replaced-by-human": (
        ["ReapplyIdentity"], "published", "medium", ["replaced the permissions boundary of role ai-agent-deploy"]),
    "kms-disable-key-by-agent": (["ReapplyIdentity"], "published", "high", ["disabled KMS key"]),
    "rds-modify-db-cluster-disable-deletion-protection-by-agent": (
        ["ReapplyData1"], "published", "high", ["disabled deletion protection on prod-aurora"]),
    "rds-modify-db-instance-disable-deletion-protection-by-agent": (
        ["ReapplyData1"], "published", "high", ["agent ai-agent-deploy disabled deletion protection on prod-db"]),
    "rds-modify-db-instance-disable-deletion-protection-by-exempt-role": (
        ["ReapplyData1"], "published", "low", ["Exempt principal: Leash did not touch"]),
    "s3-delete-account-public-access-block-by-agent": (
        ["ReapplyData2"], "published", "high", ["removed the account-wide S3 public access block"]),
    "s3-delete-bucket-public-access-block-by-agent": (
        ["ReapplyData2"], "published", "high", ["removed the public access block of customer-uploads"]),
    "s3-put-bucket-public-access-block-weakened-by-human": (
        ["ReapplyData2"], "published", "medium", ["weakened the public access block of customer-uploads"]),
    "s3-put-bucket-versioning-suspended-by-agent": (
        ["ReapplyData2"], "published", "high", ["suspended versioning on nightly-db-backups"]),
    "secretsmanager-delete-secret-with-recovery-window-by-agent": (
        ["ReapplyIdentity"], "published", "high",
        ["deleted secret prod/payments/stripe-key (recovery window 7 days)"]),
    "malformed-ec2-state-change-notification": (
        [], "rejected", None, ["detail-type is 'EC2 Instance State-change Notification'"]),
}  # fmt: skip


def test_every_sample_event_is_exercised():
    assert sorted(p.stem for p in EVENTS.glob("*.json")) == sorted(EXPECTED)


@pytest.fixture(scope="module")
def router():
    # The deploy parameters that the handlers' environment mirrors (tests/conftest.py).
    return Router.from_template(
        overrides={
            "GuardrailPolicyArns": GUARDRAIL_POLICY_ARN,
            "AgentPermissionsBoundaryArn": BOUNDARY_ARN,
            "ExemptPrincipalArns": "arn:aws:iam::111122223333:role/breakglass-admin",
        }
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_template_rules_route_the_event(router, name):
    rules, *_ = EXPECTED[name]
    event = load_event(name)
    routed = router.route(event)
    assert [r.name for r in routed if r.function != "SpikeQueue"] == rules
    # The spike detector's queue gets every agent call and every denied call (tests/test_spikes.py).
    spike = {r.name for r in routed if r.function == "SpikeQueue"}
    detail = event.get("detail", {})
    assert ("DeniedCallsRule" in spike) is (detail.get("errorCode") == "AccessDenied")


@pytest.fixture
def handlers(notify_stack):
    # The role whose only agent signal is its Usage=Agent tag.
    iam = boto3.client("iam")
    iam.create_role(
        RoleName="data-pipeline-bot", AssumeRolePolicyDocument="{}", Tags=[{"Key": "Usage", "Value": "Agent"}]
    )
    return {fn: load_handler(d) for fn, d in FUNCTION_DIRS.items()}, notify_stack[1]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_handler_does_what_the_event_deserves(router, handlers, lambda_context, name):
    functions, inbox = handlers
    _, status, severity, phrases = EXPECTED[name]
    event = load_event(name)
    # The function its rules target; events no rule matches still get a clean answer from notify.
    targets = {r.function for r in router.route(event) if r.function != "SpikeQueue"} or {"NotifyFunction"}
    assert len(targets) == 1

    result = functions[targets.pop()].lambda_handler(event, lambda_context)

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
