"""The audit ledger: one DynamoDB item per action Leash took or refused, linked to its CloudTrail eventID."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from leash.fit import CLIPPED, clip_text

_SERIALIZE = TypeSerializer().serialize
_DESERIALIZE = TypeDeserializer().deserialize

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
        item = self._item(entry)
        self._dynamodb.put_item(TableName=self._table, Item=_serialized(item))
        return item

    def record_once(self, entry: Mapping[str, Any], step: str) -> tuple[dict[str, Any], bool]:
        """Write the record of one step about an event unless it exists: (the stored record, whether this wrote it).

        The key is the step's own (pk event#<eventId>, sk <step>), so a retried step finds its first record
        instead of writing a second; the `time` and `feed` attributes keep it in `leash status`.
        """
        item = self._item(entry, sort_key=step)
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=_serialized(item),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",  # the earlier record, without a GetItem
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return _plain_item(exc.response.get("Item") or {}), False
        return item, True

    def recorded(self, event_id: str, step: str) -> dict[str, Any] | None:
        """The record `record_once` wrote for this event and step, or None."""
        response = self._dynamodb.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"event#{event_id}"}, "sk": {"S": step}},
            ConsistentRead=True,
        )
        return _plain_item(response["Item"]) if response.get("Item") else None

    def _item(self, entry: Mapping[str, Any], sort_key: str | None = None) -> dict[str, Any]:
        now = self._clock()
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        item = {
            "pk": f"event#{entry['eventId']}",
            "sk": sort_key or f"{stamp}#{entry.get('protection') or entry.get('kind', 'action')}",
            "time": stamp,
            "expiresAt": int(now + self._retention),
            **{k: _plain(v) for k, v in entry.items() if v is not None},
            FEED_ATTRIBUTE: FEED,  # after the entry: no entry can take a record out of the index
        }
        return _within_item_limit(item)


ITEM_BYTES = 350_000  # DynamoDB's item limit is 400 KB (names and values); room for the key and types


def _within_item_limit(item: dict[str, Any]) -> dict[str, Any]:
    """The record as it is, or, beyond what DynamoDB can store, its longest text values clipped (marked).

    Only a hostile event gets here (a 300 KB field): every CloudTrail detail Leash records is far smaller,
    and the full event stays in CloudTrail, which the record names by its eventID.
    """

    def size(value: Any) -> int:
        return len(str(value).encode("utf-8", "surrogatepass"))

    while sum(size(k) + size(v) for k, v in item.items()) > ITEM_BYTES:
        key = max((k for k, v in item.items() if isinstance(v, str)), key=lambda k: size(item[k]))
        if len(item[key]) <= 2 * len(CLIPPED):  # nothing long left to clip (the entries' keys are few)
            break
        item[key] = clip_text(item[key], len(item[key]) // 2)
    return item


def _serialized(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _SERIALIZE(v) for k, v in item.items()}


def _plain_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _DESERIALIZE(v) for k, v in item.items()}


def _plain(value: Any) -> Any:
    """Ledger values stay readable: scalars as they are, anything else as JSON text."""
    if isinstance(value, str | int | bool):
        return value
    return json.dumps(value, sort_keys=True, default=str)
