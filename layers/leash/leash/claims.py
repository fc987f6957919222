"""Make a side effect happen once per key: a conditional claim in DynamoDB before it, released if it fails.

Used where AWS cannot deduplicate for Leash: a lockdown request put on Leash's bus is a new event
every time (the rule that starts the workflow cannot name the execution after the request), so a
retried handler would ask twice. Claim, then act; if acting fails, release, so the retry acts again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any, Protocol

from botocore.exceptions import ClientError


class Claims(Protocol):
    def claim(self, key: str) -> bool:
        """True the first time a key is claimed (until released or expired), False every time after."""
        ...

    def release(self, key: str) -> None:
        """Forget a claim whose effect failed, so that the retry may claim it again."""
        ...


class DynamoDbClaims:
    """Claims as items of an existing table, written with UpdateItem only (the one permission all need).

    The notify and reapply functions keep them in the idempotency table (key `id`, TTL `expiration`),
    the spikes function in its counters table (key `pk`, TTL `expiresAt`). A released claim leaves
    its item without the claim attribute, so it can be claimed again.
    """

    CLAIMED = "claimedAt"

    def __init__(
        self,
        dynamodb_client: Any,
        table_name: str,
        *,
        key_attribute: str = "id",
        expiry_attribute: str = "expiration",
        ttl_seconds: int = 86_400,
        clock: Callable[[], float] = time.time,
    ):
        self._dynamodb = dynamodb_client
        self._table = table_name
        self._key = key_attribute
        self._expiry = expiry_attribute
        self._ttl = ttl_seconds
        self._clock = clock

    def claim(self, key: str) -> bool:
        now = int(self._clock())
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=self._item_key(key),
                UpdateExpression="SET #claimed = :now, #expiry = :expiry",
                ConditionExpression="attribute_not_exists(#claimed)",
                ExpressionAttributeNames={"#claimed": self.CLAIMED, "#expiry": self._expiry},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":expiry": {"N": str(now + self._ttl)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, key: str) -> None:
        self._dynamodb.update_item(
            TableName=self._table,
            Key=self._item_key(key),
            UpdateExpression="REMOVE #claimed",
            ExpressionAttributeNames={"#claimed": self.CLAIMED},
        )

    def _item_key(self, key: str) -> dict[str, Any]:
        # Hashed: a key is built from event fields (an ARN, an eventID) and DynamoDB keys stop at 2,048 bytes.
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return {self._key: {"S": f"claim#{digest}"}}
