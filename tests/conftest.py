"""Shared fixtures: real-shaped events from events/, the template's rules, and handlers on moto."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
ACCOUNT = "111122223333"
GUARDRAIL_POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/agent-guardrail-deny"
BOUNDARY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/agent-boundary"
# The deploy parameters the samples in events/ are judged under: the rules (tests/functional/test_events.py),
# the handlers' environment (notify_stack) and replay (tests/e2e/test_replay.py) alike.
SAMPLE_PARAMETERS = {
    "GuardrailPolicyArns": GUARDRAIL_POLICY_ARN,
    "AgentPermissionsBoundaryArn": BOUNDARY_ARN,
    "ExemptPrincipalArns": f"arn:aws:iam::{ACCOUNT}:role/breakglass-admin",
    "AgentUserNames": "ci-agent-bot",  # an agent on an IAM user's access keys
}
FUNCTION_DIRS = {"NotifyFunction": "notify", "ReapplyFunction": "reapply"}


@pytest.fixture(autouse=True)
def offline_aws(monkeypatch):
    """Fake credentials and a default region: nothing here may reach real AWS."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Leash")
    monkeypatch.setenv("POWERTOOLS_DEV", "false")


def load_event(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


def load_handler(function: str, module_name: str | None = None):
    """Import functions/<function>/app.py fresh, as Lambda does on a cold start."""
    name = module_name or f"leash_handler_{function}"
    sys.modules.pop(name, None)
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / function / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LambdaContext:
    function_name = "leash-test"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:leash-test"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@pytest.fixture
def lambda_context():
    return LambdaContext()


@pytest.fixture
def aws():
    from leash_cli.emulator import one_snapshot_per_transaction

    with mock_aws(), one_snapshot_per_transaction():
        yield


class AlertInbox:
    """An SQS queue subscribed to the alerts topic: what any SNS subscriber would receive."""

    def __init__(self, topic_arn: str):
        self.sqs = boto3.client("sqs")
        self.url = self.sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        boto3.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)

    def drain(self) -> list[dict]:
        """The SNS envelopes delivered so far (Subject, Message, ...)."""
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for m in got:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def notify_stack(aws, monkeypatch):
    """The notify function's world on moto: alerts topic, idempotency table, an inbox; env as template.yaml sets it."""
    return deploy_notify_stack(monkeypatch)


def deploy_notify_stack(monkeypatch):
    """notify_stack's world, in the region and the moto mock already set up (tests/functional/test_regions.py)."""
    topic_arn = boto3.client("sns").create_topic(Name="leash-alerts")["TopicArn"]
    from leash_cli.emulator import create_tables

    create_tables(
        {
            "IdempotencyTable": "leash-idempotency",
            "LedgerTable": "leash-ledger",
            "IncidentTable": "leash-incidents",
        }
    )
    from leash_cli.template import function_environment, load_template

    # What template.yaml sets on the notify and reapply functions, for these deploy parameters.
    env = function_environment(
        load_template(),
        ["NotifyFunction", "ReapplyFunction"],
        SAMPLE_PARAMETERS,
        {
            "IdempotencyTable": "leash-idempotency",
            "LedgerTable": "leash-ledger",
            "LeashEventBus": "leash-leash",
            "AlertsTopic": topic_arn,
            "IncidentTable": "leash-incidents",
        },
        account=ACCOUNT,
    )
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    # Leash's own resources as its stack would list them (ListStackResources), for the same deployment.
    monkeypatch.setattr("leash.wiring.own_resources", lambda *_: lambda: own_resources())
    boto3.client("events").create_event_bus(Name="leash-leash")
    inbox = AlertInbox(topic_arn)
    return topic_arn, inbox


# Long-but-legal deploy parameters: a pattern that fits the quota with these fits any real deployment's.
LONG_PARAMETERS = {
    "ResourcePrefix": "leash-security-prod1",
    "AgentRoleNames": ",".join(f"ai-agent-role-with-a-long-name-{i}" for i in range(4)),
    "AgentRoleNamePrefix": "ai-agent-long-prefix-",
    "AgentSessionNamePrefix": "agent-session-long-",
    "AgentSourceIdentityPrefix": "agent-source-identity-",
    "AgentUserNames": ",".join(f"ai-agent-user-with-a-long-name-{i}" for i in range(4)),
    "AgentUserNamePrefix": "ai-agent-user-long-prefix-",
}


def create_prod_db(region: str | None = None):
    """The samples' RDS instance prod-db, deletion protection off; returns a reader of its protection."""
    rds = boto3.client("rds", region_name=region) if region else boto3.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="prod-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin1",
        MasterUserPassword="password123",
        AllocatedStorage=20,
        DeletionProtection=False,
    )
    return lambda: rds.describe_db_instances(DBInstanceIdentifier="prod-db")["DBInstances"][0][
        "DeletionProtection"
    ]


def own_resources():
    """Leash's resources for the samples' deployment (account, parameters), offline from template.yaml."""
    from leash_cli.template import deployment_for, leash_resources, load_template

    template = load_template()
    return leash_resources(template, deployment_for(template, SAMPLE_PARAMETERS, account=ACCOUNT))


def ledger_records(event_id: str) -> list[dict]:
    """The ledger items written for one CloudTrail eventID, as plain values."""
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    items = boto3.client("dynamodb").query(
        TableName="leash-ledger",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"event#{event_id}"}},
    )["Items"]
    return [{k: des.deserialize(v) for k, v in item.items()} for item in items]


def fail_first_calls(
    monkeypatch, backend_class, method: str, code: str, times: int, message: str = ""
) -> list:
    """Make moto answer the AWS error `code` to the first `times` calls of one API, then work again.

    moto serves every call, a handler's or a state machine task's, from a backend object
    (`moto.iam.models.IAMBackend.put_role_policy` answers iam:PutRolePolicy). This replaces that method
    on the class: while failures remain it raises a `moto.core.exceptions.ServiceException` with that code,
    declared in the backend's module, which moto takes for the service's own error and serializes as its
    error response (the code, the message and, for a modelled error, its HTTP status). boto3 then raises a
    ClientError with that code, and a Step Functions task fails with the name AWS gives it
    (`Iam.IamException` for IAM's unmodelled `Throttling`). Calls after that reach moto's real method.
    Returns the calls' outcomes ("failed" or "answered"), in order.
    """
    from moto.core.exceptions import ServiceException

    # moto finds the service model of an error by the module its class is declared in.
    error = type(code, (ServiceException,), {"__module__": backend_class.__module__, "code": code})
    real = getattr(backend_class, method)
    outcomes: list[str] = []

    def flaky(self, *args, **kwargs):
        if outcomes.count("failed") < times:
            outcomes.append("failed")
            raise error(message or f"{code} (injected by the test)")
        outcomes.append("answered")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(backend_class, method, flaky)
    return outcomes


@pytest.fixture
def workflows(monkeypatch):
    """The real ASL of statemachines/ executing on moto, with the ledger, the alerts topic and an inbox."""
    from leash_cli import emulator
    from leash_cli.emulator import Workflows, create_tables, emulated_account

    with emulated_account():
        create_tables({"LedgerTable": "leash-ledger"})
        topic = boto3.client("sns").create_topic(Name="leash-alerts")["TopicArn"]
        inbox = AlertInbox(topic)
        workflows = Workflows(
            {
                "LedgerTable": "leash-ledger",
                "AlertsTopicArn": topic,
                "ResourcePrefix": "leash",
                "ExemptPrincipalArns": f"arn:aws:iam::{ACCOUNT}:role/breakglass-admin,arn:aws:iam::{ACCOUNT}:user/ci-deployer",
            }
        )
        workflows.inbox_topic = topic
        # The backoff moto would have slept between Retry attempts (the emulator records it instead).
        workflows.retry_waits = emulator.retry_waits
        workflows.run = lambda name, principal, **extra: workflows.start(
            name,
            {
                "principal": principal,
                "reason": "agent probing its fence",
                "requestedBy": "oncall@example.com",
                "trigger": "test",
                **extra,
            },
        )

        def notices() -> list[dict]:
            """What the workflows published: the subject, the text, and the notice's fields (message attributes)."""
            out = []
            for m in inbox.drain():
                fields = {k: v["Value"] for k, v in (m.get("MessageAttributes") or {}).items()}
                out.append({"subject": m["Subject"], "message": m["Message"], "notice": fields})
            return out

        workflows.notices = notices
        yield workflows


Answer = Callable[[str, Any, bytes], tuple[int, dict, str]]
"""(path, headers, body) of a POST -> (status, headers, text) of the reply."""


class LocalHttp:
    """A local HTTP server on a free port whose POSTs `answer` replies to: Slack stood in, over real HTTP."""

    def __init__(self, answer: Answer, path: str):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                status, headers, text = answer(
                    self.path, self.headers, self.rfile.read(int(self.headers["Content-Length"]))
                )
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class FakeSlack(LocalHttp):
    """Answers webhook POSTs with scripted (status, headers, body) replies, then 200 "ok"."""

    def __init__(self):
        self.replies: list[tuple[int, dict, str]] = []
        self.requests: list[dict] = []
        super().__init__(self._answer, "/services/T000/B000/XXXX")

    def _answer(self, _path: str, _headers: Any, body: bytes) -> tuple[int, dict, str]:
        self.requests.append(json.loads(body))
        return self.replies.pop(0) if self.replies else (200, {}, "ok")


@pytest.fixture
def slack():
    """A local HTTP server standing in for Slack (incoming webhooks and response_url)."""
    fake = FakeSlack()
    yield fake
    fake.close()


def bus_tap(bus: str = "leash-leash"):
    """Create Leash's event bus with a rule that copies what is put on it to a queue; returns a reader."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    try:
        events.create_event_bus(Name=bus)
    except events.exceptions.ResourceAlreadyExistsException:
        pass  # notify_stack creates Leash's bus already
    tap = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": ["leash"]}))
    events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": tap_arn}])

    def read() -> list[dict]:
        """The events put on the bus since the last read (whole EventBridge envelopes)."""
        messages = sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10).get("Messages", [])
        for m in messages:
            sqs.delete_message(QueueUrl=tap, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]

    return read


# Slack's documented limits that slack-sdk's models do not check themselves.
SLACK_FIELD_CHARS, SLACK_MAX_BLOCKS, SLACK_TEXT_CHARS = 2000, 50, 40_000


def assert_within_slack_limits(payload: dict) -> None:
    """The payload is one Slack accepts: slack-sdk's block validators, plus the limits they leave out."""
    from slack_sdk.models.blocks import Block

    from leash.slack_blocks import SLACK_BLOCKS_CHARS

    assert 0 < len(payload["blocks"]) <= SLACK_MAX_BLOCKS
    assert len(payload["text"]) <= SLACK_TEXT_CHARS
    for block in payload["blocks"]:
        Block.parse(
            block
        ).validate_json()  # header 150, section text 3,000 and 10 fields, button value 2,000, ...
        assert all(len(f["text"]) <= SLACK_FIELD_CHARS for f in block.get("fields", []))
        assert all(
            len(e.get("text", "")) <= 3000 for e in block.get("elements", []) if block["type"] == "context"
        )
    assert len(json.dumps(payload["blocks"], ensure_ascii=False)) <= SLACK_BLOCKS_CHARS


def sns_publish_calls() -> list[dict]:
    """Record the parameters of every SNS Publish made by clients created after this call (default session)."""
    calls: list[dict] = []
    boto3.DEFAULT_SESSION.events.register(
        "provide-client-params.sns.Publish", lambda params, **_: calls.append(dict(params))
    )
    return calls


def terminate_instances_event(count: int) -> dict:
    """The TerminateInstances sample, terminating `count` instances in one call (the API allows 1,000)."""
    event = load_event("ec2-terminate-instances-by-human")
    ids = [f"i-0{n:016x}" for n in range(count)]
    detail = event["detail"]
    detail["requestParameters"]["instancesSet"]["items"] = [{"instanceId": i} for i in ids]
    running, stopping = {"code": 16, "name": "running"}, {"code": 32, "name": "shutting-down"}
    detail["responseElements"]["instancesSet"]["items"] = [
        {"instanceId": i, "currentState": stopping, "previousState": running} for i in ids
    ]
    return event


@pytest.fixture
def fail_calls():
    """Make AWS calls fail as AWS fails them: `fail_calls("sns.Publish", "InternalError", times=1, after=0)`.

    A botocore `before-call` hook on boto3's default session raises the ClientError before the request
    reaches moto, for clients created afterwards (call it before load_handler: each client copies the
    session's hooks when it is built); `after` calls go through first. Returns the list of the operations
    failed so far; the hooks are removed at teardown.
    """
    session = boto3._get_default_session()
    hooks, failed = [], []

    def fail(
        operation: str, code: str, times: int = 1, *, after: int = 0, message: str = "injected by the test"
    ):
        passing, left = [after], [times]

        def hook(model, **kwargs):
            if passing[0] > 0:
                passing[0] -= 1
            elif left[0] > 0:
                left[0] -= 1
                failed.append(operation)
                raise ClientError({"Error": {"Code": code, "Message": message}}, model.name)

        event = f"before-call.{operation}"
        session.events.register(event, hook)
        hooks.append((event, hook))
        return failed

    yield fail
    for event, hook in hooks:
        session.events.unregister(event, hook)


def function_url_event(body: str, timestamp: int | str, signature: str) -> dict:
    """A request to the Slack buttons' Function URL, as Lambda hands it over (payload format 2.0)."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/slack/interactions",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": str(timestamp),
            "x-slack-signature": signature,
            "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "leash",
            "domainName": "leash.lambda-url.us-east-1.on.aws",
            "http": {
                "method": "POST",
                "path": "/slack/interactions",
                "protocol": "HTTP/1.1",
                "sourceIp": "3.90.0.1",
                "userAgent": "Slackbot",
            },
            "requestId": "r1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "",
            "timeEpoch": 0,
        },
        "body": body,
        "isBase64Encoded": False,
    }


class FakeSlackApi(LocalHttp):
    """Slack's Web API over real HTTP: chat.postMessage and chat.update, answered as Slack does.

    Scripted replies (status, headers, body) are used first, then {"ok": true, ...}. Each post gets a new
    ts; `calls` keeps (method, JSON body) in the order Slack received them.
    """

    def __init__(self):
        self.replies: list[tuple[int, dict, str]] = []
        self.calls: list[tuple[str, dict]] = []
        self.stamps: list[str] = []  # the ts Slack gave each call
        self.tokens: list[str] = []
        self._lock = threading.Lock()
        self._ts = 0
        super().__init__(self._answer, "/api/")

    def _answer(self, path: str, headers: Any, raw: bytes) -> tuple[int, dict, str]:
        body = json.loads(raw or b"{}")
        with self._lock:
            self.tokens.append(headers.get("Authorization", ""))
            if self.replies:
                status, scripted, text = self.replies.pop(0)
                return status, {"Content-Type": "application/json; charset=utf-8", **scripted}, text
            self._ts += 1
            ts = f"1763845476.{self._ts:06d}"
            self.calls.append((path.rsplit("/", 1)[-1], body))
            self.stamps.append(ts)
        answer = {"ok": True, "channel": body.get("channel", ""), "ts": ts}
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(answer)

    def posts(self) -> list[dict]:
        return [body for method, body in self.calls if method == "chat.postMessage"]

    def parents(self) -> list[dict]:
        return [body for body in self.posts() if not body.get("thread_ts")]

    def parent_stamps(self) -> list[str]:
        """The ts of each parent message (what its replies name as thread_ts)."""
        return [
            ts
            for (method, body), ts in zip(self.calls, self.stamps, strict=True)
            if method == "chat.postMessage" and not body.get("thread_ts")
        ]

    def replies_in(self, thread_ts: str) -> list[dict]:
        return [body for body in self.posts() if body.get("thread_ts") == thread_ts]

    def updates(self) -> list[dict]:
        return [body for method, body in self.calls if method == "chat.update"]


@pytest.fixture
def slack_api():
    """A local HTTP server standing in for Slack's Web API (the bot token's chat.postMessage, chat.update)."""
    fake = FakeSlackApi()
    yield fake
    fake.close()
