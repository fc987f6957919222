"""Act on each CloudTrail eventID once: Powertools idempotency on DynamoDB (records expire after a TTL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from leash.notify import Once, Outcome


def once_per_event(
    table_name: str, key_prefix: str, ttl_seconds: int = 86_400, *, dynamodb_client: Any = None
) -> tuple[Once, IdempotencyConfig]:
    """Act on each CloudTrail eventID once (Powertools idempotency on DynamoDB, records expire after TTL).

    Returns the runner and the IdempotencyConfig (to register the Lambda context on).
    """
    state: dict[str, Any] = {"work": None, "replayed": False}

    def mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
        state["replayed"] = True
        return response

    config = IdempotencyConfig(
        event_key_jmespath="event_id", expires_after_seconds=ttl_seconds, response_hook=mark_replayed
    )
    # The handler's own client: a new boto3 Session would load every service model again at cold start.
    store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb_client)

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="call", persistence_store=store, config=config, key_prefix=key_prefix
    )
    def run(call: dict[str, str]) -> dict[str, Any]:
        work: Callable[[], Outcome] = state["work"]
        return work().to_record()

    def once(event_id: str, work: Callable[[], Outcome]) -> tuple[Outcome, bool]:
        state["work"], state["replayed"] = work, False
        try:
            result = run(call={"event_id": event_id})
        except IdempotencyAlreadyInProgressError:
            # The same event is being handled right now by a concurrent delivery.
            return Outcome("ignored", "a concurrent delivery of this event is being handled"), True
        return Outcome.from_record(result), state["replayed"]

    return once, config
