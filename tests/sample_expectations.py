"""What must happen to each sample in events/: the table tests/functional/test_events.py and the replay
tests read, like StreamAlert's rule fixtures."""

# event file -> (rules that match, handler status, severity, phrases the alert must contain)
EXPECTED = {
    "rds-delete-db-instance-skip-final-snapshot-by-agent": (
        ["DestructiveData1"], "published", "critical",
        ["agent ai-agent-deploy deleted DB instance prod-db", "final snapshot skipped", "us-east-1",
         "session sess_a8f3b21c", "for jordan@example.com (source identity)"]),
    "ec2-terminate-instances-by-human": (
        ["DestructiveCompute1"], "published", "medium",
        ["terminated instance i-0a1b2c3d4e5f60718", "human alice@example.com (via SSO permission set AdministratorAccess)", "eu-west-1"]),
    "s3-delete-bucket-via-mcp": (
        ["DestructiveData1"], "published", "critical",
        ["agent developer-sandbox deleted bucket nightly-db-backups", "called through the AWS MCP server"]),
    "iam-attach-role-policy-by-agent": (
        ["DestructiveIdentity1"], "published", "high",
        ["agent ai-agent-deploy attached AdministratorAccess to role ai-agent-deploy", "role name starts with ai-agent-",
         "full administrator access granted"]),
    # Privilege changes are routed for every caller; the handler reads the Usage=Agent tag (moto IAM) and decides.
    "iam-attach-role-policy-by-tagged-agent-role": (
        ["DestructiveIdentity1"], "published", "high",
        ["agent data-pipeline-bot attached AdministratorAccess to role data-pipeline-bot (arn:aws:iam::aws:policy/AdministratorAccess)",
         "role tag Usage=Agent", "full administrator access granted"]),
    # An inline policy allowing * on *: the document is a JSON string no pattern can read, so the handler parses it.
    "iam-put-role-policy-admin-by-agent": (
        ["DestructiveIdentity1"], "published", "high",
        ["agent ai-agent-deploy put inline administrator policy unblock-deploy (* on *) on role ai-agent-deploy",
         "full administrator access granted (Action * on Resource *)"]),
    "iam-attach-role-policy-by-human": (
        ["DestructiveIdentity1"], "ignored", None, ["iam:AttachRolePolicy is sensitive only when an agent"]),
    "cloudtrail-stop-logging-by-agent": (
        ["ReapplyAudit"], "published", "critical",
        ["stopped CloudTrail logging of arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail", "covering tracks",
         "Leash requested a lockdown"]),
    "ec2-delete-subnet-by-exempt-role": (
        ["DestructiveCompute1"], "published", "low",
        ["exempt breakglass-admin deleted subnet subnet-0f1e2d3c4b5a69788", "alert only, never remediated"]),
    "s3-put-bucket-policy-by-root": (
        ["DestructiveData1", "RootActivity"], "published", "critical",
        ["root user replaced the bucket policy of customer-uploads", "root cannot be restricted by IAM"]),
    "rds-modify-db-instance-by-leash": ([], "ignored", None, ["made by leash leash-notify-us-east-1"]),
    "dynamodb-delete-table-denied": ([], "ignored", None, ["the call failed (AccessDenied)"]),
    "guardduty-update-detector-disable-by-agent": (
        ["DestructiveAudit1"], "published", "critical",
        ["agent ai-agent-deploy disabled GuardDuty detector", "covering tracks", "Leash requested a lockdown"]),
    # An agent on an IAM user's long-lived keys (AgentUserNames=ci-agent-bot, tests/conftest.py SAMPLE_PARAMETERS):
    # an agent-only rule routes it and the handler agrees it is an agent's call.
    "iam-create-user-by-agent-user": (
        ["AgentSensitiveIdentityIam"], "published", "medium",
        ["agent ci-agent-bot created IAM user backup-operator", "user ci-agent-bot is a named agent user"]),
    # A secret named without its ARN may be Leash's (its ARN's random suffix hides the name from a pattern):
    # the tamper rules route it too, and the handler finds it is not Leash's.
    "secretsmanager-delete-secret-force-by-iam-user": (
        ["DestructiveIdentity", "Tamper9"], "published", "critical",
        ["human bob deleted secret prod/payments/stripe-key without a recovery window"]),
    "ec2-terminate-instances-by-autoscaling": (
        ["DestructiveCompute1"], "ignored", None, ["made by aws-service autoscaling.amazonaws.com"]),
    "lambda-delete-function-by-tagged-agent-role": (
        ["DestructiveCompute1"], "published", "high",
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
    # The same call in its other shapes (leash.ingress): flat top-level cidrIp from an SDK call, IPv6 only,
    # and a private range, which stays an ordinary sensitive change with nothing to revoke.
    "ec2-authorize-security-group-ingress-flat-cidr-by-agent": (
        ["ReapplyAgentComputeEc2"], "published", "high",
        ["agent ai-agent-deploy opened ingress on security group sg-0123456789abcdef0",
         "opened to the whole internet"]),
    "ec2-authorize-security-group-ingress-ipv6-by-agent": (
        ["ReapplyAgentComputeEc2"], "published", "high",
        ["opened ingress on security group sg-0123456789abcdef0", "opened to the whole internet"]),
    "ec2-authorize-security-group-ingress-private-range-by-agent": (
        ["ReapplyAgentComputeEc2"], "published", "medium",
        ["agent ai-agent-deploy opened ingress on security group sg-0123456789abcdef0",
         "Nothing to put back: no rule open to the whole internet"]),
    "kms-schedule-key-deletion-by-agent": (
        ["ReapplyIdentity1"], "published", "critical",
        ["scheduled deletion of KMS key arn:aws:kms:us-east-1:111122223333:key/1234abcd", "in 7 days"]),
    # Another account (userIdentity.type AWSAccount: no ARN) let in by the key policy.
    "kms-schedule-key-deletion-by-other-account": (
        ["ReapplyIdentity1"], "published", "critical",
        ["external account 444455556666 scheduled deletion of KMS key arn:aws:kms:us-east-1:111122223333:key/1234abcd",
         "principal AIDA6EXAMPLEOTHERACCT", "another AWS account (444455556666)"]),
    # Protections stripped: the reapply function owns these (tests/functional/test_reapply.py puts each one back on
    # moto; here no resource exists, so the alert says it is gone).
    "cloudformation-update-termination-protection-disabled-by-agent": (
        ["ReapplyPlatform"], "published", "high", ["disabled termination protection on stack webhooks-prod"]),
    "cloudtrail-put-event-selectors-without-management-events-by-agent": (
        ["ReapplyAudit"], "published", "critical",
        ["dropped management events from CloudTrail trail org-trail", "covering tracks", "Leash requested a lockdown"]),
    "cloudtrail-update-trail-single-region-by-agent": (
        ["ReapplyAudit"], "published", "critical", ["weakened CloudTrail trail org-trail"]),
    "config-stop-configuration-recorder-by-agent": (
        ["ReapplyAudit"], "published", "critical",
        ["stopped AWS Config recorder default", "covering tracks", "Leash requested a lockdown"]),
    "dynamodb-update-table-disable-deletion-protection-by-agent": (
        ["ReapplyData"], "published", "high", ["disabled deletion protection on orders"]),
    "ec2-disable-ebs-encryption-by-default-by-agent": (
        ["ReapplyCompute"], "published", "high", ["disabled EBS encryption by default", "eu-west-1"]),
    "ec2-modify-instance-attribute-disable-termination-protection-by-agent": (
        ["ReapplyCompute"], "published", "high", ["disabled termination protection on i-0b5a7e1c2d3f40516"]),
    "iam-delete-role-permissions-boundary-by-agent": (
        ["ReapplyIdentity2"], "published", "high", ["removed the permissions boundary of role ai-agent-deploy"]),
    "iam-detach-role-policy-guardrail-by-agent": (
        ["ReapplyIdentity1"], "published", "high",
        ["detached guardrail policy from role ai-agent-deploy (arn:aws:iam::111122223333:policy/agent-guardrail-deny)"]),
    "iam-put-role-permissions-boundary-replaced-by-human": (
        ["ReapplyIdentity2"], "published", "medium", ["replaced the permissions boundary of role ai-agent-deploy"]),
    "kms-disable-key-by-agent": (["ReapplyIdentity1"], "published", "high", ["disabled KMS key"]),
    "rds-modify-db-cluster-disable-deletion-protection-by-agent": (
        ["ReapplyData"], "published", "high", ["disabled deletion protection on prod-aurora"]),
    "rds-modify-db-instance-disable-deletion-protection-by-agent": (
        ["ReapplyData"], "published", "high", ["agent ai-agent-deploy disabled deletion protection on prod-db"]),
    "rds-modify-db-instance-disable-deletion-protection-by-exempt-role": (
        ["ReapplyData"], "published", "low", ["Exempt principal: Leash did not touch"]),
    "s3-delete-account-public-access-block-by-agent": (
        ["ReapplyData"], "published", "high", ["removed the account-wide S3 public access block"]),
    "s3-delete-bucket-public-access-block-by-agent": (
        ["ReapplyData"], "published", "high", ["removed the public access block of customer-uploads"]),
    "s3-put-bucket-public-access-block-weakened-by-human": (
        ["ReapplyData"], "published", "medium", ["weakened the public access block of customer-uploads"]),
    "s3-put-bucket-versioning-suspended-by-agent": (
        ["ReapplyData"], "published", "high", ["suspended versioning on nightly-db-backups"]),
    "secretsmanager-delete-secret-with-recovery-window-by-agent": (
        ["ReapplyIdentity1", "ReapplyTamper2"], "published", "high",
        ["deleted secret prod/payments/stripe-key (recovery window 7 days)"]),
    # The catalog's completeness (cli/leash_build/triage.yaml): one sample per newly watched class of call.
    "route53resolver-delete-resolver-query-log-config-by-agent": (
        ["DestructiveAudit1"], "published", "critical",
        ["agent ai-agent-deploy deleted Route 53 Resolver query logging rqlc-4473f20ca554c07", "covering tracks"]),
    "ec2-modify-snapshot-attribute-public-by-agent": (
        ["DestructiveCompute1"], "published", "high",
        ["agent ai-agent-deploy made public EBS snapshot snap-0b5a7e1c2d3f40516"]),
    "rolesanywhere-create-trust-anchor-by-agent": (
        ["AgentSensitiveIdentityRolesanywhere"], "published", "medium",
        ["agent ai-agent-deploy created IAM Roles Anywhere trust anchor build-runner-anchor"]),
    "kms-disable-key-rotation-by-agent": (
        ["DestructiveIdentity1"], "published", "high",
        ["agent ai-agent-deploy disabled automatic rotation of KMS key arn:aws:kms:us-east-1:111122223333:key/1234abcd"]),
    "redshift-delete-cluster-snapshot-by-agent": (
        ["DestructiveData2"], "published", "critical",
        ["agent ai-agent-deploy deleted Redshift snapshot analytics-nightly-2026-11-21"]),
    # Console sign-ins are no API calls: EventBridge delivers them as "AWS Console Sign In via CloudTrail".
    "signin-console-login-by-root": (
        ["ConsoleSignIn"], "published", "critical",
        ["root user signed in to the AWS console", "root cannot be restricted by IAM", "signed in without MFA"]),
    "signin-console-login-by-agent": (
        ["ConsoleSignIn"], "published", "high",
        ["agent ai-agent-deploy signed in to the AWS console", "role name starts with ai-agent-",
         "opened a console session"]),
    "malformed-ec2-state-change-notification": (
        [], "rejected", None, ["detail-type is 'EC2 Instance State-change Notification'"]),
    # Tampering with Leash (#16): critical for anyone, also straight to Slack; an agent is locked down.
    "sns-unsubscribe-alerts-topic-by-agent": (
        ["Tamper3"], "published", "critical",
        ["agent ai-agent-deploy removed a subscription of Leash's alerts topic",
         "tampering with Leash itself", "lockdown"]),
    "lambda-put-function-concurrency-zero-by-human": (
        ["Tamper2"], "published", "critical",
        ["set the reserved concurrency of Leash's Lambda function leash-NotifyFunction-072A9B5D142D to 0",
         "tampering with Leash itself"]),
    "iam-create-role-leash-named-by-agent": (
        ["AgentSensitiveIdentityIam", "Tamper11"], "published", "critical",
        ["agent ai-agent-deploy created a role named like Leash's leash-backdoor", "tampering with Leash itself"]),
}  # fmt: skip
