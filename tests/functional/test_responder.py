"""`leash lockdown / release / status` against a deployed stack (moto), with clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from conftest import ACCOUNT, fail_first_calls
from typer.testing import CliRunner

from leash_cli.main import app
from leash_cli.responder import ResponderError, connect, find_stack, recent_ledger

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


def test_lockdown_whose_notice_could_not_be_sent_exits_1_and_says_both(stack, monkeypatch):
    from moto.sns.models import SNSBackend

    fail_first_calls(monkeypatch, SNSBackend, "publish", "AuthorizationError", 1)
    result = runner.invoke(app, ["lockdown", "ai-agent-deploy", "--reason", "deleted prod-db"])
    assert result.exit_code == 1, result.output
    assert "LOCKDOWN applied to role ai-agent-deploy" in result.output
    assert "The notice could not be published to the alerts topic" in result.output


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


# ---------------------------------------------------------------- errors in plain words, exit code 2


def plain_error(result) -> str:
    """The one stderr line of a failed command; nothing on stdout, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


@pytest.fixture
def no_aws_config(monkeypatch, tmp_path):
    """An empty AWS config and credentials file: only what a test writes exists."""
    config = tmp_path / "config"
    config.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("HOME", str(tmp_path))  # no SSO token cache either
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.chdir(tmp_path)  # no samconfig.toml
    return config


@pytest.mark.parametrize(
    "command", [["status"], ["lockdown", "ai-agent-deploy", "-r", "x"], ["release", "x"]]
)
def test_unknown_profile_is_one_plain_line(no_aws_config, command):
    line = plain_error(runner.invoke(app, [*command, "--profile", "bogus"]))
    assert "no AWS profile named 'bogus'" in line and "aws configure list-profiles" in line


def test_unknown_profile_from_the_environment_says_so(no_aws_config):
    line = plain_error(runner.invoke(app, ["status"], env={"AWS_PROFILE": "bogus"}))
    assert "no AWS profile named 'bogus' (from AWS_PROFILE)" in line


def test_no_credentials_from_the_command_line(no_aws_config, monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    line = plain_error(runner.invoke(app, ["status"]))
    assert line.startswith("error: No AWS credentials found.")


def test_no_region_is_a_clear_error(no_aws_config, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert "No AWS region set: pass --region" in plain_error(runner.invoke(app, ["status"]))


def test_malformed_region_is_a_clear_error(no_aws_config):
    assert "'us east' is not a region name" in plain_error(
        runner.invoke(app, ["status", "--region", "us east"])
    )


def test_expired_sso_session_says_to_log_in(no_aws_config):
    no_aws_config.write_text(
        "[profile oncall]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Responder\n"
        "region = us-east-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
        "sso_region = us-east-1\n"
    )
    line = plain_error(runner.invoke(app, ["status", "--profile", "oncall"]))
    assert "AWS SSO session (profile oncall) has expired" in line
    assert "run `aws sso login --profile oncall`" in line


def test_failing_credential_process_is_named(no_aws_config):
    no_aws_config.write_text("[profile ci]\ncredential_process = false\nregion = us-east-1\n")
    line = plain_error(runner.invoke(app, ["status", "--profile", "ci"]))
    assert "Could not get AWS credentials (profile ci) from custom-process" in line


def test_unreachable_endpoint_names_it_and_does_not_blame_the_region(no_aws_config):
    """No network (a closed local port stands in for it): the endpoint is named, the region only reported."""
    result = runner.invoke(
        app,
        ["status", "--region", "eu-west-3"],
        env={"AWS_ENDPOINT_URL_CLOUDFORMATION": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"},
    )
    line = plain_error(result)
    assert "Could not reach the endpoint http://127.0.0.1:9/ for cloudformation:DescribeStacks" in line
    assert "check your network connection and proxy settings" in line
    assert line.endswith("Region used: eu-west-3 (from --region).")


def test_unreachable_endpoint_from_a_stubbed_client(aws, monkeypatch):
    """Whichever call cannot connect, the message is the same shape (here the ledger query)."""
    from botocore.exceptions import EndpointConnectionError

    aws_ = connect(None, "us-east-1", "--region")

    class Offline:
        def query(self, **_):
            raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")

    monkeypatch.setattr(aws_, "client", lambda service: Offline())
    with pytest.raises(ResponderError) as caught:
        recent_ledger(aws_, "leash-ledger")
    assert str(caught.value) == (
        "Could not reach the endpoint https://dynamodb.us-east-1.amazonaws.com/ for dynamodb:Query: "
        "check your network connection and proxy settings (HTTPS_PROXY, NO_PROXY). "
        "Region used: us-east-1 (from --region)."
    )


def client_error(code: str, message: str = "") -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}}, "Operation")


def botocore_error(name: str, **fields) -> Exception:
    from botocore import exceptions

    return getattr(exceptions, name)(**fields)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (
            lambda: client_error(
                "AccessDeniedException", "User: x is not authorized to perform: dynamodb:Query"
            ),
            f"AWS denied dynamodb:Query to arn:aws:sts::{ACCOUNT}:user/moto: the permissions the responder "
            "needs are listed in the README (The `leash` command). AWS said: User: x is not authorized to "
            "perform: dynamodb:Query",
        ),
        (
            lambda: client_error("ExpiredToken", "The security token included in the request is expired"),
            "Your AWS credentials (profile oncall) have expired (dynamodb:Query answered ExpiredToken): "
            "refresh them (aws sso login --profile oncall, or new temporary credentials) and retry.",
        ),
        (
            lambda: client_error("UnrecognizedClientException", "The security token is invalid."),
            "AWS does not accept your credentials (profile oncall) (dynamodb:Query answered "
            "UnrecognizedClientException: The security token is invalid.): check the access key, its secret "
            "and this machine's clock.",
        ),
        (
            lambda: botocore_error("SSOTokenLoadError", error_msg="Token for corp does not exist"),
            "Your AWS SSO session (profile oncall) has expired or was never started: "
            "run `aws sso login --profile oncall` and retry.",
        ),
        (
            lambda: botocore_error("UnauthorizedSSOTokenError"),
            "Your AWS SSO session (profile oncall) has expired or was never started: "
            "run `aws sso login --profile oncall` and retry.",
        ),
        (
            lambda: botocore_error("TokenRetrievalError", provider="sso", error_msg="refresh failed"),
            "Your AWS SSO session (profile oncall) has expired or was never started: "
            "run `aws sso login --profile oncall` and retry.",
        ),
        (
            lambda: botocore_error(
                "ReadTimeoutError", endpoint_url="https://dynamodb.us-east-1.amazonaws.com/"
            ),
            "Could not reach the endpoint https://dynamodb.us-east-1.amazonaws.com/ for dynamodb:Query: check "
            "your network connection and proxy settings (HTTPS_PROXY, NO_PROXY). Region used: us-east-1 "
            "(from --region).",
        ),
        (
            lambda: botocore_error("ProxyConnectionError", proxy_url="http://proxy:3128", error="refused"),
            "Could not connect to the proxy http://proxy:3128 for dynamodb:Query: check HTTPS_PROXY / "
            "HTTP_PROXY and your network.",
        ),
        (
            lambda: botocore_error("ParamValidationError", report="Invalid length for parameter X\nand more"),
            "dynamodb:Query failed: Parameter validation failed: Invalid length for parameter X and more",
        ),
    ],
    ids=[
        "denied",
        "expired",
        "not-accepted",
        "sso-token",
        "sso-unauthorized",
        "sso-refresh",
        "timeout",
        "proxy",
        "other",
    ],
)
def test_every_aws_error_becomes_one_plain_line(aws, raised, expected):
    responder = connect(None, "us-east-1", "--region")
    responder.profile = "oncall"
    with pytest.raises(ResponderError) as caught, responder.errors("dynamodb:Query"):
        raise raised()
    assert str(caught.value) == expected


# ---------------------------------------------------------------- Ctrl-C, --json


class StubbornSfn:
    """The real Step Functions client, except that every execution looks RUNNING: the CLI keeps waiting."""

    def __init__(self, real, start_interrupted: bool = False):
        self.real, self.start_interrupted = real, start_interrupted

    def start_execution(self, **kwargs):
        if self.start_interrupted:
            raise KeyboardInterrupt
        return self.real.start_execution(**kwargs)

    def describe_execution(self, **_):
        return {"status": "RUNNING"}


def interrupting(monkeypatch, start_interrupted=False):
    from leash_cli.responder import Aws

    original = Aws.client

    def client(self, service):
        real = original(self, service)
        return StubbornSfn(real, start_interrupted) if service == "stepfunctions" else real

    monkeypatch.setattr(Aws, "client", client)

    def ctrl_c(_seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr("leash_cli.responder.time.sleep", ctrl_c)


def test_ctrl_c_while_waiting_prints_the_execution_and_exits_130(stack, monkeypatch):
    interrupting(monkeypatch)
    result = runner.invoke(app, ["lockdown", "ai-agent-deploy", "-r", "deleted prod-db"])
    assert result.exit_code == 130, result.output
    (execution,) = stack.sfn.list_executions(stateMachineArn=stack.arns["lockdown"])["executions"]
    arn = execution["executionArn"]
    assert "the lockdown keeps running in AWS" in result.stderr
    assert f"Execution: {arn}" in result.stderr
    assert f"aws stepfunctions describe-execution --execution-arn {arn} --region us-east-1" in result.stderr
    assert (
        f"https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/{arn}"
        in result.stderr
    )
    assert "Traceback" not in result.output and result.stdout == ""
    stack.wait(arn)  # and it did run on: the role is locked down
    assert (
        "LeashEmergencyDenyAll"
        in boto3.client("iam").list_role_policies(RoleName="ai-agent-deploy")["PolicyNames"]
    )


def test_ctrl_c_before_the_start_answered_says_it_may_have_started(stack, monkeypatch):
    interrupting(monkeypatch, start_interrupted=True)
    result = runner.invoke(app, ["release", "ai-agent-deploy", "--json"])
    assert result.exit_code == 130, result.output
    assert "Interrupted while starting the release: it may or may not have started" in result.stderr
    assert f"aws stepfunctions list-executions --state-machine-arn {stack.arns['release']}" in result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "INTERRUPTED" and document["started"] is None
    # The ARN named in advance is the one Step Functions gives an execution of that name.
    name = document["executionArn"].rsplit(":", 1)[1]
    started = boto3.client("stepfunctions").start_execution(
        stateMachineArn=stack.arns["release"], name=name, input=json.dumps({"principal": "x"})
    )
    assert started["executionArn"] == document["executionArn"]
    stack.wait(started["executionArn"])


def test_lockdown_and_release_json(stack):
    locked = runner.invoke(app, ["lockdown", "ai-agent-deploy", "-r", "deleted prod-db", "--json"])
    assert locked.exit_code == 0, locked.output
    document = json.loads(locked.stdout)
    assert document == {
        "workflow": "lockdown",
        "principal": "ai-agent-deploy",
        "status": "SUCCEEDED",
        "headline": document["headline"],
        "detail": document["detail"],
        "refused": False,
        "executionArn": document["executionArn"],
    }
    assert document["headline"].startswith("LOCKDOWN applied to role ai-agent-deploy")
    assert document["executionArn"].startswith(
        f"arn:aws:states:us-east-1:{ACCOUNT}:execution:leash-lockdown:cli-"
    )

    refused = runner.invoke(app, ["release", f"arn:aws:iam::{ACCOUNT}:root", "--json"])
    assert refused.exit_code == 3
    assert json.loads(refused.stdout)["refused"] is True


def test_json_errors_go_to_stderr_and_leave_stdout_empty(stack):
    result = runner.invoke(app, ["status", "--json", "--stack-name", "not-leash"])
    assert "Stack 'not-leash' not found in us-east-1" in plain_error(result)


def test_profile_is_the_session_s_profile(stack, no_aws_config, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # it would win over the profile's region
    no_aws_config.write_text("[profile oncall]\nregion = eu-west-2\n")
    (no_aws_config.parent / "credentials").write_text(
        "[oncall]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    line = plain_error(runner.invoke(app, ["status", "--profile", "oncall"]))
    assert "Stack 'leash' not found in eu-west-2 (region from your AWS config (profile oncall))" in line


def test_region_and_stack_name_default_to_samconfig(stack):
    Path("samconfig.toml").write_text(
        'version = 0.1\n[default.global.parameters]\nstack_name = "leash-prod"\n'
        '[default.deploy.parameters]\nregion = "eu-west-1"\n'
    )
    line = plain_error(runner.invoke(app, ["status"]))
    assert "Stack 'leash-prod' not found in eu-west-1 (region from samconfig.toml)" in line


# ---------------------------------------------------------------- status: a Query on byTime, 80 columns

NOW = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)


@pytest.fixture
def ledger(stack, monkeypatch):
    """Ledger records written by leash.ledger.Ledger at known times, out of order, and a helper item."""
    from leash.ledger import Ledger

    monkeypatch.setattr("leash_cli.responder.datetime", FrozenClock)
    dynamodb = boto3.client("dynamodb")
    for days_ago, name, resource in [
        (2, "ec2-termination-protection", "i-0a1b2c3d4e5f60718"),
        (10, "s3-versioning", "nightly-db-backups"),
        (0.5, "rds-cluster-deletion-protection", f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:prod-aurora"),
        (5, "cloudtrail-logging", f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/management-events"),
    ]:
        at = (NOW - timedelta(days=days_ago)).timestamp()
        Ledger(dynamodb, "leash-ledger", clock=lambda at=at: at).record(
            {
                "eventId": f"evt-{name}",
                "protection": name,
                "outcome": "reapplied",
                "actor": f"arn:aws:sts::{ACCOUNT}:assumed-role/ai-agent-deploy/sess_a8f3b21c",
                "resource": resource,
                "detail": f"put {name} back",
            }
        )
    dynamodb.put_item(  # as the lockdown workflow remembers keys: not a ledger record
        TableName="leash-ledger",
        Item={"pk": {"S": "lockdown#x"}, "sk": {"S": "keys"}, "time": {"S": "2026-11-22T20:59:00.000Z"}},
    )
    return dynamodb


class FrozenClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW


def spy_on_dynamodb(monkeypatch) -> list[tuple[str, dict]]:
    from leash_cli.responder import Aws

    calls: list[tuple[str, dict]] = []
    original = Aws.client

    def client(self, service):
        real = original(self, service)
        if service == "dynamodb":
            real.meta.events.register(
                "before-parameter-build.dynamodb",
                lambda params, model, **_: calls.append((model.name, dict(params))),
            )
        return real

    monkeypatch.setattr(Aws, "client", client)
    return calls


def test_status_queries_the_time_index_newest_first(ledger, monkeypatch):
    calls = spy_on_dynamodb(monkeypatch)
    result = runner.invoke(app, ["status", "--json", "--limit", "3"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["protection"] for r in records] == [
        "rds-cluster-deletion-protection",
        "ec2-termination-protection",
        "cloudtrail-logging",
    ]
    assert all(r["feed"] == "ledger" and isinstance(r["expiresAt"], int) for r in records)
    ((operation, params),) = calls
    assert operation == "Query" and params["IndexName"] == "byTime"
    assert params["ScanIndexForward"] is False and params["Limit"] == 3


@pytest.mark.parametrize(
    ("since", "expected"), [("3d", 2), ("24h", 1), ("2026-11-15", 3), ("2026-11-22T10:00+02:00", 1)]
)
def test_status_since(ledger, since, expected):
    result = runner.invoke(app, ["status", "--json", "--since", since])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == expected


def test_status_since_that_is_not_a_time_is_a_usage_error(ledger):
    result = runner.invoke(app, ["status", "--since", "last tuesday"])
    assert result.exit_code == 2 and "--since takes a duration" in result.output


def test_status_on_a_stack_without_the_index_says_to_redeploy(stack):
    boto3.client("dynamodb").create_table(
        TableName="old-ledger",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    )  # fmt: skip
    from leash_cli.responder import recent_ledger as query

    with pytest.raises(ResponderError, match="has no byTime index: the stack was deployed by an older Leash"):
        query(connect(None, "us-east-1", "--region"), "old-ledger")


LONG_RECORDS = [
    {
        "time": "2026-11-22T21:04:36.512Z",
        "kind": "lockdown",
        "outcome": "refused",
        "pk": f"principal#arn:aws:sts::{ACCOUNT}:assumed-role/ai-agent-deploy/sess_a8f3b21c",
        "requestedBy": f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_AdministratorAccess_0123456789abcdef/jordan@example.com",
        "detail": "LOCKDOWN REFUSED for " + "a very long explanation " * 10,
    },
    {
        "time": "2026-11-22T20:00:00.000001Z",
        "protection": "cloudformation-termination-protection",
        "outcome": "not-remediated",
        "resource": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/prod-payments/0a1b2c3d-4e5f",
        "actor": f"arn:aws:iam::{ACCOUNT}:role/agents/ai-agent-deploy",
        "detail": "x" * 300,
    },
    {
        "time": "2026-11-22T19:00:00.000Z",
        "kind": "release",
        "outcome": "released",
        "pk": f"principal#arn:aws:iam::{ACCOUNT}:role/agents/ai-agent-deploy",
        "requestedBy": "jordan@example.com",
        "detail": "RELEASE: role ai-agent-deploy is no longer denied everything",
    },
]


def test_status_table_reads_at_80_columns():
    from rich.console import Console

    from leash_cli.responder import ledger_table

    console = Console(width=80, record=True)
    console.print(ledger_table(LONG_RECORDS, "Leash ledger - leash (us-east-1)", console.width))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert "arn:aws" not in text and "2026-11-22 21:04:36" in text
    assert "ai-agent-deploy/" in text and "sess_a8f3b21c" in text  # names whole, broken only after a '/'
    assert "role/ai-agent-deploy" in text
    assert "…" in text  # the long details are cut, not folded over many lines
    assert len(lines) < 25


def test_status_command_at_80_columns(ledger):
    result = runner.invoke(app, ["status"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "arn:aws" not in result.stdout and "2026-11-22 09:00:00" in result.stdout
    assert "cluster:prod-aurora" in result.stdout and "trail/management-events" in result.stdout
    assert "ai-agent-deploy/" in result.stdout and "rds-cluster-deletion-" in result.stdout


@pytest.mark.parametrize(
    ("arn", "short"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/agents/ai-agent-deploy", "role/ai-agent-deploy"),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/ai-agent-deploy/sess_a8f3b21c", "assumed-role/ai-agent-deploy/sess_a8f3b21c"),
        (f"arn:aws:iam::{ACCOUNT}:user/ci/ci-bot", "user/ci-bot"),
        (f"arn:aws:iam::{ACCOUNT}:root", "root"),
        ("arn:aws:s3:::nightly-db-backups", "nightly-db-backups"),
        (f"arn:aws:rds:us-east-1:{ACCOUNT}:db:prod-db", "db:prod-db"),
        ("ai-agent-deploy", "ai-agent-deploy"),
    ],
)  # fmt: skip
def test_short_arn(arn, short):
    from leash_cli.responder import short_arn

    assert short_arn(arn) == short
