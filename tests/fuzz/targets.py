"""The fuzz targets: every handler of functions/ on moto, fed mutants of every sample in events/.

Each target builds its handler as Lambda would (functions/<name>/app.py imported fresh, with the
environment template.yaml gives it) in a moto account, and turns a case number into one input:
a mutated CloudTrail event (notify, reapply), an SQS batch of them (spikes), a forged SNS message
(the Slack forwarder), or a forged or hostile Function URL request (interactions). A case fails when
the handler raises (an unhandled exception: Lambda would retry it, then dead-letter it) or breaks
the target's promise (a forged request answered other than 4xx, or with a side effect; a malformed
spike record not reported as failed, or reported twice).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlencode

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:  # `make fuzz` runs this outside pytest; conftest holds the shared helpers
    sys.path.insert(0, str(TESTS))

from conftest import (  # noqa: E402
    ACCOUNT,
    BOUNDARY_ARN,
    EVENTS,
    GUARDRAIL_POLICY_ARN,
    FakeSlack,
    LambdaContext,
    function_url_event,
    load_handler,
    own_resources,
)
from mutate import HUGE, KEY_LIMIT, LONE_SURROGATE, UNDECODABLE, cloudtrail_mutant, mutate, rng_uuid  # noqa: E402

SAMPLES = {path.stem: json.loads(path.read_text()) for path in sorted(EVENTS.glob("*.json"))}
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ALLOWED_USERS = ("U0ONCALL", "U0LEAD")
_BASE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "MOTO_ACCOUNT_ID": ACCOUNT,
    "POWERTOOLS_METRICS_NAMESPACE": "Leash",
    "POWERTOOLS_DEV": "false",
}
# `make fuzz` silences the handlers' logs (20,000 log lines say nothing its table does not). Under pytest
# they stay: Powertools loggers of one service share a logging.Logger, so a level set here would stick.
QUIET = {"POWERTOOLS_LOG_LEVEL": "CRITICAL"}
quiet_logs = False


class Violation(AssertionError):
    """The handler returned, but not what it promises for this input."""


@dataclass
class Case:
    input: Any
    check: Callable[[Any], None] = lambda result: None  # raises Violation


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _template_env(functions: list[str], resources: dict[str, str]) -> dict[str, str]:
    from leash_cli.template import function_environment, load_template

    return function_environment(
        load_template(),
        functions,
        {
            "GuardrailPolicyArns": GUARDRAIL_POLICY_ARN,
            "AgentPermissionsBoundaryArn": BOUNDARY_ARN,
            "ExemptPrincipalArns": f"arn:aws:iam::{ACCOUNT}:role/breakglass-admin",
        },
        resources,
        account=ACCOUNT,
    )


class World:
    """One moto account with what every handler needs; the handlers are loaded as on a cold start."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> World:
        self._stack.enter_context(_environment(_BASE_ENV))
        from moto import mock_aws

        self._stack.enter_context(mock_aws())
        import boto3

        # Leash's own resources as its stack would list them (the handlers' ListStackResources).
        known = own_resources()
        self._stack.enter_context(mock.patch("leash.wiring.own_resources", lambda *_: lambda: known))

        from leash_cli.emulator import create_tables

        create_tables(
            {
                "IdempotencyTable": "leash-idempotency",
                "LedgerTable": "leash-ledger",
                "SpikeTable": "leash-spikes",
                "IncidentTable": "leash-incidents",
            }
        )
        self.topic = boto3.client("sns").create_topic(Name="leash-alerts")["TopicArn"]
        boto3.client("events").create_event_bus(Name="leash-leash")
        sqs = boto3.client("sqs")
        self.slack_dlq = sqs.create_queue(QueueName="leash-slack-dlq")["QueueUrl"]
        self.slack_queue = sqs.create_queue(QueueName="leash-slack.fifo", Attributes={"FifoQueue": "true"})[
            "QueueUrl"
        ]
        secrets = self.secrets = boto3.client("secretsmanager")
        self.signing_secret = secrets.create_secret(Name="leash/slack-signing", SecretString=SIGNING_SECRET)[
            "ARN"
        ]
        self.sfn = boto3.client("stepfunctions")
        self.state_machines = {
            name: self.sfn.create_state_machine(
                name=f"leash-{name}",
                definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/leash-{name}",
            )["stateMachineArn"]
            for name in ("lockdown", "release")
        }
        self.dynamodb = boto3.client("dynamodb")
        self.context = LambdaContext()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def start_slack(self) -> None:
        """A local stand-in for Slack (webhook and response_url), and the webhook's secret."""
        self.slack = FakeSlack()
        self._stack.callback(self.slack.close)
        self.webhook_secret = self.secrets.create_secret(
            Name="leash/slack-webhook", SecretString=json.dumps({"webhook_url": self.slack.url})
        )["ARN"]

    def handler(self, function: str, logical_id: str, **extra_env: str) -> Any:
        """functions/<function>/app.py, imported with the environment template.yaml gives it."""
        env = _template_env(
            [logical_id],
            {
                "IdempotencyTable": "leash-idempotency",
                "LedgerTable": "leash-ledger",
                "SpikeTable": "leash-spikes",
                "LeashEventBus": "leash-leash",
                "AlertsTopic": self.topic,
                "SlackDeadLetterQueue": self.slack_dlq,
                "SlackQueue": self.slack_queue,
                "IncidentTable": "leash-incidents",
                "LockdownStateMachine": self.state_machines["lockdown"],
                "ReleaseStateMachine": self.state_machines["release"],
            },
        )
        # A service name of its own: Powertools loggers of one service share a logging.Logger and its stream,
        # which other tests in the same worker read (capsys).
        service = {"POWERTOOLS_SERVICE_NAME": f"fuzz-{function}"}
        os.environ.update({**env, **extra_env, **service, **(QUIET if quiet_logs else {})})
        return load_handler(function, f"leash_fuzz_{function}")

    def invoke(self, handler: Any, event: Any) -> Any:
        with contextlib.redirect_stdout(io.StringIO()):  # the EMF metrics print, once per invocation
            return handler.lambda_handler(event, self.context)

    def effects(self) -> tuple[int, int, int]:
        """What a click can do: workflow executions started, ledger rows written, Slack messages updated."""
        return self.executions(), self.ledger_rows(), len(self.slack.requests)

    def executions(self) -> int:
        return sum(
            len(self.sfn.list_executions(stateMachineArn=arn)["executions"])
            for arn in self.state_machines.values()
        )

    def ledger_rows(self) -> int:
        return int(self.dynamodb.scan(TableName="leash-ledger", Select="COUNT")["Count"])


def _sample(r: random.Random) -> dict[str, Any]:
    return SAMPLES[r.choice(sorted(SAMPLES))]


def _sample_for(i: int) -> dict[str, Any]:
    """Every sample in turn: case i mutates sample i mod n."""
    names = sorted(SAMPLES)
    return SAMPLES[names[i % len(names)]]


# ---------------------------------------------------------------- notify and reapply: CloudTrail mutants


def _handler_result(result: Any) -> None:
    if not isinstance(result, dict) or result.get("status") not in (
        "published",
        "duplicate",
        "ignored",
        "rejected",
    ):
        raise Violation(f"not an outcome: {str(result)[:200]}")


class CloudTrailTarget:
    def __init__(self, name: str, function: str, logical_id: str):
        self.name, self._function, self._logical_id = name, function, logical_id

    def setup(self, world: World) -> None:
        self._world = world
        self._handler = world.handler(self._function, self._logical_id)

    def case(self, r: random.Random, i: int) -> Case:
        return Case(cloudtrail_mutant(r, _sample_for(i)), _handler_result)

    def run(self, case: Case) -> Any:
        return self._world.invoke(self._handler, case.input)


# ---------------------------------------------------------------- spikes: SQS batches of mutants


def _sqs_record(body: str, message_id: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:{ACCOUNT}:leash-spikes",
        "awsRegion": "us-east-1",
    }


class SpikesTarget:
    name = "spikes"

    def setup(self, world: World) -> None:
        self._world = world
        self._handler = world.handler("spikes", "SpikeFunction")

    def case(self, r: random.Random, i: int) -> Case:
        records = []
        for n in range(r.randint(1, 5)):
            event = _sample_for(i + n)
            body: Any = json.dumps(cloudtrail_mutant(r, event) if r.random() < 0.8 else event)
            if r.random() < 0.1:
                body = r.choice(
                    ("", "not json", "[]", "null", '{"Records": 5}', 5, None, HUGE, LONE_SURROGATE)
                )
            records.append(_sqs_record(body, f"m-{i}-{n}"))
        batch: Any = {"Records": records}
        if r.random() < 0.1:
            batch = mutate(r, batch)
        ids = [rec["messageId"] for rec in records]

        def check(result: Any) -> None:
            if not isinstance(result, dict) or not isinstance(result.get("batchItemFailures"), list):
                raise Violation(f"not a partial batch response: {str(result)[:200]}")
            failed = [
                repr(f.get("itemIdentifier")) for f in result["batchItemFailures"]
            ]  # any type, hashable
            if len(failed) != len(set(failed)):
                raise Violation("a record is reported failed twice")
            if (
                isinstance(batch, dict)
                and batch.get("Records") is records
                and not set(failed) <= set(map(repr, ids))
            ):
                raise Violation(f"unknown records reported failed: {set(failed) - set(ids)}")

        return Case(batch, check)

    def run(self, case: Case) -> Any:
        return self._world.invoke(self._handler, case.input)


# ---------------------------------------------------------------- the Slack forwarder: forged SNS messages


def _real_alerts() -> list[dict[str, Any]]:
    """The JSON body SNS gives Lambda subscribers, for the alert of every sample that alerts."""
    from leash.notify import Notifier
    from leash.publish import sns_message
    from leash.settings import ActorConfig

    published: list[Any] = []
    notifier = Notifier(ActorConfig(agent_role_prefix="ai-agent-"), lambda a: (published.append(a), "m-1")[1])
    for event in SAMPLES.values():
        notifier.handle(event)
    return [json.loads(json.loads(sns_message(a)["Message"])["default"]) for a in published]


_NOTICE = {
    "workflow": "lockdown",
    "kind": "lockdown-applied",
    "severity": "critical",
    "principal": f"arn:aws:sts::{ACCOUNT}:assumed-role/ai-agent-deploy/sess_a8f3b21c",
    "headline": "LOCKDOWN applied to ai-agent-deploy",
    "detail": "LeashEmergencyDenyAll and LeashRevokeOlderSessions are on the role.",
    "request": "Requested by slack:U0ONCALL (jordan) (slack); reason: agent probing its fence",
    "execution": f"arn:aws:states:us-east-1:{ACCOUNT}:execution:leash-lockdown:x",
}
_ALARM = {
    "AlarmName": "leash-DeniedCallsAlarm",
    "AlarmDescription": "Denied calls across the account are spiking.",
    "AWSAccountId": ACCOUNT,
    "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed",
    "StateChangeTime": "2026-11-22T21:10:00.000+0000",
    "AlarmArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:leash-DeniedCallsAlarm",
}


class ForwarderTarget:
    name = "slack_forwarder"

    def setup(self, world: World) -> None:
        self._world = world
        world.start_slack()
        self._handler = world.handler(
            "slack_forwarder", "SlackForwarderFunction", SLACK_WEBHOOK_SECRET_ARN=world.webhook_secret
        )
        self._alerts = _real_alerts()

    def _message(self, r: random.Random) -> tuple[Any, Any]:
        kind = r.randrange(6)
        attributes: Any = {}
        if kind == 0:  # a real alert, mutated
            message: Any = json.dumps(mutate(r, r.choice(self._alerts)))
        elif kind == 1:  # a workflow notice ("LOCKDOWN applied"), forged or mutated
            notice = mutate(r, _NOTICE) if r.random() < 0.7 else dict(_NOTICE)
            attributes = (
                {k: {"Type": "String", "Value": v} for k, v in notice.items()}
                if isinstance(notice, dict)
                else notice
            )
            if r.random() < 0.3:
                attributes = mutate(r, attributes)
            message = "LOCKDOWN applied"
        elif kind == 2:  # a CloudWatch alarm, mutated
            message = json.dumps(mutate(r, _ALARM))
        elif kind == 3:  # Leash-looking JSON with wrong types
            message = json.dumps(mutate(r, {"severity": "critical", "event_id": "x", "title": "t"}))
        elif kind == 4:  # not JSON, or not a string at all
            message = r.choice(
                ("", "plain text", "{", "[1,2]", "null", HUGE, LONE_SURROGATE + UNDECODABLE, 5, None, [], {})
            )
        else:
            message = json.dumps(r.choice(self._alerts))
        return message, attributes

    def case(self, r: random.Random, i: int) -> Case:
        records = []
        for _ in range(r.choice((1, 1, 1, 2))):
            message, attributes = self._message(r)
            records.append(
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": f"{self._world.topic}:{rng_uuid(r)}",
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": rng_uuid(r),
                        "TopicArn": self._world.topic,
                        "Subject": r.choice(("[Leash CRITICAL] x", None, "", 5, KEY_LIMIT)),
                        "Message": message,
                        "Timestamp": "2026-11-22T21:04:40.000Z",
                        "MessageAttributes": attributes,
                    },
                }
            )
        event: Any = {"Records": records}
        if r.random() < 0.2:
            event = mutate(r, event)
        return Case(event, lambda result: None)

    def run(self, case: Case) -> Any:
        return self._world.invoke(self._handler, case.input)


# ---------------------------------------------------------------- interactions: forged Function URL requests


def _signature(secret: str, timestamp: str, body: str) -> str:
    from slack_sdk.signature import SignatureVerifier

    return SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)


def _click(r: random.Random, response_url: str) -> dict[str, Any]:
    from leash.slack_blocks import ACKNOWLEDGE, LOCKDOWN, RELEASE, button_value

    return {
        "type": "block_actions",
        "user": {"id": r.choice((*ALLOWED_USERS, "U0INTRUDER")), "username": "jordan"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": r.choice((LOCKDOWN, RELEASE, ACKNOWLEDGE)),
                "block_id": "leash_actions",
                "type": "button",
                "value": button_value(
                    f"arn:aws:sts::{ACCOUNT}:assumed-role/ai-agent-deploy/sess_a8f3b21c",
                    rng_uuid(r),
                    "agent deleted prod-db",
                ),
            }
        ],
        "message": {
            "text": "CRITICAL",
            "blocks": [{"type": "actions", "block_id": "leash_actions", "elements": []}],
        },
    }


def _forge(r: random.Random, event: dict[str, Any], body: str, now: int) -> None:
    """Make a signed request unverifiable: every forged case gets at least one of these."""
    headers = event["headers"]
    headers.setdefault("x-slack-request-timestamp", str(now))
    choice = r.randrange(12)
    if choice == 0:
        headers.update(
            {
                "x-slack-request-timestamp": str(now),
                "x-slack-signature": _signature("not-the-secret", str(now), body),
            }
        )
    elif choice == 1:
        event["body"] = body + "&x=1"  # tampered after signing
    elif choice == 2:
        stale = str(now - r.choice((301, 3600, 10**6)))
        headers.update(
            {"x-slack-request-timestamp": stale, "x-slack-signature": _signature(SIGNING_SECRET, stale, body)}
        )
    elif choice == 3:
        headers.pop("x-slack-signature", None)
    elif choice == 4:
        headers["x-slack-signature"] = r.choice(
            (
                "",
                "v0=",
                "v1=abc",
                "v0=" + "0" * 64,
                "v0=é" + "a" * 62,
                "v0=\ud800",
                "x" * 5000,
                5,
                None,
                ["v0=a"],
            )
        )
    elif choice == 5:
        headers["x-slack-request-timestamp"] = r.choice(
            ("", "abc", "1e10", "-1", "1.5", "٣٣٣", "9" * 5000, " 1 ", str(now) + "\x00", 5, None, [str(now)])
        )
    elif choice == 6:
        headers.pop("x-slack-request-timestamp", None)
    elif choice == 7:  # the base64 flag lies: a plain body announced as base64
        event["isBase64Encoded"] = True
    elif choice == 8:  # a base64 body announced as plain
        event["body"] = base64.b64encode(body.encode()).decode()
    elif choice == 9:  # a body that is not UTF-8
        event.update(
            body=base64.b64encode(r.choice((b"\xff\xfe", b"payload=\xc3\x28", b"\x00" * 10))).decode(),
            isBase64Encoded=True,
        )
    elif choice == 10:  # huge body, signed with another secret
        event["body"] = body + "&pad=" + "A" * r.choice((300_000, 6_000_000))
    else:  # a body with characters UTF-8 cannot carry
        event["body"] = body + LONE_SURROGATE


def _odd_request(r: random.Random, event: dict[str, Any]) -> Any:
    """Oddities on top of the forgery: routing, header shapes, types."""
    choice = r.randrange(8)
    if choice == 0:
        event["requestContext"] = r.choice((None, "x", {}, {"http": "x"}, {"http": {"method": "GET"}}))
    elif choice == 1:
        event["rawPath"] = r.choice(("/", "/slack/interactions/", 5, None, "/SLACK/INTERACTIONS"))
    elif choice == 2:
        event["headers"] = r.choice(
            (None, "x", [], {5: "x"}, {"X-Slack-Signature": ["a"], "X-Slack-Request-Timestamp": 5})
        )
    elif choice == 3:
        event["body"] = r.choice((None, 5, [], {"payload": "x"}, b"bytes"))
    elif choice == 4:
        event["isBase64Encoded"] = r.choice(("false", 1, [], None))
    elif choice == 5:
        return r.choice((None, [], "x", 5))
    elif choice == 6:
        return mutate(r, event)
    return event


class InteractionsTarget:
    """Forged requests: never anything but 4xx, never a side effect (no workflow, no ledger row, no Slack update)."""

    name = "interactions"

    def setup(self, world: World) -> None:
        self._world = world
        world.start_slack()
        self._handler = world.handler(
            "interactions",
            "InteractionsFunction",
            SLACK_SIGNING_SECRET_ARN=world.signing_secret,
            LEASH_SLACK_LOCKDOWN_USERS=",".join(ALLOWED_USERS),
            LEASH_SLACK_RELEASE_USERS="U0LEAD",
        )
        self._effects = world.effects()

    def case(self, r: random.Random, i: int) -> Case:
        now = int(time.time())
        body = urlencode({"payload": json.dumps(_click(r, self._world.slack.url))})
        event = function_url_event(body, str(now), _signature(SIGNING_SECRET, str(now), body))
        if r.random() < 0.4:
            event = _odd_request(r, event)
        if isinstance(event, dict) and isinstance(event.get("headers"), dict):
            _forge(r, event, body, now)  # last, so that no oddity can undo it
        before = self._effects

        def check(result: Any) -> None:
            status = result.get("statusCode") if isinstance(result, dict) else None
            if status not in (400, 401, 403, 404):
                raise Violation(f"forged request answered {status}, not 4xx")
            after = self._effects = self._world.effects()
            if after != before:
                raise Violation(
                    f"forged request had a side effect (executions, ledger rows, Slack updates): {before} -> {after}"
                )

        return Case(event, check)

    def run(self, case: Case) -> Any:
        return self._world.invoke(self._handler, case.input)


class SignedInteractionsTarget(InteractionsTarget):
    """Validly signed requests with hostile payloads (a compromised Slack app, a bug): never a 5xx or a crash."""

    name = "interactions_signed"

    def case(self, r: random.Random, i: int) -> Case:
        now = int(time.time())
        click: Any = _click(r, self._world.slack.url)
        if r.random() < 0.5:
            value = json.loads(click["actions"][0]["value"])
            click["actions"][0]["value"] = (
                json.dumps(mutate(r, value)) if r.random() < 0.8 else mutate(r, value)
            )
        if r.random() < 0.7:
            click = mutate(r, click)
            if (
                isinstance(click, dict)
                and isinstance(click.get("response_url"), str)
                and click["response_url"] != self._world.slack.url
            ):
                click["response_url"] = "http://127.0.0.1:9/not-slack"  # never the network
        try:
            payload = json.dumps(click)
        except (TypeError, ValueError):
            payload = str(click)
        body = urlencode({"payload": payload}) if r.random() < 0.9 else payload
        try:
            signature = _signature(SIGNING_SECRET, str(now), body)
        except UnicodeEncodeError:
            signature = "v0=unsignable"
        event = function_url_event(body, str(now), signature)

        def check(result: Any) -> None:
            status = result.get("statusCode") if isinstance(result, dict) else None
            if not isinstance(status, int) or status >= 500:
                raise Violation(f"signed request answered {status}")

        return Case(event, check)


TARGETS: dict[str, Callable[[], Any]] = {
    "notify": lambda: CloudTrailTarget("notify", "notify", "NotifyFunction"),
    "reapply": lambda: CloudTrailTarget("reapply", "reapply", "ReapplyFunction"),
    "spikes": SpikesTarget,
    "slack_forwarder": ForwarderTarget,
    "interactions": InteractionsTarget,
    "interactions_signed": SignedInteractionsTarget,
}


@dataclass
class Failure:
    kind: str  # the exception's type, or "violation"
    where: str  # the innermost frame in Leash's code: path:line function
    message: str
    first_case: int
    count: int = 0


@dataclass
class Tally:
    target: str
    seed: int
    cases: int = 0
    failures: dict[tuple[str, str], Failure] = field(default_factory=dict)

    @property
    def exceptions(self) -> int:
        return sum(f.count for f in self.failures.values() if f.kind != "violation")

    @property
    def violations(self) -> int:
        return sum(f.count for f in self.failures.values() if f.kind == "violation")


ROOT = TESTS.parent


def where(exc: BaseException) -> str:
    """The innermost frame of the traceback in Leash's own code (layers/, functions/), else the innermost."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    ours = [
        f
        for f in frames
        if f.filename.startswith(str(ROOT)) and "/.venv" not in f.filename and "/tests/" not in f.filename
    ]
    frame = (ours or frames)[-1] if (ours or frames) else None
    if frame is None:
        return "?"
    path = Path(frame.filename)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    return f"{shown}:{frame.lineno} {frame.name}"


def case_rng(seed: int, target: str, i: int) -> random.Random:
    return random.Random(f"{seed}:{target}:{i}")


def run_target(name: str, seed: int, start: int, count: int, world_size: int = 500) -> Tally:
    """Cases start..start+count-1 of one target; a new moto account (and cold start) every world_size cases."""
    tally = Tally(name, seed)
    for chunk in range(start, start + count, world_size):
        with World() as world:
            target = TARGETS[name]()
            target.setup(world)
            for i in range(chunk, min(chunk + world_size, start + count)):
                case = target.case(case_rng(seed, name, i), i)
                try:
                    case.check(target.run(case))
                except Violation as exc:
                    key = ("violation", str(exc)[:120])
                    failure = tally.failures.setdefault(key, Failure("violation", "-", str(exc)[:300], i))
                    failure.count += 1
                except Exception as exc:  # noqa: BLE001 - what the fuzz is for
                    key = (type(exc).__name__, where(exc))
                    failure = tally.failures.setdefault(key, Failure(key[0], key[1], str(exc)[:300], i))
                    failure.count += 1
                tally.cases += 1
    return tally
