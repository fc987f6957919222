"""The audit ledger: one DynamoDB item per action Leash took or refused, linked to its CloudTrail eventID."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeSerializer

_SERIALIZE = TypeSerializer().serialize

# Every ledger record carries FEED_ATTRIBUTE = FEED, so it lands in the table's sparse TIME_INDEX
# (partition FEED, sort key `time`): `leash status` queries it newest first. The workflows' WriteLedger
# states write the same attribute; helper items (a lockdown's remembered keys) do not, and stay out.
FEED_ATTRIBUTE = "feed"
FEED = "ledger"
TIME_INDEX = "byTime"


class Ledger:
    def __init__(
        self,
        dynamodb_client: Any,
        table_name: str,
        retention_days: int = 365,
        clock: Callable[[], float] = time.time,
    ):
        self._dynamodb = dynamodb_client
        self._table = table_name
        self._retention = retention_days * 86_400
        self._clock = clock

    def record(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Write one record; `entry` holds eventId, action, actor, resource, protection, outcome, detail..."""
        now = self._clock()
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        item = {
            "pk": f"event#{entry['eventId']}",
            "sk": f"{stamp}#{entry.get('protection') or entry.get('kind', 'action')}",
            "time": stamp,
            "expiresAt": int(now + self._retention),
            **{k: _plain(v) for k, v in entry.items() if v is not None},
            FEED_ATTRIBUTE: FEED,  # after the entry: no entry can take a record out of the index
        }
        self._dynamodb.put_item(TableName=self._table, Item={k: _SERIALIZE(v) for k, v in item.items()})
        return item


def _plain(value: Any) -> Any:
    """Ledger values stay readable: scalars as they are, anything else as JSON text."""
    if isinstance(value, str | int | bool):
        return value
    return json.dumps(value, sort_keys=True, default=str)
