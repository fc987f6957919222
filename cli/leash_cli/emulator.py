"""An emulated AWS account (moto, in-process) that runs Leash's real handlers and real ASL."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from leash_cli.template import APP_ROOT, deployment_for, load_template

ACCOUNT = "111122223333"
STATE_MACHINES = APP_ROOT / "statemachines"
_THROWAWAY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "emulated",
    "AWS_SECRET_ACCESS_KEY": "emulated",
    "AWS_DEFAULT_REGION": "us-east-1",
    "MOTO_ACCOUNT_ID": ACCOUNT,
}


def _iso_start_time() -> Any:
    """moto hands $$.Execution.StartTime to ASL as a datetime; AWS passes ISO-8601 text with milliseconds,
    which is what States.JsonToString and the aws:TokenIssueTime condition need."""
    from moto.stepfunctions.parser.backend import execution_worker

    original = execution_worker.ExecutionData
    if getattr(original, "leash_iso", False):
        return original

    def execution_data(**fields: Any) -> Any:
        start = fields["StartTime"]
        if not isinstance(start, str):
            fields["StartTime"] = start.strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}Z"
        return original(**fields)

    execution_data.leash_iso = True  # type: ignore[attr-defined]
    execution_worker.ExecutionData = execution_data  # type: ignore[assignment,misc]
    return original


# The services Leash's workflows call through aws-sdk tasks, as Step Functions spells them in error names.
AWS_SDK_ERROR_NAMES = {"iam": "Iam"}


class RetryWaits(list[float]):
    """The waits moto's executor would have slept between Retry attempts, in seconds: recorded, never slept."""

    def sleep(self, seconds: float) -> None:
        self.append(seconds)


#: What the executions of the current emulated account waited between retries (see `RetryWaits`).
retry_waits = RetryWaits()


@contextmanager
def _as_step_functions_names_and_waits() -> Iterator[None]:
    """Two differences between moto's ASL executor and Step Functions, undone while the account lives.

    moto names an aws-sdk task's error after the lower-case service of its Resource (`iam.NoSuchEntityException`)
    where Step Functions writes ServiceName.ErrorName in PascalCase (`Iam.NoSuchEntityException`): taught AWS's
    names, moto lets the shipped ASL carry AWS's spelling only. And moto sleeps the real backoff between Retry
    attempts (`time.sleep` in its RetrierDecl): the waits go to `retry_waits` instead, so tests never sleep.
    """
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as aws_sdk,
    )

    names = dict(aws_sdk._SERVICE_ERROR_NAMES)
    aws_sdk._SERVICE_ERROR_NAMES.update(AWS_SDK_ERROR_NAMES)
    retry_waits.clear()
    retrier_decl.time = retry_waits  # type: ignore[assignment]
    try:
        yield
    finally:
        retrier_decl.time = time
        aws_sdk._SERVICE_ERROR_NAMES.clear()
        aws_sdk._SERVICE_ERROR_NAMES.update(names)


@contextmanager
def one_snapshot_per_transaction() -> Iterator[None]:
    """moto backs a TransactWriteItems up by deep-copying the whole table once per item: 100 copies of
    the spike table, markers and all, for each transaction (tens of seconds per batch). The rollback
    only needs the items the transaction writes as they were: for a table keyed by a hash key alone,
    the backup here is a copy of the table's index of items with only those items deep-copied, made once
    per call. Same behaviour (tables with a sort key keep moto's full copy), far less work."""
    import copy
    from types import SimpleNamespace

    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend, Table
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "leash_one_snapshot", False):
        yield
        return

    def transact_write_items(self: Any, transact_items: Any) -> None:
        written: dict[str, set[DynamoType]] = {}
        for entry in transact_items:
            (op,) = entry.values()
            keys = op.get("Key") or op.get("Item") or {}
            table = self.tables.get(op.get("TableName"))
            if table is not None and table.hash_key_attr in keys:
                written.setdefault(table.name, set()).add(DynamoType(keys[table.hash_key_attr]))
        backups: dict[int, Any] = {}

        def backup(value: Any, memo: Any = None) -> Any:
            if not isinstance(value, Table):
                return copy.deepcopy(value, memo)
            if id(value) in backups:  # the tables live through the call: their ids are stable
                return backups[id(value)]
            if value.has_range_key:
                backups[id(value)] = copy.deepcopy(value, memo)
            else:
                kept = copy.copy(value)
                kept.items = copy.copy(value.items)
                for key in written.get(value.name, ()):
                    if key in value.items:
                        kept.items[key] = copy.deepcopy(value.items[key])
                backups[id(value)] = kept
            return backups[id(value)]

        models.copy = SimpleNamespace(deepcopy=backup)  # type: ignore[assignment]
        try:
            original(self, transact_items)
        finally:
            models.copy = copy

    transact_write_items.leash_one_snapshot = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


@contextmanager
def emulated_account(env: Mapping[str, str] | None = None) -> Iterator[None]:
    """moto with ASL execution and throwaway credentials: nothing here can reach a real account."""
    keys = [*_THROWAWAY_CREDENTIALS, *(env or {}), "AWS_PROFILE", "AWS_SESSION_TOKEN"]
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update(_THROWAWAY_CREDENTIALS)
    os.environ.update(env or {})
    # Imported only now: importing moto's backends reads the AWS configuration of the environment.
    from moto import mock_aws
    from moto.stepfunctions.parser.backend import execution_worker

    original = _iso_start_time()
    # moto logs every expected workflow failure (refusals, NoSuchEntity) at ERROR: the notices say it better.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    try:
        with (
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
            one_snapshot_per_transaction(),
            _as_step_functions_names_and_waits(),
        ):
            yield
    finally:
        execution_worker.ExecutionData = original  # type: ignore[misc]
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def create_tables(tables: Mapping[str, str]) -> None:
    """Create DynamoDB tables as template.yaml declares them (keys, indexes, billing): logical ID -> table name."""
    import boto3

    resources = load_template()["Resources"]
    dynamodb = boto3.client("dynamodb")
    for logical_id, name in tables.items():
        props = resources[logical_id]["Properties"]
        indexes = (
            {"GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"]}
            if "GlobalSecondaryIndexes" in props
            else {}
        )
        dynamodb.create_table(
            TableName=name,
            BillingMode=props["BillingMode"],
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            **indexes,
        )


def leash_role_names(region: str = "us-east-1") -> str:
    """The LeashRoleNames substitution of the workflows (every role of template.yaml), for default parameters."""
    template = load_template()
    names = template["Resources"]["LockdownStateMachine"]["Properties"]["DefinitionSubstitutions"][
        "LeashRoleNames"
    ]
    return str(deployment_for(template, region=region).resolve(names))


class Workflows:
    """Leash's state machines created from statemachines/*.asl.json, with executions run to their end."""

    def __init__(self, substitutions: Mapping[str, str]):
        import boto3

        self.sfn = boto3.client("stepfunctions")
        self.arns: dict[str, str] = {}
        self._count = 0
        # Leash's own roles, which the workflows refuse to lock: as template.yaml names them, unless given.
        substitutions = {"LeashRoleNames": leash_role_names(), **substitutions}
        for name in ("lockdown", "release"):
            text = (STATE_MACHINES / f"{name}.asl.json").read_text()
            for key, value in substitutions.items():
                text = text.replace("${" + key + "}", value)
            if "${" in text:
                raise ValueError(f"{name}.asl.json needs a substitution that was not given")
            self.arns[name] = self.sfn.create_state_machine(
                name=f"leash-{name}",
                definition=text,
                type="STANDARD",
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/leash-{name}-us-east-1",
            )["stateMachineArn"]

    def start(self, name: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        self._count += 1
        arn = self.sfn.start_execution(
            stateMachineArn=self.arns[name], name=f"{name}-{self._count}", input=json.dumps(payload)
        )["executionArn"]
        return self.wait(arn)

    def wait(self, execution_arn: str) -> dict[str, Any]:
        """Join moto's worker threads: the execution has ended when this returns (no sleeping, no polling)."""
        from moto.stepfunctions.parser.utils import TMP_THREADS

        for thread in list(TMP_THREADS):
            thread.join(timeout=60)
        result = self.sfn.describe_execution(executionArn=execution_arn)
        history = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        entered = [e for e in history if e["type"].endswith("StateEntered")]
        result["transitions"] = len(entered)
        result["states"] = [e["stateEnteredEventDetails"]["name"] for e in entered]
        return result
