"""`leash demo`: CloudTrail samples routed by template.yaml's rules into the real notify handler, on moto."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leash.alerts import Alert, render_text
from leash_cli.template import REPO_ROOT, Router

EVENTS = REPO_ROOT / "events"
ACCOUNT = "111122223333"
DEMO_ENV = {
    "AWS_ACCESS_KEY_ID": "demo",
    "AWS_SECRET_ACCESS_KEY": "demo",
    "AWS_DEFAULT_REGION": "us-east-1",
    "MOTO_ACCOUNT_ID": ACCOUNT,
    "POWERTOOLS_METRICS_NAMESPACE": "Leash",
    "POWERTOOLS_SERVICE_NAME": "notify",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "LEASH_ROLE_PREFIX": "leash",
    "LEASH_AGENT_ROLE_NAMES": "",
    "LEASH_AGENT_ROLE_PREFIX": "ai-agent-",
    "LEASH_AGENT_SESSION_PREFIX": "",
    "LEASH_AGENT_SOURCE_IDENTITY_PREFIX": "",
    "LEASH_EXEMPT_ARNS": f"arn:aws:iam::{ACCOUNT}:role/breakglass-admin",
    "IDEMPOTENCY_TABLE": "leash-idempotency",
}


@dataclass(frozen=True)
class DemoStep:
    event: str
    rules: tuple[str, ...]
    status: str  # "not routed" | handler outcome status
    reason: str
    alert: Alert | None = None


@contextmanager
def emulated_account() -> Iterator[None]:
    """moto in-process, with throwaway credentials: nothing here can reach a real account."""
    from moto import mock_aws

    saved = {k: os.environ.get(k) for k in [*DEMO_ENV, "AWS_PROFILE", "AWS_SESSION_TOKEN", "ALERTS_TOPIC_ARN"]}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update(DEMO_ENV)
    try:
        with mock_aws():
            yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _load_handler(function: str) -> Any:
    name = f"leash_demo_{function}"
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "functions" / function / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class _Context:
    function_name = "leash-notify-demo"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:leash-notify-demo"
    aws_request_id = "demo"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def run_demo(events_dir: Path = EVENTS) -> list[DemoStep]:
    """Play every sample event; return what happened to each (the CLI prints it, tests assert it)."""
    import boto3

    steps: list[DemoStep] = []
    with emulated_account():
        topic = boto3.client("sns").create_topic(Name="leash-alerts")["TopicArn"]
        os.environ["ALERTS_TOPIC_ARN"] = topic
        boto3.client("dynamodb").create_table(
            TableName="leash-idempotency", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        boto3.client("iam").create_role(RoleName="data-pipeline-bot", AssumeRolePolicyDocument="{}",
                                        Tags=[{"Key": "Usage", "Value": "Agent"}])
        router = Router.from_template(account=ACCOUNT)
        notify = _load_handler("notify")
        for path in sorted(events_dir.glob("*.json")):
            event = json.loads(path.read_text())
            rules = tuple(r.name for r in router.route(event))
            if not rules:
                steps.append(DemoStep(path.stem, rules, "not routed", "filtered out by the patterns"))
                continue
            outcome = notify.notifier.handle(event)
            steps.append(DemoStep(path.stem, rules, outcome.status, outcome.reason, outcome.alert))
    return steps


SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan"}


def print_demo(steps: list[DemoStep], console: Any) -> None:
    from rich.panel import Panel
    from rich.table import Table

    console.rule("[bold]Leash demo[/] - CloudTrail samples on an emulated AWS account (moto, no credentials)")
    for step in steps:
        if step.alert:
            style = SEVERITY_STYLE[str(step.alert.severity)]
            console.print(Panel(render_text(step.alert).rstrip(), title=f"[{style}] {step.alert.severity.upper()} [/]",
                                subtitle=f"{step.event} -> {', '.join(step.rules)}", border_style=style.split()[-1],
                                expand=False))
    table = Table(title="What Leash did with each event")
    for col in ("event", "rule", "outcome", "severity / reason"):
        table.add_column(col)
    for step in steps:
        sev = str(step.alert.severity) if step.alert else step.reason
        style = SEVERITY_STYLE.get(sev, "dim")
        table.add_row(step.event, ", ".join(step.rules) or "-", step.status, f"[{style}]{sev}[/]")
    console.print(table)
    alerts = sum(1 for s in steps if s.alert)
    console.print(f"{len(steps)} events, {alerts} alerts, "
                  f"{sum(1 for s in steps if s.status == 'not routed')} filtered out by EventBridge patterns.")
