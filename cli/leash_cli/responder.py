"""The responder's commands against a deployed Leash stack: lock down, release, status."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class ResponderError(Exception):
    """Something the responder can fix; the message says what."""


@dataclass(frozen=True)
class Stack:
    name: str
    region: str
    lockdown_arn: str
    release_arn: str
    ledger_table: str


def find_stack(session: Any, name: str) -> Stack:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except NoCredentialsError as exc:
        raise ResponderError(
            "No AWS credentials found. Configure them (aws configure, AWS_PROFILE, SSO) and retry."
        ) from exc
    except NoRegionError as exc:
        raise ResponderError("No AWS region set: pass --region or set AWS_REGION.") from exc
    except EndpointConnectionError as exc:
        raise ResponderError(
            f"Cannot reach CloudFormation in region {session.region_name!r}: is the region right?"
        ) from exc
    except ClientError as exc:
        if "does not exist" in str(exc):
            raise ResponderError(
                f"Stack {name!r} not found in {session.region_name}. Deploy Leash there, or pass "
                "--stack-name / --region."
            ) from exc
        raise ResponderError(f"CloudFormation refused: {exc}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = {"LockdownStateMachineArn", "ReleaseStateMachineArn", "LedgerTableName"} - set(outputs)
    if missing:
        raise ResponderError(
            f"Stack {name!r} has no {', '.join(sorted(missing))} output: is it a Leash stack?"
        )
    return Stack(
        name,
        session.region_name,
        outputs["LockdownStateMachineArn"],
        outputs["ReleaseStateMachineArn"],
        outputs["LedgerTableName"],
    )


@dataclass(frozen=True)
class Outcome:
    status: str  # SUCCEEDED | FAILED | ...
    headline: str
    detail: str
    refused: bool
    execution_arn: str


def run_workflow(
    session: Any,
    state_machine_arn: str,
    payload: dict[str, Any],
    sleep: Callable[[float], None] | None = None,
    timeout_seconds: float = 300,
) -> Outcome:
    """Start an execution and wait for its end; the outcome is what the workflow notified."""
    sleep = sleep or time.sleep
    sfn = session.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=state_machine_arn, input=json.dumps(payload))["executionArn"]
    waited = 0.0
    result = sfn.describe_execution(executionArn=arn)
    while result["status"] == "RUNNING" and waited < timeout_seconds:
        sleep(1.0)
        waited += 1.0
        result = sfn.describe_execution(executionArn=arn)
    if result["status"] == "RUNNING":
        return Outcome("RUNNING", f"still running after {timeout_seconds:.0f} s", arn, False, arn)
    state = json.loads(result.get("output") or "{}")
    notice = state.get("notice") or {}
    if not notice:  # Fail states carry no output: the history's last state input holds the notice
        for event in reversed(
            sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=50)["events"]
        ):
            details = event.get("stateEnteredEventDetails")
            if details and "notice" in (data := json.loads(details.get("input") or "{}")):
                notice = data["notice"]
    headline = (
        notice.get("headline")
        or f"{result['status']}: {result.get('error', '')} {result.get('cause', '')}".strip()
    )
    return Outcome(
        result["status"],
        headline,
        notice.get("detail", result.get("cause", "")),
        result.get("error") == "Leash.PrincipalRefused",
        arn,
    )


def recent_ledger(session: Any, table: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest ledger records (lockdowns, releases, remediations, acknowledgements)."""
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    items: list[dict[str, Any]] = []
    paginator = session.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(TableName=table):
        items += [{k: des.deserialize(v) for k, v in item.items()} for item in page["Items"]]
    items = [i for i in items if i.get("sk") != "keys"]
    return sorted(items, key=lambda i: str(i.get("time", "")), reverse=True)[:limit]
