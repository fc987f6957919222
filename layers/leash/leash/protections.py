"""Every protection Leash reapplies: what it is, how to put it back, and the IAM actions that takes.

The calls that strip each protection live in the catalog (CatalogAction.protection names the
entry here); template.yaml's reapply rules are generated from those, and its ReapplyRole must
grant exactly the `permissions` declared below (tests/unit/test_template.py checks both).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leash.aws import Clients
from leash.events import ApiCall
from leash.ingress import world_rules_added
from leash.model import ActorKind
from leash.settings import ReapplySettings


@dataclass(frozen=True, slots=True)
class Fix:
    """What a reapply changed, in words for the alert and values for the ledger."""

    did: str  # "re-enabled deletion protection"
    before: Any = None
    after: Any = None


class NothingToDo(Exception):
    """The call did not actually strip the protection (e.g. a guardrail on a non-agent role)."""


Reapply = Callable[[Clients, ApiCall, ReapplySettings], Fix]


@dataclass(frozen=True)
class Protection:
    name: str
    title: str
    permissions: tuple[str, ...]  # IAM actions the reapply needs
    reapply: Reapply
    gone_errors: tuple[str, ...] = ()  # error codes meaning "the resource no longer exists"
    remediates: frozenset[ActorKind] = field(
        default=frozenset({ActorKind.AGENT, ActorKind.HUMAN, ActorKind.ROOT, ActorKind.EXTERNAL})
    )
    default_mode: str = "remediate"


def _param(call: ApiCall, path: str) -> Any:
    value = call.param(path)
    if value is None:
        raise NothingToDo(f"the event has no requestParameters.{path}")
    return value


# --- the reapply steps: each one API call (or two), in the event's own region -----------------


def _ec2_termination(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    clients("ec2", call.region).modify_instance_attribute(
        InstanceId=_param(call, "instanceId"), DisableApiTermination={"Value": True}
    )
    return Fix("re-enabled termination protection", False, True)


def _rds_instance(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    clients("rds", call.region).modify_db_instance(
        DBInstanceIdentifier=_param(call, "dBInstanceIdentifier"),
        DeletionProtection=True,
        ApplyImmediately=True,
    )
    return Fix("re-enabled deletion protection", False, True)


def _rds_cluster(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    clients("rds", call.region).modify_db_cluster(
        DBClusterIdentifier=_param(call, "dBClusterIdentifier"),
        DeletionProtection=True,
        ApplyImmediately=True,
    )
    return Fix("re-enabled deletion protection", False, True)


def _dynamodb(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    clients("dynamodb", call.region).update_table(
        TableName=_param(call, "tableName"), DeletionProtectionEnabled=True
    )
    return Fix("re-enabled deletion protection", False, True)


def _s3_versioning(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    clients("s3", call.region).put_bucket_versioning(
        Bucket=_param(call, "bucketName"), VersioningConfiguration={"Status": "Enabled"}
    )
    return Fix("re-enabled versioning", "Suspended", "Enabled")


_BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def _weakened_flags(call: ApiCall) -> dict[str, Any] | None:
    config = call.request_parameters.get("PublicAccessBlockConfiguration")
    if not isinstance(config, Mapping):
        return None  # Delete...PublicAccessBlock: everything was off
    return {k: config.get(k) for k in _BLOCK_ALL}


def _s3_bucket_pab(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    clients("s3", call.region).put_public_access_block(
        Bucket=_param(call, "bucketName"), PublicAccessBlockConfiguration=dict(_BLOCK_ALL)
    )
    return Fix("restored the public access block (all four settings on)", _weakened_flags(call), _BLOCK_ALL)


def _s3_account_pab(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    clients("s3control", call.region).put_public_access_block(
        AccountId=call.account, PublicAccessBlockConfiguration=dict(_BLOCK_ALL)
    )
    return Fix(
        "restored the account-wide public access block (all four settings on)",
        _weakened_flags(call),
        _BLOCK_ALL,
    )


def _cfn_termination(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    clients("cloudformation", call.region).update_termination_protection(
        StackName=_param(call, "stackName"), EnableTerminationProtection=True
    )
    return Fix("re-enabled termination protection", False, True)


def _trail_logging(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    clients("cloudtrail", call.region).start_logging(Name=_param(call, "name"))
    return Fix("restarted logging", "stopped", "logging")


def _trail_settings(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    restore = {}
    if call.request_parameters.get("isMultiRegionTrail") is False:
        restore["IsMultiRegionTrail"] = True
    if call.request_parameters.get("enableLogFileValidation") is False:
        restore["EnableLogFileValidation"] = True
    if not restore:
        raise NothingToDo("the update turned nothing off")
    clients("cloudtrail", call.region).update_trail(Name=_param(call, "name"), **restore)
    words = {"IsMultiRegionTrail": "multi-region logging", "EnableLogFileValidation": "log file validation"}
    return Fix(
        "turned " + " and ".join(words[k] for k in restore) + " back on",
        dict.fromkeys(restore, False),
        restore,
    )


def _trail_management_events(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    trail = _param(call, "trailName")
    cloudtrail = clients("cloudtrail", call.region)
    selectors = cloudtrail.get_event_selectors(TrailName=trail).get("EventSelectors") or []
    if any(s.get("IncludeManagementEvents") for s in selectors):
        raise NothingToDo("the trail still records management events")
    fixed = [
        dict(s, IncludeManagementEvents=True, ReadWriteType="All") if i == 0 else s
        for i, s in enumerate(selectors)
    ] or [{"ReadWriteType": "All", "IncludeManagementEvents": True}]
    cloudtrail.put_event_selectors(TrailName=trail, EventSelectors=fixed)
    return Fix("turned management events back on", False, True)


def _config_recorder(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    clients("config", call.region).start_configuration_recorder(
        ConfigurationRecorderName=_param(call, "configurationRecorderName")
    )
    return Fix("restarted the recorder", "stopped", "recording")


def _ebs_encryption(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    clients("ec2", call.region).enable_ebs_encryption_by_default()
    return Fix("re-enabled EBS encryption by default", False, True)


def _guardrail_policy(clients: Clients, call: ApiCall, settings: ReapplySettings) -> Fix:
    policy = _param(call, "policyArn")
    if policy not in settings.guardrail_policy_arns:
        raise NothingToDo(f"{policy} is not a guardrail policy")
    clients("iam", call.region).attach_role_policy(RoleName=_param(call, "roleName"), PolicyArn=policy)
    return Fix("re-attached the guardrail policy", None, policy)


def _permissions_boundary(clients: Clients, call: ApiCall, settings: ReapplySettings) -> Fix:
    boundary = settings.permissions_boundary_arn
    if not boundary:
        raise NothingToDo("no agent permissions boundary is configured")
    replaced_with = call.request_parameters.get("permissionsBoundary")
    if replaced_with == boundary:
        raise NothingToDo("the boundary was set to the configured one")
    clients("iam", call.region).put_role_permissions_boundary(
        RoleName=_param(call, "roleName"), PermissionsBoundary=boundary
    )
    return Fix("restored the permissions boundary", replaced_with, boundary)


def _open_ingress(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    # Exactly the rules this call added, whichever shape its request had: CloudTrail lists them with their
    # IDs in responseElements. A rule that was there before the call is not in that list (adding it again
    # fails with InvalidPermission.Duplicate), so it is left alone.
    rules = world_rules_added(call.response_elements)
    if not rules:
        raise NothingToDo("no rule open to the whole internet (a /0 range, IPv4 or IPv6) was added")
    rule_ids = [r["securityGroupRuleId"] for r in rules]
    # The response names the group by ID even when the request named it by groupName (default VPC).
    group = rules[0].get("groupId") or _param(call, "groupId")
    clients("ec2", call.region).revoke_security_group_ingress(GroupId=group, SecurityGroupRuleIds=rule_ids)
    rules_open = "the rule" if len(rule_ids) == 1 else f"the {len(rule_ids)} rules"
    return Fix(f"revoked {rules_open} open to the world ({', '.join(rule_ids)})", rule_ids, [])


def _kms_deletion(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    kms = clients("kms", call.region)
    key = _param(call, "keyId")
    kms.cancel_key_deletion(KeyId=key)
    kms.enable_key(KeyId=key)  # a cancelled deletion leaves the key disabled
    return Fix("cancelled the deletion and re-enabled the key", "PendingDeletion", "Enabled")


def _kms_enable(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    clients("kms", call.region).enable_key(KeyId=_param(call, "keyId"))
    return Fix("re-enabled the key", "Disabled", "Enabled")


def _secret_restore(clients: Clients, call: ApiCall, _: ReapplySettings) -> Fix:
    clients("secretsmanager", call.region).restore_secret(SecretId=_param(call, "secretId"))
    return Fix("restored the secret", "scheduled for deletion", "restored")


AGENTS_ONLY = frozenset({ActorKind.AGENT})

PROTECTIONS: dict[str, Protection] = {
    p.name: p
    for p in (
        Protection(
            "ec2-termination-protection",
            "EC2 termination protection",
            ("ec2:ModifyInstanceAttribute",),
            _ec2_termination,
            ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"),
        ),
        Protection(
            "rds-instance-deletion-protection",
            "RDS instance deletion protection",
            ("rds:ModifyDBInstance",),
            _rds_instance,
            ("DBInstanceNotFound", "DBInstanceNotFoundFault"),
        ),
        Protection(
            "rds-cluster-deletion-protection",
            "RDS cluster deletion protection",
            ("rds:ModifyDBCluster",),
            _rds_cluster,
            ("DBClusterNotFoundFault", "DBClusterNotFound"),
        ),
        Protection(
            "dynamodb-deletion-protection",
            "DynamoDB deletion protection",
            ("dynamodb:UpdateTable",),
            _dynamodb,
            ("ResourceNotFoundException",),
        ),
        Protection(
            "s3-versioning", "S3 versioning", ("s3:PutBucketVersioning",), _s3_versioning, ("NoSuchBucket",)
        ),
        Protection(
            "s3-bucket-public-access-block",
            "S3 bucket public access block",
            ("s3:PutBucketPublicAccessBlock",),
            _s3_bucket_pab,
            ("NoSuchBucket",),
        ),
        Protection(
            "s3-account-public-access-block",
            "S3 account public access block",
            ("s3:PutAccountPublicAccessBlock",),
            _s3_account_pab,
        ),
        Protection(
            "cloudformation-termination-protection",
            "CloudFormation stack termination protection",
            ("cloudformation:UpdateTerminationProtection",),
            _cfn_termination,
            ("ValidationError",),
        ),
        Protection(
            "cloudtrail-logging",
            "CloudTrail logging",
            ("cloudtrail:StartLogging",),
            _trail_logging,
            ("TrailNotFoundException",),
        ),
        Protection(
            "cloudtrail-trail-settings",
            "CloudTrail multi-region and log file validation",
            ("cloudtrail:UpdateTrail",),
            _trail_settings,
            ("TrailNotFoundException",),
        ),
        Protection(
            "cloudtrail-management-events",
            "CloudTrail management events",
            ("cloudtrail:GetEventSelectors", "cloudtrail:PutEventSelectors"),
            _trail_management_events,
            ("TrailNotFoundException",),
        ),
        Protection(
            "config-recorder",
            "AWS Config recorder",
            ("config:StartConfigurationRecorder",),
            _config_recorder,
            ("NoSuchConfigurationRecorderException",),
        ),
        Protection(
            "ebs-encryption-by-default",
            "EBS encryption by default",
            ("ec2:EnableEbsEncryptionByDefault",),
            _ebs_encryption,
        ),
        Protection(
            "agent-guardrail-policy",
            "guardrail policy of an agent role",
            ("iam:AttachRolePolicy",),
            _guardrail_policy,
            ("NoSuchEntity", "NoSuchEntityException"),
        ),
        Protection(
            "agent-permissions-boundary",
            "permissions boundary of an agent role",
            ("iam:PutRolePermissionsBoundary",),
            _permissions_boundary,
            ("NoSuchEntity", "NoSuchEntityException"),
        ),
        Protection(
            "security-group-open-ingress",
            "security group closed to the internet",
            ("ec2:RevokeSecurityGroupIngress",),
            _open_ingress,
            ("InvalidGroup.NotFound", "InvalidSecurityGroupRuleId.NotFound"),
            remediates=AGENTS_ONLY,
        ),
        Protection(
            "kms-key-deletion",
            "KMS key scheduled for deletion",
            ("kms:CancelKeyDeletion", "kms:EnableKey"),
            _kms_deletion,
            ("NotFoundException",),
        ),
        Protection(
            "kms-key-enabled",
            "KMS key disabled by an agent",
            ("kms:EnableKey",),
            _kms_enable,
            ("NotFoundException",),
            remediates=AGENTS_ONLY,
        ),
        Protection(
            "secret-deletion",
            "Secrets Manager secret deleted with a recovery window",
            ("secretsmanager:RestoreSecret",),
            _secret_restore,
            ("ResourceNotFoundException",),
        ),
    )
}


PROTECTION_NAMES = frozenset(PROTECTIONS)


def required_permissions() -> set[str]:
    return {p for protection in PROTECTIONS.values() for p in protection.permissions}
