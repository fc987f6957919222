"""The leaf of Leash's model: words every other module shares, and nothing else.

Who (ActorKind), how bad by nature (Impact), how bad for the on-call (Severity), the service
families the rules are named after, the error codes of a denied call, and what Leash did
about a call (LeashAction): data only, turned into sentences by leash.render alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
CONSOLE_SIGN_IN_DETAIL_TYPE = "AWS Console Sign In via CloudTrail"
# The EventBridge user guide spells it "AWS Console Signin via CloudTrail"; AWS's own root-login rule
# (Knowledge Center) and delivered events spell it as above. Leash's rules take both.
CONSOLE_SIGN_IN_DETAIL_TYPES = (CONSOLE_SIGN_IN_DETAIL_TYPE, "AWS Console Signin via CloudTrail")

# The envelope EventBridge gives a CloudTrail record, by the record's eventType (EventBridge user guide,
# "AWS service events delivered via AWS CloudTrail"). Keys are lower case: AWS's own examples write both
# "AwsConsoleSignIn" and "AwsConsoleSignin".
DETAIL_TYPES: dict[str, str] = {
    "awsapicall": CLOUDTRAIL_DETAIL_TYPE,
    "awsconsolesignin": CONSOLE_SIGN_IN_DETAIL_TYPE,
    "awsconsoleaction": "AWS Console Action via CloudTrail",
    "awsserviceevent": "AWS Service Event via CloudTrail",
    "awscloudtrailinsight": "AWS Insight via CloudTrail",
}


def detail_type_of(event_type: object) -> str | None:
    """EventBridge's detail-type for a CloudTrail record of this eventType; None for a type not listed above
    (no Leash rule takes it). A record without an eventType (a hand-written one) is taken for an API call."""
    if event_type is None:
        return CLOUDTRAIL_DETAIL_TYPE
    return DETAIL_TYPES.get(event_type.lower()) if isinstance(event_type, str) else None


class ActorKind(StrEnum):
    AGENT = "agent"
    HUMAN = "human"
    AWS_SERVICE = "aws-service"
    LEASH = "leash"
    EXEMPT = "exempt"
    ROOT = "root"
    EXTERNAL = "external"  # another AWS account (userIdentity.type AWSAccount): no ARN here, nothing to lock


class Impact(StrEnum):
    """How bad a call is by nature, before looking at who made it."""

    IRREVERSIBLE = "irreversible"  # data or backups gone for good
    COVER_UP = "cover-up"  # Leash's (and the auditors') eyes put out
    DESTRUCTIVE = "destructive"  # something deleted or disabled that can be rebuilt
    SENSITIVE = "sensitive"  # privilege, exposure or cost change: alerted for agents only
    TAMPER = "tamper"  # Leash itself disabled, deleted, rewritten, muted or redirected: critical for anyone


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def emoji(self) -> str:
        return _EMOJI[self]


_EMOJI = {
    Severity.CRITICAL: ":rotating_light:",
    Severity.HIGH: ":red_circle:",
    Severity.MEDIUM: ":large_orange_circle:",
    Severity.LOW: ":large_blue_circle:",
}

# Protections that guard an agent role itself (its guardrail policy, its permissions boundary).
AGENT_ROLE_PROTECTIONS = frozenset({"agent-guardrail-policy", "agent-permissions-boundary"})

# The Slack buttons' action IDs: put on alerts by leash.slack_blocks, read back by leash.interactions.
LOCKDOWN, RELEASE, ACKNOWLEDGE = "leash_lockdown", "leash_release", "leash_acknowledge"

# Rules group services so that one rule's name says what it watches; the docs group by the same words.
FAMILIES: dict[str, str] = {
    "ec2": "Compute", "lambda": "Compute", "eks": "Compute", "ecs": "Compute", "ecr": "Compute",
    "rds": "Data", "s3": "Data", "dynamodb": "Data", "elasticache": "Data", "es": "Data",
    "elasticfilesystem": "Data", "backup": "Data",
    "iam": "Identity", "organizations": "Identity", "kms": "Identity", "secretsmanager": "Identity",
    "cloudtrail": "Audit", "config": "Audit", "guardduty": "Audit", "logs": "Audit", "bedrock": "Audit",
    "events": "Audit",
    "cloudformation": "Platform", "route53": "Platform", "sns": "Platform", "sqs": "Platform", "states": "Platform",
    # Added with the triage of botocore's risky operations (cli/leash_build/triage.yaml):
    "redshift": "Data", "fsx": "Data", "kinesis": "Data", "firehose": "Data",
    "sts": "Identity", "rolesanywhere": "Identity", "cognito-idp": "Identity", "ram": "Identity",
    "securityhub": "Audit", "macie2": "Audit", "inspector2": "Audit", "detective": "Audit",
    "access-analyzer": "Audit", "monitoring": "Audit", "route53resolver": "Audit",
    "wafv2": "Platform", "network-firewall": "Platform", "elasticloadbalancing": "Platform",
    "apigateway": "Platform", "cloudfront": "Platform", "ssm": "Platform",
}  # fmt: skip

# The errorCode spellings of a denied call across services (EC2's Client.* form included).
DENIED_CODES = (
    "AccessDenied", "AccessDeniedException", "Client.UnauthorizedOperation", "UnauthorizedOperation",
    "AuthorizationError", "AuthorizationErrorException", "UnauthorizedAccess", "UnauthorizedException",
    "Client.UnauthorizedAccess", "Forbidden", "ForbiddenException", "NotAuthorized",
)  # fmt: skip


def is_denied(error_code: str | None) -> bool:
    """Whether a CloudTrail errorCode says the caller was not allowed (any service's spelling)."""
    if not error_code:
        return False
    return error_code in DENIED_CODES or "AccessDenied" in error_code or "Unauthorized" in error_code


class ActionKind(StrEnum):
    """What Leash did (or deliberately did not do) about a call."""

    REAPPLIED = "reapplied"  # the protection is back on
    REAPPLY_FAILED = "failed"  # Leash tried and AWS said no
    RESOURCE_GONE = "gone"  # nothing left to protect
    ALERT_ONLY = "alert-only"  # the protection is in AlertOnlyProtections
    NOT_REMEDIATED = "not-remediated"  # the caller is exempt, or of a kind this protection leaves alone
    NOTHING_TO_DO = "nothing-to-do"  # the call did not really strip the protection
    LOCKDOWN_REQUESTED = "lockdown-requested"
    LOCKDOWN_REQUEST_FAILED = "lockdown-request-failed"
    NOTE = "note"  # a deploy-time description (a CloudWatch alarm's), shown as it is


@dataclass(frozen=True, slots=True)
class LeashAction:
    """One thing Leash did about a call, as fields; leash.render.describe turns it into a sentence."""

    kind: ActionKind
    protection: str = ""  # the protection's name ("s3-versioning"), for reapply actions
    title: str = ""  # the protection's title ("S3 versioning")
    principal: str = ""  # whom a lockdown request is for
    resource: str = ""
    fix: str = ""  # what the reapply changed, as the protection declares it ("re-enabled versioning")
    seconds: int | None = None  # how long after the call
    reason: str = ""  # why nothing was done, or the error message
    code: str = ""  # the AWS error code of a failure
    only_for: tuple[str, ...] = ()  # the actor kinds this protection is remediated for
    dry_run: bool = False  # replay: what Leash would have done

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = str(self.kind)
        data["only_for"] = list(self.only_for)
        # Empty fields are left out; 0 s is a value (0 == False, so compare by identity and type).
        return {k: v for k, v in data.items() if v is not None and v is not False and v != "" and v != []}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LeashAction:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["kind"] = ActionKind(fields["kind"])
        fields["only_for"] = tuple(fields.get("only_for") or ())
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class Remedy:
    """What the reapply step did about one call: the alert's action, and the values the ledger keeps."""

    action: LeashAction
    before: Any = None
    after: Any = None

    @property
    def outcome(self) -> ActionKind:
        return self.action.kind

    @property
    def protection(self) -> str:
        return self.action.protection


@dataclass(frozen=True, slots=True)
class NotApplicable:
    """The call is not Leash's business after all (a guardrail detached from a role that is no agent's)."""

    reason: str


# IAM Identity Center's roles: /aws-reserved/sso.amazonaws.com/[<region>/]AWSReservedSSO_<set>_<16 hex>. The name
# alone is not enough: a role of that name on another path is an ordinary role (and lockable). Whether IAM
# refuses a customer role on the /aws-reserved/ path is not verified here.
_SSO_ROLE = re.compile(r":role/aws-reserved/sso\.amazonaws\.com/(?:[^/]+/)?AWSReservedSSO_(.+)_[0-9a-f]{16}$")


def permission_set_of(role_arn: str) -> str | None:
    """The permission set of an IAM Identity Center role ARN, else None."""
    match = _SSO_ROLE.search(role_arn)
    return match.group(1) if match else None
