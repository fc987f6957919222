"""Every protection, end to end on moto: the resource exists, the stripping event from events/ arrives,
the reapply handler puts the protection back, the ledger records it, and the alert says so."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import (
    ACCOUNT,
    BOUNDARY_ARN,
    GUARDRAIL_POLICY_ARN,
    bus_tap,
    create_prod_db,
    ledger_records,
    load_event,
    load_handler,
)

from leash.actors import ActorConfig, classify_actor
from leash.alerts import Alert
from leash.catalog import lookup
from leash.events import parse_event
from leash.protections import PROTECTIONS
from leash.reapply import Reapplier
from leash.render import describe, render_text
from leash.settings import ReapplySettings as Settings

PAB_ALL_ON = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def absent_is_false(check):
    """A check that reads a setting which, when stripped, does not exist at all (AWS answers with an error)."""

    def safe():
        try:
            return check()
        except ClientError:
            return False

    return safe


# --- one setup per protection: create the resource (stripped), return a check that it is back on ------


def ec2_instance(event):
    ec2 = boto3.client("ec2")
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, DisableApiTermination=False)["Instances"][0][
        "InstanceId"
    ]
    event["detail"]["requestParameters"]["instanceId"] = iid
    return lambda: (
        ec2.describe_instance_attribute(InstanceId=iid, Attribute="disableApiTermination")[
            "DisableApiTermination"
        ]["Value"]
        is True
    )


def rds_instance(event):
    return create_prod_db()


def rds_cluster(event):
    rds = boto3.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="prod-aurora",
        Engine="aurora-postgresql",
        MasterUsername="admin1",
        MasterUserPassword="password123",
        DeletionProtection=False,
    )
    return lambda: rds.describe_db_clusters(DBClusterIdentifier="prod-aurora")["DBClusters"][0][
        "DeletionProtection"
    ]


def dynamodb_table(event):
    ddb = boto3.client("dynamodb")
    ddb.create_table(
        TableName="orders",
        BillingMode="PAY_PER_REQUEST",
        DeletionProtectionEnabled=False,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )
    return lambda: ddb.describe_table(TableName="orders")["Table"]["DeletionProtectionEnabled"] is True


def s3_versioning(event):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="nightly-db-backups")
    s3.put_bucket_versioning(Bucket="nightly-db-backups", VersioningConfiguration={"Status": "Suspended"})
    return lambda: s3.get_bucket_versioning(Bucket="nightly-db-backups")["Status"] == "Enabled"


def s3_bucket_pab(event):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="customer-uploads")
    return absent_is_false(
        lambda: (
            s3.get_public_access_block(Bucket="customer-uploads")["PublicAccessBlockConfiguration"]
            == PAB_ALL_ON
        )
    )


def s3_account_pab(event):
    control = boto3.client("s3control")
    return absent_is_false(
        lambda: (
            control.get_public_access_block(AccountId=ACCOUNT)["PublicAccessBlockConfiguration"] == PAB_ALL_ON
        )
    )


def trail(multi_region=True, logging=True):
    boto3.client("s3").create_bucket(Bucket="org-trail-logs")
    ct = boto3.client("cloudtrail")
    ct.create_trail(Name="org-trail", S3BucketName="org-trail-logs", IsMultiRegionTrail=multi_region)
    if logging:
        ct.start_logging(Name="org-trail")
    return ct


def trail_stopped(event):
    ct = trail(logging=False)
    return lambda: ct.get_trail_status(Name="org-trail")["IsLogging"] is True


def trail_single_region(event):
    ct = trail(multi_region=False)
    return lambda: ct.get_trail(Name="org-trail")["Trail"]["IsMultiRegionTrail"] is True


def trail_without_management_events(event):
    ct = trail()
    ct.put_event_selectors(
        TrailName="org-trail", EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": False}]
    )
    return lambda: (
        ct.get_event_selectors(TrailName="org-trail")["EventSelectors"][0]["IncludeManagementEvents"] is True
    )


def config_recorder(event):
    config = boto3.client("config")
    config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/config-recorder"}
    )
    boto3.client("s3").create_bucket(Bucket="config-bucket")
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "config-bucket"})
    return lambda: config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"][0][
        "recording"
    ]


def ebs_default(event):  # the event is in eu-west-1: Leash must act there, not in its own region
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    return lambda: (
        ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is True
        and boto3.client("ec2").get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is False
    )


def agent_role(boundary=None):
    iam = boto3.client("iam")
    iam.create_policy(
        PolicyName="agent-guardrail-deny",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]}
        ),
    )
    iam.create_policy(
        PolicyName="agent-boundary",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        ),
    )
    kwargs = {"PermissionsBoundary": boundary} if boundary else {}
    iam.create_role(RoleName="ai-agent-deploy", AssumeRolePolicyDocument="{}", **kwargs)
    return iam


def guardrail_detached(event):
    iam = agent_role()
    return lambda: (
        [
            p["PolicyArn"]
            for p in iam.list_attached_role_policies(RoleName="ai-agent-deploy")["AttachedPolicies"]
        ]
        == [GUARDRAIL_POLICY_ARN]
    )


def boundary_deleted(event):
    iam = agent_role()
    return lambda: (
        iam.get_role(RoleName="ai-agent-deploy")["Role"]
        .get("PermissionsBoundary", {})
        .get("PermissionsBoundaryArn")
        == BOUNDARY_ARN
    )


def boundary_replaced(event):
    iam = agent_role(boundary="arn:aws:iam::aws:policy/AdministratorAccess")
    return lambda: (
        iam.get_role(RoleName="ai-agent-deploy")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"]
        == BOUNDARY_ARN
    )


def ingress_rule_ids(ec2, group):
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
    return {r["SecurityGroupRuleId"]: r for r in rules["SecurityGroupRules"] if not r["IsEgress"]}


def as_boto3_call(params):
    """The AuthorizeSecurityGroupIngress arguments a CloudTrail record's requestParameters came from."""
    if params.get("cidrIp"):  # flat: the API's top-level parameters
        return {
            "IpProtocol": params["ipProtocol"],
            "FromPort": params["fromPort"],
            "ToPort": params["toPort"],
            "CidrIp": params["cidrIp"],
        }
    return {
        "IpPermissions": [
            {
                "IpProtocol": p["ipProtocol"],
                **({"FromPort": p["fromPort"], "ToPort": p["toPort"]} if "fromPort" in p else {}),
                "IpRanges": [{"CidrIp": r["cidrIp"]} for r in (p.get("ipRanges") or {}).get("items", [])],
                "Ipv6Ranges": [
                    {"CidrIpv6": r["cidrIpv6"]} for r in (p.get("ipv6Ranges") or {}).get("items", [])
                ],
            }
            for p in params["ipPermissions"]["items"]
        ]
    }


def open_security_group(event, existing=()):
    """The group (with `existing` rules already in it) gets the sample's call on moto, in the sample's own
    shape; the event's responseElements list the rules that call added, as CloudTrail's do. The check: the
    world rules the call added are gone, every other rule is still there."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    for permission in existing:
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[permission])
    before = ingress_rule_ids(ec2, group)
    detail = event["detail"]
    detail["requestParameters"]["groupId"] = group
    ec2.authorize_security_group_ingress(GroupId=group, **as_boto3_call(detail["requestParameters"]))
    # moto's authorize response lists only the last rule; CloudTrail's responseElements list every rule added.
    added = [r for rule_id, r in ingress_rule_ids(ec2, group).items() if rule_id not in before]
    detail["responseElements"]["securityGroupRuleSet"]["items"] = [
        {
            "groupOwnerId": ACCOUNT,
            "groupId": group,
            "securityGroupRuleId": r["SecurityGroupRuleId"],
            "isEgress": False,
            "ipProtocol": r["IpProtocol"],
            "fromPort": r["FromPort"],
            "toPort": r["ToPort"],
            **({"cidrIpv4": r["CidrIpv4"]} if "CidrIpv4" in r else {"cidrIpv6": r["CidrIpv6"]}),
        }
        for r in added
    ]
    world = {
        r["SecurityGroupRuleId"] for r in added if r.get("CidrIpv4", r.get("CidrIpv6", "")).endswith("/0")
    }
    kept = set(before) | ({r["SecurityGroupRuleId"] for r in added} - world)
    return lambda: set(ingress_rule_ids(ec2, group)) == kept


def kms_key(disable=False, schedule=False):
    def setup(event):
        kms = boto3.client("kms")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        if schedule:
            kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
        if disable:
            kms.disable_key(KeyId=key)
        event["detail"]["requestParameters"]["keyId"] = key
        return lambda: kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"

    return setup


def deleted_secret(event):
    sm = boto3.client("secretsmanager")
    sm.create_secret(Name="prod/payments/stripe-key", SecretString="sk_live_example")
    sm.delete_secret(SecretId="prod/payments/stripe-key", RecoveryWindowInDays=7)
    return absent_is_false(
        lambda: sm.get_secret_value(SecretId="prod/payments/stripe-key")["SecretString"] == "sk_live_example"
    )


# event -> (protection, setup, severity, what the alert's "What Leash did" line says)
CASES = {
    "ec2-modify-instance-attribute-disable-termination-protection-by-agent": (
        "ec2-termination-protection",
        ec2_instance,
        "high",
        "re-enabled termination protection",
    ),
    "rds-modify-db-instance-disable-deletion-protection-by-agent": (
        "rds-instance-deletion-protection",
        rds_instance,
        "high",
        "re-enabled deletion protection",
    ),
    "rds-modify-db-cluster-disable-deletion-protection-by-agent": (
        "rds-cluster-deletion-protection",
        rds_cluster,
        "high",
        "re-enabled deletion protection",
    ),
    "dynamodb-update-table-disable-deletion-protection-by-agent": (
        "dynamodb-deletion-protection",
        dynamodb_table,
        "high",
        "re-enabled deletion protection",
    ),
    "s3-put-bucket-versioning-suspended-by-agent": (
        "s3-versioning",
        s3_versioning,
        "high",
        "re-enabled versioning",
    ),
    "s3-delete-bucket-public-access-block-by-agent": (
        "s3-bucket-public-access-block",
        s3_bucket_pab,
        "high",
        "restored the public access block",
    ),
    "s3-put-bucket-public-access-block-weakened-by-human": (
        "s3-bucket-public-access-block",
        s3_bucket_pab,
        "medium",
        "restored the public access block",
    ),
    "s3-delete-account-public-access-block-by-agent": (
        "s3-account-public-access-block",
        s3_account_pab,
        "high",
        "restored the account-wide public access block",
    ),
    "cloudtrail-stop-logging-by-agent": (
        "cloudtrail-logging",
        trail_stopped,
        "critical",
        "restarted logging",
    ),
    "cloudtrail-update-trail-single-region-by-agent": (
        "cloudtrail-trail-settings",
        trail_single_region,
        "critical",
        "turned multi-region logging back on",
    ),
    "cloudtrail-put-event-selectors-without-management-events-by-agent": (
        "cloudtrail-management-events",
        trail_without_management_events,
        "critical",
        "turned management events back on",
    ),
    "config-stop-configuration-recorder-by-agent": (
        "config-recorder",
        config_recorder,
        "critical",  # a security log source stopped: a cover-up, whichever service holds it
        "restarted the recorder",
    ),
    "ec2-disable-ebs-encryption-by-default-by-agent": (
        "ebs-encryption-by-default",
        ebs_default,
        "high",
        "re-enabled EBS encryption by default",
    ),
    "iam-detach-role-policy-guardrail-by-agent": (
        "agent-guardrail-policy",
        guardrail_detached,
        "high",
        "re-attached the guardrail policy",
    ),
    "iam-delete-role-permissions-boundary-by-agent": (
        "agent-permissions-boundary",
        boundary_deleted,
        "high",
        "restored the permissions boundary",
    ),
    "iam-put-role-permissions-boundary-replaced-by-human": (
        "agent-permissions-boundary",
        boundary_replaced,
        "medium",
        "restored the permissions boundary",
    ),
    "ec2-authorize-security-group-ingress-by-agent": (
        "security-group-open-ingress",
        open_security_group,
        "high",
        "revoked the rule open to the world",
    ),
    "ec2-authorize-security-group-ingress-flat-cidr-by-agent": (
        "security-group-open-ingress",
        open_security_group,
        "high",
        "revoked the rule open to the world",
    ),
    "ec2-authorize-security-group-ingress-ipv6-by-agent": (
        "security-group-open-ingress",
        open_security_group,
        "high",
        "revoked the rule open to the world",
    ),
    "kms-schedule-key-deletion-by-agent": (
        "kms-key-deletion",
        kms_key(schedule=True, disable=True),
        "critical",
        "cancelled the deletion and re-enabled the key",
    ),
    "kms-disable-key-by-agent": ("kms-key-enabled", kms_key(disable=True), "high", "re-enabled the key"),
    "secretsmanager-delete-secret-with-recovery-window-by-agent": (
        "secret-deletion",
        deleted_secret,
        "high",
        "restored the secret",
    ),
}


def test_every_protection_has_a_case():
    stubbed = {"cloudformation-termination-protection"}  # see test_cloudformation_termination_protection_...
    assert {case[0] for case in CASES.values()} | stubbed == set(PROTECTIONS)


@pytest.fixture
def reapply(notify_stack, lambda_context):
    return load_handler("reapply"), notify_stack[1], lambda_context


@pytest.mark.parametrize("name", sorted(CASES))
def test_protection_is_back_on_recorded_and_alerted(reapply, name):
    handler, inbox, context = reapply
    protection, setup, severity, did = CASES[name]
    event = load_event(name)
    protected = setup(event)
    assert not protected(), "the setup must leave the protection stripped"

    result = handler.lambda_handler(event, context)

    assert result["status"] == "published" and result["severity"] == severity
    assert protected(), f"{protection} is not back on"
    (record,) = ledger_records(event["detail"]["eventID"])
    assert (record["protection"], record["outcome"]) == (protection, "reapplied")
    assert record["actor"] == event["detail"]["userIdentity"]["arn"] and record["expiresAt"] > 0
    assert record["feed"] == "ledger"  # in the byTime index that `leash status` queries
    (envelope,) = inbox.drain()
    text = render_text(Alert.from_dict(json.loads(envelope["Message"])))
    assert re.search(
        rf"• Leash {re.escape(did)}.* (within a second of the call|\d+ (s|min) after the call)\.", text
    ), text


def test_cloudformation_termination_protection_is_reenabled(reapply):
    """moto does not implement UpdateTerminationProtection: botocore's Stubber stands in for that one call."""
    from botocore.stub import Stubber

    handler, inbox, context = reapply
    event = load_event("cloudformation-update-termination-protection-disabled-by-agent")
    cfn = handler.reapplier._clients("cloudformation", "us-east-1")  # the handler's own client
    with Stubber(cfn) as stub:
        stub.add_response(
            "update_termination_protection",
            {"StackId": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/webhooks-prod/1"},
            {"StackName": "webhooks-prod", "EnableTerminationProtection": True},
        )
        result = handler.lambda_handler(event, context)
        stub.assert_no_pending_responses()
    assert (result["status"], result["severity"]) == ("published", "high")
    assert ledger_records(event["detail"]["eventID"])[0]["outcome"] == "reapplied"
    assert "Leash re-enabled termination protection" in inbox.drain()[0]["Message"]


def test_exempt_principal_is_alerted_not_remediated(reapply):
    handler, inbox, context = reapply
    event = load_event("rds-modify-db-instance-disable-deletion-protection-by-exempt-role")
    protected = rds_instance(event)
    result = handler.lambda_handler(event, context)
    assert (result["status"], result["severity"]) == ("published", "low")
    assert not protected()
    assert ledger_records(event["detail"]["eventID"])[0]["outcome"] == "not-remediated"
    assert (
        "Exempt principal: Leash did not touch the RDS instance deletion protection."
        in inbox.drain()[0]["Message"]
    )


def test_same_event_twice_acts_once(reapply):
    handler, inbox, context = reapply
    event = load_event("rds-modify-db-instance-disable-deletion-protection-by-agent")
    rds_instance(event)
    assert handler.lambda_handler(event, context)["status"] == "published"
    assert handler.lambda_handler(event, context)["status"] == "duplicate"
    assert len(ledger_records(event["detail"]["eventID"])) == 1 and len(inbox.drain()) == 1


def test_a_retry_after_a_failed_publish_repeats_nothing(notify_stack, lambda_context, fail_calls):
    """SNS refuses the alert once: Powertools forgets the event and Lambda retries the whole handler. The
    retry reads the first attempt's remedy back from the ledger and finds the lockdown already requested,
    so the account sees one ledger record, one lockdown request and one alert, which reports what the
    first attempt did (restarted logging), not "nothing to do" from finding the trail logging again."""
    inbox = notify_stack[1]
    boto3.client("iam").create_role(RoleName="ai-agent-deploy", AssumeRolePolicyDocument="{}")
    event = load_event("cloudtrail-stop-logging-by-agent")
    protected = trail_stopped(event)
    read_bus = bus_tap()
    failed = fail_calls("sns.Publish", "InternalError")
    handler = load_handler("reapply")

    with pytest.raises(ClientError, match="InternalError"):
        handler.lambda_handler(event, lambda_context)
    assert failed == ["sns.Publish"] and protected()
    retried = handler.lambda_handler(event, lambda_context)  # Lambda's retry of the async invocation

    assert retried["status"] == "published"
    (record,) = ledger_records(event["detail"]["eventID"])
    assert (record["protection"], record["outcome"], record["feed"]) == (
        "cloudtrail-logging",
        "reapplied",
        "ledger",
    )
    (request,) = read_bus()
    assert request["detail"]["requestId"] == event["detail"]["eventID"]
    (envelope,) = inbox.drain()
    text = render_text(Alert.from_dict(json.loads(envelope["Message"])))
    assert re.search(
        r"• Leash restarted logging.* (within a second of the call|\d+ (s|min) after the call)\.", text
    ), text
    assert "Leash requested a lockdown of" in text and "nothing to do" not in text.lower()

    assert handler.lambda_handler(event, lambda_context)["status"] == "duplicate"  # and a third delivery
    assert len(ledger_records(event["detail"]["eventID"])) == 1 and read_bus() == [] and inbox.drain() == []


def test_alert_only_mode_alerts_without_acting(notify_stack, lambda_context, monkeypatch):
    monkeypatch.setenv("LEASH_ALERT_ONLY_PROTECTIONS", "s3-versioning,config-recorder")
    handler = load_handler("reapply")
    event = load_event("s3-put-bucket-versioning-suspended-by-agent")
    protected = s3_versioning(event)
    assert handler.lambda_handler(event, lambda_context)["status"] == "published"
    assert not protected()
    assert ledger_records(event["detail"]["eventID"])[0]["outcome"] == "alert-only"
    assert "Alert-only mode for s3-versioning" in notify_stack[1].drain()[0]["Message"]


def test_resource_that_no_longer_exists_is_reported_not_touched(reapply):
    handler, inbox, context = reapply
    event = load_event("rds-modify-db-instance-disable-deletion-protection-by-agent")  # no prod-db in moto
    assert handler.lambda_handler(event, context)["status"] == "published"
    assert ledger_records(event["detail"]["eventID"])[0]["outcome"] == "gone"
    assert (
        "prod-db no longer exists, so there was nothing to reapply (DBInstanceNotFound"
        in inbox.drain()[0]["Message"]
    )


def test_guardrail_on_a_role_that_is_not_an_agent_role_is_left_alone(reapply):
    handler, inbox, context = reapply
    event = load_event("iam-detach-role-policy-guardrail-by-agent")
    event["detail"]["requestParameters"]["roleName"] = "payments-service"
    result = handler.lambda_handler(event, context)
    assert result["status"] == "ignored" and "payments-service is not an agent role" in result["reason"]
    assert inbox.drain() == [] and ledger_records(event["detail"]["eventID"]) == []


def test_security_group_rule_open_to_a_private_range_is_alerted_not_revoked(reapply):
    handler, inbox, context = reapply
    event = load_event("ec2-authorize-security-group-ingress-private-range-by-agent")
    untouched = open_security_group(event)
    result = handler.lambda_handler(event, context)
    assert (result["status"], result["severity"]) == ("published", "medium")
    assert untouched()
    assert ledger_records(event["detail"]["eventID"])[0]["outcome"] == "nothing-to-do"
    assert (
        "Nothing to put back: no rule open to the whole internet (a /0 range, IPv4 or IPv6) was added."
        in inbox.drain()[0]["Message"]
    )


WORLD_HTTPS = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
PRIVATE_SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "208.236.235.254/0"])
def test_flat_call_revokes_its_own_rule_and_leaves_an_older_world_rule_alone(reapply, cidr):
    """The group already lets the world in on 443 (someone's decision, not this call's): the agent's flat
    --cidr-style call opens 22 to the world, and only that rule is revoked. The second CIDR is how Stratus
    Red Team's real detonation record writes it; moto keeps it as written, as CloudTrail does."""
    handler, inbox, context = reapply
    event = load_event("ec2-authorize-security-group-ingress-flat-cidr-by-agent")
    event["detail"]["requestParameters"]["cidrIp"] = cidr
    only_this_call_revoked = open_security_group(event, existing=[WORLD_HTTPS, PRIVATE_SSH])
    (added,) = event["detail"]["responseElements"]["securityGroupRuleSet"]["items"]

    result = handler.lambda_handler(event, context)

    assert (result["status"], result["severity"]) == ("published", "high")
    assert only_this_call_revoked()
    (record,) = ledger_records(event["detail"]["eventID"])
    assert record["outcome"] == "reapplied"
    assert (
        f"revoked the rule open to the world ({added['securityGroupRuleId']})" in inbox.drain()[0]["Message"]
    )


def test_nested_call_revokes_its_ipv4_and_ipv6_world_rules_and_keeps_its_private_one(reapply):
    handler, inbox, context = reapply
    event = load_event("ec2-authorize-security-group-ingress-by-agent")
    permission = event["detail"]["requestParameters"]["ipPermissions"]["items"][0]
    permission["ipRanges"]["items"].append({"cidrIp": "10.0.0.0/8"})
    permission["ipv6Ranges"] = {"items": [{"cidrIpv6": "::/0"}]}
    world_closed_private_kept = open_security_group(event)
    assert len(event["detail"]["responseElements"]["securityGroupRuleSet"]["items"]) == 3

    assert handler.lambda_handler(event, context)["severity"] == "high"

    assert world_closed_private_kept()
    assert "revoked the 2 rules open to the world" in inbox.drain()[0]["Message"]


# --- the reapply step without Lambda: timing words and failure reasons --------------------------


def remedy_for(name, clients, clock=None, settings=None):
    call = parse_event(load_event(name))
    actor = classify_actor(call.user_identity, ActorConfig(agent_role_prefix="ai-agent-"))
    kwargs = {"clock": clock} if clock else {}
    return Reapplier(clients, settings or Settings(), ActorConfig(agent_role_prefix="ai-agent-"), **kwargs)(
        call, actor, lookup(call)
    )


class Recorder:
    def __init__(self, error=None):
        self.calls, self.error = [], error

    def __call__(self, service, region):
        recorder = self

        class Client:
            def __getattr__(self, op):
                def call(**kwargs):
                    recorder.calls.append((service, region, op, kwargs))
                    if recorder.error:
                        raise recorder.error
                    return {}

                return call

        return Client()


def test_alert_says_how_many_seconds_after_the_call_leash_acted():
    call_time = parse_event(load_event("rds-modify-db-instance-disable-deletion-protection-by-agent")).time
    clients = Recorder()
    remedy = remedy_for(
        "rds-modify-db-instance-disable-deletion-protection-by-agent",
        clients,
        clock=lambda: call_time.timestamp() + 2.2,
    )
    assert describe(remedy.action) == "Leash re-enabled deletion protection 2 s after the call."
    assert clients.calls == [
        (
            "rds",
            "us-east-1",
            "modify_db_instance",
            {"DBInstanceIdentifier": "prod-db", "DeletionProtection": True, "ApplyImmediately": True},
        )
    ]


@pytest.mark.parametrize("code", ["AccessDenied", "Throttling"])
def test_failed_reapply_says_why(code):
    error = ClientError({"Error": {"Code": code, "Message": "not this time"}}, "ModifyDBInstance")
    remedy = remedy_for("rds-modify-db-instance-disable-deletion-protection-by-agent", Recorder(error))
    assert remedy.outcome == "failed"
    assert (
        describe(remedy.action)
        == f"Leash could not put the RDS instance deletion protection back: {code}: not this time"
    )


def test_clients_retry_throttling_with_bounded_backoff():
    from leash.aws import boto3_clients

    client = boto3_clients()("rds", "eu-west-1")
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}


@pytest.mark.parametrize(
    "event", [None, {"detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "StopLogging"}}]
)
def test_malformed_event_is_rejected_with_a_reason_and_nothing_touched(reapply, event):
    handler, inbox, context = reapply
    result = handler.lambda_handler(event, context)
    assert result["status"] == "rejected" and result["reason"]
    assert inbox.drain() == []


def test_another_accounts_key_deletion_is_cancelled_and_recorded_under_that_account(reapply):
    """userIdentity.type AWSAccount has no ARN: the account is the principal; Leash cannot lock it down."""
    from leash.model import LOCKDOWN
    from leash.slack_blocks import render_slack

    handler, inbox, context = reapply
    event = load_event("kms-schedule-key-deletion-by-other-account")
    enabled = kms_key(schedule=True)(event)

    result = handler.lambda_handler(event, context)

    assert (result["status"], result["severity"]) == ("published", "critical")
    assert enabled(), "the deletion was not cancelled"
    (record,) = ledger_records(event["detail"]["eventID"])
    assert (record["actor"], record["actorKind"], record["outcome"]) == (
        "444455556666",
        "external",
        "reapplied",
    )
    (envelope,) = inbox.drain()
    alert = Alert.from_dict(json.loads(envelope["Message"]))
    assert alert.title.startswith("external account 444455556666 scheduled deletion of KMS key")
    assert [a.kind for a in alert.leash_did] == ["reapplied"]  # no lockdown requested
    assert LOCKDOWN not in json.dumps(render_slack(alert))  # and none offered
