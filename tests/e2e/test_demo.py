"""The README's first command: an agent's incident on an emulated account, caught, put back and locked down."""

from __future__ import annotations

import json
import os

from conftest import EVENTS
from rich.console import Console

from leash.render import what_leash_did
from leash_cli import demo
from leash_cli.agent import AgentSession
from leash_cli.demo import print_demo, print_slack, run_demo
from leash_cli.emulator import emulated_account


def test_demo_catches_the_agent_puts_protections_back_and_locks_the_role(monkeypatch):
    """Leash deployed in eu-west-1; the agent works there, in us-west-2, and on IAM (recorded in us-east-1)."""
    monkeypatch.setenv("AWS_PROFILE", "a-real-profile-that-must-not-be-used")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEYNOTTOUSE")
    result = run_demo()

    # Read back from moto after the incident: what Leash put back, what it could not, the role locked.
    assert result.account == {
        "RDS prod-db deletion protection": "on",
        "EC2 instance termination protection (us-west-2)": "on",  # put back in the call's region
        "S3 nightly-db-backups versioning": "Enabled",
        "security group web open to 0.0.0.0/0": "no",
        "CloudTrail org-trail logging": "on",
        "S3 scratch-exports": "deleted (alerted; nothing can undo it)",
        # The administrator policy the agent gave itself is alerted, not removed: the deny-all outweighs it.
        "role ai-agent-deploy inline policies": "LeashEmergencyDenyAll, LeashRevokeOlderSessions, unblock-deploy",
        "role ai-agent-deploy guardrail": "attached",
    }

    alerts = [
        (s.event, s.rules, str(s.alert.severity), s.alert.title, what_leash_did(s.alert))
        for s in result.steps
        if s.alert
    ]
    # Each alert says where its call was made, whichever region delivered it to the stack in eu-west-1.
    where = {s.event: s.alert.region for s in result.steps if s.alert and s.alert.kind == "api-call"}
    assert where == {
        "rds:ModifyDBInstance prod-db": "eu-west-1",
        "ec2:ModifyInstanceAttribute in us-west-2": "us-west-2",
        "iam:PutRolePolicy unblock-deploy": "us-east-1",
        "s3:PutBucketVersioning nightly-db-backups": "eu-west-1",
        "ec2:AuthorizeSecurityGroupIngress": "eu-west-1",
        "s3:DeleteBucket scratch-exports": "eu-west-1",
        "cloudtrail:StopLogging org-trail": "eu-west-1",
    }
    by_call = {}
    for event, rules, severity, title, did in alerts:
        by_call.setdefault(event, []).append((rules, severity, title, did))
    ((rules, severity, title, did),) = by_call["rds:ModifyDBInstance prod-db"]
    assert (rules, severity, title) == (
        ("ReapplyData1",),
        "high",
        "agent ai-agent-deploy disabled deletion protection on prod-db",
    )
    assert did[0].startswith("Leash re-enabled deletion protection")
    ((rules, severity, title, did),) = by_call["ec2:ModifyInstanceAttribute in us-west-2"]
    assert (rules, severity) == (("ReapplyCompute",), "high")
    assert did[0].startswith("Leash re-enabled termination protection")
    ((rules, severity, title, did),) = by_call["iam:PutRolePolicy unblock-deploy"]
    assert (rules, severity, title) == (
        ("DestructiveIdentity1",),
        "high",
        "agent ai-agent-deploy put inline administrator policy unblock-deploy (* on *) on role ai-agent-deploy",
    )
    assert by_call["ec2:AuthorizeSecurityGroupIngress"][0][3][0].startswith(
        "Leash revoked the rule open to the world"
    )
    assert by_call["s3:DeleteBucket scratch-exports"][0][1:3] == (
        "critical",
        "agent ai-agent-deploy deleted bucket scratch-exports",
    )
    stop_logging, lockdown = by_call["cloudtrail:StopLogging org-trail"]
    assert stop_logging[1] == "critical" and stop_logging[3][0].startswith("Leash restarted logging")
    assert stop_logging[3][1].startswith(
        "Leash requested a lockdown of arn:aws:sts::111122223333:assumed-role/ai-agent-deploy/"
    )
    assert lockdown[0] == ("LockdownRequested",)
    assert lockdown[2].startswith(
        "LOCKDOWN applied to role ai-agent-deploy: deny-all, sessions issued before"
    )

    # Locked out, the agent keeps trying: every call denied, counted, alerted as a spike; the second lockdown
    # request finds the role already locked.
    denied = [s for s in result.steps if s.event.endswith("(denied)")]
    assert len(denied) == demo.PROBES and {s.status for s in denied} == {"counted"}
    spikes = by_call[f"{demo.PROBES} denied calls"]
    assert [severity for _, severity, _, _ in spikes] == [
        "high",
        "critical",
        "medium",
    ]  # the notice is medium
    assert spikes[0][2].startswith(
        "agent ai-agent-deploy: 60 denied calls in 5 min: iam:AttachRolePolicy ×20"
    )
    spike_alerts = [s.alert for s in result.steps if s.alert and s.alert.kind == "spike"]
    assert [a.region for a in spike_alerts] == ["us-east-1, eu-west-1"] * 2  # IAM's 40, Secrets Manager's 20
    assert spikes[2][2] == "LOCKDOWN not repeated: role ai-agent-deploy is already locked down"

    console = Console(record=True, width=160)
    print_demo(result, console)
    text = console.export_text()
    assert "[CRITICAL] agent ai-agent-deploy stopped CloudTrail logging of org-trail" in text
    assert "Leash in eu-west-1, agent ai-agent-deploy" in text
    assert "Where:     account 111122223333, us-west-2" in text and "region=us-west-2#/events/" in text
    assert "iam:CreateAccessKey (denied) x20" in text
    assert (
        "11 alerts, 5 protections put back, 1 lockdown, 60 denied calls counted by the spike detector."
        in text
    )
    assert os.environ["AWS_PROFILE"] == "a-real-profile-that-must-not-be-used"  # restored afterwards
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAREALKEYNOTTOUSE"


def test_agent_session_records_calls_as_cloudtrail_writes_them():
    """The demo's records have the shape of the real samples in events/ (the handlers read these fields)."""
    samples = {
        name: json.loads((EVENTS / f"{name}.json").read_text())["detail"]
        for name in (
            "rds-modify-db-instance-disable-deletion-protection-by-agent",
            "ec2-authorize-security-group-ingress-by-agent",
            "s3-put-bucket-versioning-suspended-by-agent",
        )
    }
    records = []
    with emulated_account(demo.DEMO_ENV):
        ids = demo.build_account()
        agent = AgentSession(
            demo.AGENT_ROLE, demo.AGENT_SESSION, records.append, source_identity=demo.AGENT_SOURCE
        )
        agent.client("rds").modify_db_instance(
            DBInstanceIdentifier="prod-db", DeletionProtection=False, ApplyImmediately=True
        )
        agent.client("ec2").authorize_security_group_ingress(
            GroupId=ids["group"],
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        )
        agent.client("s3").put_bucket_versioning(
            Bucket="nightly-db-backups", VersioningConfiguration={"Status": "Suspended"}
        )
        agent.client("iam", "eu-west-1").list_role_policies(RoleName=demo.AGENT_ROLE)
        agent.client("ec2", "us-west-2").describe_instances()
    rds, ec2, s3, iam, ec2_elsewhere = records
    # Each call is recorded in the region of its client (the stack's, eu-west-1, by default); IAM's in us-east-1.
    assert [r["awsRegion"] for r in records] == ["eu-west-1"] * 3 + ["us-east-1", "us-west-2"]
    sample = samples["rds-modify-db-instance-disable-deletion-protection-by-agent"]
    assert rds["requestParameters"] == sample["requestParameters"]
    assert rds["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] == "ai-agent-deploy"
    assert rds["userIdentity"]["sessionContext"]["sourceIdentity"] == "jordan@example.com"
    assert set(sample) - set(rds) <= {"tlsDetails", "vpcEndpointId", "additionalEventData"}
    world = ec2["responseElements"]["securityGroupRuleSet"]["items"][0]
    assert world["cidrIpv4"] == "0.0.0.0/0" and world["securityGroupRuleId"].startswith("sgr-")
    assert ec2["requestParameters"]["ipPermissions"]["items"][0]["ipRanges"] == {
        "items": [{"cidrIp": "0.0.0.0/0"}]
    }
    assert {k: v for k, v in s3["requestParameters"].items() if k != "Host"} == {
        k: v
        for k, v in samples["s3-put-bucket-versioning-suspended-by-agent"]["requestParameters"].items()
        if k != "Host"
    }


def test_the_demo_shows_the_incident_as_one_thread():
    """The agent's calls are one incident: one parent message, the rest replies, the criticals broadcast."""
    from rich.console import Console

    result = run_demo()
    traffic = result.slack
    assert traffic.incidents == 1 and traffic.parents == 1
    assert traffic.replies == traffic.alerts - 1 == len(result.thread)
    criticals = sum(1 for alert, _ in result.thread if alert.severity == "critical")
    assert traffic.broadcasts == criticals > 0
    console = Console(record=True, width=160)
    print_slack(result, console)
    text = console.export_text()
    assert "#leash-alerts: CRITICAL incident: agent ai-agent-deploy" in text
    assert "Human behind: jordan@example.com" in text
    assert "(also sent to the channel)" in text
    assert f"In Slack: 1 incident, {1 + criticals} top-level posts" in text
