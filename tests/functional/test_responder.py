"""`leash lockdown / release / status` against a deployed stack (moto), with clear errors."""

from __future__ import annotations

import json

import boto3
import pytest
from conftest import ACCOUNT
from typer.testing import CliRunner

from leash_cli.main import app
from leash_cli.responder import ResponderError, connect, find_stack

runner = CliRunner()


@pytest.fixture
def stack(workflows, monkeypatch, tmp_path):
    """A 'deployed' Leash stack: CloudFormation outputs pointing at the real workflows on moto."""
    outputs = {
        "LockdownStateMachineArn": workflows.arns["lockdown"],
        "ReleaseStateMachineArn": workflows.arns["release"],
        "LedgerTableName": "leash-ledger",
    }
    boto3.client("cloudformation").create_stack(
        StackName="leash",
        TemplateBody=json.dumps(
            {
                "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {k: {"Value": v} for k, v in outputs.items()},
            }
        ),
    )
    boto3.client("iam").create_role(RoleName="ai-agent-deploy", AssumeRolePolicyDocument="{}")
    # The CLI waits for the execution: instead of sleeping, let moto's worker finish.
    from moto.stepfunctions.parser.utils import TMP_THREADS

    monkeypatch.setattr("leash_cli.responder.time.sleep", lambda _: [t.join(60) for t in list(TMP_THREADS)])
    monkeypatch.chdir(
        tmp_path
    )  # no samconfig.toml here: the defaults are 'leash' and the environment's region
    return workflows


def test_lockdown_status_and_release_from_the_command_line(stack):
    locked = runner.invoke(app, ["lockdown", "ai-agent-deploy", "--reason", "deleted prod-db"])
    assert locked.exit_code == 0, locked.output
    assert "LOCKDOWN applied to role ai-agent-deploy" in locked.output
    policies = boto3.client("iam").list_role_policies(RoleName="ai-agent-deploy")["PolicyNames"]
    assert set(policies) == {"LeashEmergencyDenyAll", "LeashRevokeOlderSessions"}

    status = runner.invoke(app, ["status"], env={"COLUMNS": "200"})
    assert status.exit_code == 0 and "applied" in status.output and "ai-agent-deploy" in status.output

    released = runner.invoke(app, ["release", "ai-agent-deploy"])
    assert (
        released.exit_code == 0
        and "RELEASE: role ai-agent-deploy is no longer denied everything" in released.output
    )


def test_refused_principal_exits_3_and_says_why(stack):
    result = runner.invoke(app, ["lockdown", f"arn:aws:iam::{ACCOUNT}:root", "-r", "root was used"])
    assert result.exit_code == 3
    assert "LOCKDOWN REFUSED for the root user: root cannot be restricted by IAM" in result.output


def test_stack_not_found_is_a_clear_error(stack):
    result = runner.invoke(app, ["lockdown", "ai-agent-deploy", "-r", "x", "--stack-name", "not-leash"])
    assert result.exit_code == 2 and "Stack 'not-leash' not found in us-east-1" in result.output


def test_no_credentials_is_a_clear_error(monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup over the network
    with pytest.raises(ResponderError, match="No AWS credentials found"):
        find_stack(connect(None, "us-east-1", "--region"), "leash")
