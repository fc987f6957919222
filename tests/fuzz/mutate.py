"""A seeded, deterministic mutator of JSON-shaped values: what hostile or odd input does to an event.

Every mutant is derived from a real-shaped value by one to three operations: a type swap
(str <-> int <-> list <-> dict <-> null), a deletion, a huge string (just over DynamoDB's
2,048-byte key limit, or 300 KB), a lone surrogate or an undecodable byte, nested junk, or a
targeted change of a field the handlers read (CloudTrail's identity, eventID, eventTime...).
The same `random.Random` state gives the same mutant, so a failure is reproduced from its seed.
"""

from __future__ import annotations

import copy
import random
import string
import uuid
from collections.abc import Callable
from typing import Any

Path = tuple[Any, ...]

KEY_LIMIT = "k" * 2_100  # over DynamoDB's 2,048-byte partition key limit
HUGE = "H" * 300_000  # over SNS's and SQS's 256 KB message limit
LONE_SURROGATE = "\ud800"  # JSON can carry "\ud800"; UTF-8 cannot encode it
UNDECODABLE = b"\xff\xfe\xfa".decode("utf-8", "surrogateescape")  # bytes that were not UTF-8


def nested_junk(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = [value] if i % 2 else {"n": value}
    return value


ODD_VALUES: tuple[Callable[[random.Random], Any], ...] = (
    lambda r: None,
    lambda r: 0,
    lambda r: -1,
    lambda r: 2**70,
    lambda r: 1.5,
    lambda r: True,
    lambda r: False,
    lambda r: "",
    lambda r: " ",
    lambda r: "null",
    lambda r: "0",
    lambda r: [],
    lambda r: {},
    lambda r: ["x", 1, None],
    lambda r: {"unexpected": {"deeper": [1, "two"]}},
    lambda r: KEY_LIMIT,
    lambda r: HUGE,
    lambda r: LONE_SURROGATE,
    lambda r: "caf\u00e9 \U0001f512 \u202e" + UNDECODABLE,
    lambda r: "\x00\r\n\t",
    lambda r: nested_junk(r.choice((5, 60))),
    lambda r: "".join(r.choice(string.printable) for _ in range(r.randint(1, 40))),
)


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every path into a JSON tree (the root is ())."""
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out += paths(child, (*prefix, i))
    return out


def get(value: Any, path: Path) -> Any:
    for key in path:
        value = value[key]
    return value


def put(value: Any, path: Path, new: Any) -> Any:
    """Set the value at path (creating dicts on the way); returns the (possibly new) root."""
    if not path:
        return new
    node = value
    for key in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(key, {})
            if not isinstance(node, dict | list):
                return value
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return value
    if isinstance(node, dict):
        node[path[-1]] = new
    elif isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node):
        node[path[-1]] = new
    return value


def delete(value: Any, path: Path) -> Any:
    if not path:
        return None
    try:
        parent = get(value, path[:-1])
    except (KeyError, IndexError, TypeError):
        return value
    if isinstance(parent, dict):
        parent.pop(path[-1], None)
    elif isinstance(parent, list) and isinstance(path[-1], int) and path[-1] < len(parent):
        del parent[path[-1]]
    return value


def _swap(r: random.Random, value: Any) -> Any:
    return put(value, r.choice(paths(value)), r.choice(ODD_VALUES)(r))


def _delete(r: random.Random, value: Any) -> Any:
    return delete(value, r.choice(paths(value)))


def _spoil_string(r: random.Random, value: Any) -> Any:
    """A string leaf gets a lone surrogate, an undecodable byte, or grows past a limit."""
    leaves = [p for p in paths(value) if isinstance(get(value, p), str)]
    if not leaves:
        return _swap(r, value)
    path = r.choice(leaves)
    old = get(value, path)
    new = r.choice(
        (
            old + LONE_SURROGATE,
            LONE_SURROGATE + old,
            old + UNDECODABLE,
            old + KEY_LIMIT,
            old + HUGE,
            old.upper(),
            old[: len(old) // 2],
            old * 3,
        )
    )
    return put(value, path, new)


def _retype_leaf(r: random.Random, value: Any) -> Any:
    """A scalar in its neighbour's type: "5" <-> 5, "x" -> ["x"], "x" -> {"x": "x"}."""
    leaves = [p for p in paths(value) if p and not isinstance(get(value, p), dict | list)]
    if not leaves:
        return _swap(r, value)
    path = r.choice(leaves)
    old = get(value, path)
    new = r.choice((str(old), [old], {"value": old}, len(str(old)), None if old is not None else "None"))
    return put(value, path, new)


BASIC: tuple[Callable[[random.Random, Any], Any], ...] = (_swap, _delete, _spoil_string, _retype_leaf)


def mutate(
    r: random.Random, value: Any, targeted: tuple[Callable[[random.Random, Any], Any], ...] = ()
) -> Any:
    """A deep copy of value with one to three mutations; `targeted` ones are as likely as all basic ones."""
    value = copy.deepcopy(value)
    for _ in range(r.choice((1, 1, 2, 3))):
        if targeted and r.random() < 0.5:
            value = r.choice(targeted)(r, value)
        else:
            value = r.choice(BASIC)(r, value)
    return value


def rng_uuid(r: random.Random) -> str:
    return str(uuid.UUID(int=r.getrandbits(128), version=4))


# Targeted mutations of an EventBridge "AWS API Call via CloudTrail" event: the fields the handlers read.
IDENTITY_VALUES: dict[Path, tuple[Any, ...]] = {
    ("type",): (
        "AssumedRole",
        "IAMUser",
        "Root",
        "AWSService",
        "AWSAccount",
        "FederatedUser",
        "Unknown",
        5,
        None,
        ["AssumedRole"],
    ),
    ("arn",): (
        "",
        "arn",
        ":::::",
        "arn:aws:sts::111122223333:assumed-role/",
        "arn:aws:sts::111122223333:assumed-role/ai-agent-x",
        "arn:aws:iam::111122223333:role/",
        "arn:aws:sts::111122223333:assumed-role/ai-agent-" + KEY_LIMIT + "/s",
        "arn:aws:sts::111122223333:assumed-role/ai-agent-\ud800/s",
        42,
        ["arn:aws:iam::1:role/x"],
        {"arn": "x"},
    ),
    ("accountId",): (111122223333, None, "", [], KEY_LIMIT),
    ("userName",): (5, None, [], {"x": 1}, "ai-agent-" + LONE_SURROGATE),
    ("invokedBy",): (5, [], {}, "aws-mcp.amazonaws.com", "ec2.amazonaws.com"),
    ("sessionContext",): ("str", 5, [], [{"sessionIssuer": {}}], None, {}),
    ("sessionContext", "sessionIssuer"): ("str", 5, [], None, {"type": "Role"}, {"type": 5, "arn": []}),
    ("sessionContext", "sessionIssuer", "type"): (5, None, [], "Role", "User"),
    ("sessionContext", "sessionIssuer", "arn"): (
        5,
        None,
        [],
        "",
        "arn:aws:iam::1:role/aws-service-role/x",
        KEY_LIMIT,
    ),
    ("sessionContext", "sessionIssuer", "userName"): (
        5,
        None,
        [],
        {},
        "",
        "ai-agent-" + KEY_LIMIT,
        "leash-x",
    ),
    ("sessionContext", "sourceIdentity"): (5, [], {}, "agent-" + LONE_SURROGATE, KEY_LIMIT),
}
DETAIL_VALUES: dict[Path, tuple[Any, ...]] = {
    ("eventID",): ("", 5, None, [], {}, KEY_LIMIT, "evt-" + LONE_SURROGATE, "a/b#c", "x" * 200, " "),
    ("eventTime",): (
        "",
        "yesterday",
        1732309476,
        "2026-13-45T99:99:99Z",
        "2026-11-22T21:04:36+25:00",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "2026-11-22",
        None,
        [],
    ),
    ("eventName",): ("", 5, None, [], "DeleteDBInstance", "StopLogging", KEY_LIMIT, "x" + LONE_SURROGATE),
    ("eventSource",): ("", 5, None, "rds", "amazonaws.com", ".", "iam.amazonaws.com", "x" * 3000),
    ("awsRegion",): ("", 5, None, "moon-1", "us-east-1\ud800", KEY_LIMIT),
    ("recipientAccountId",): (5, None, [], "", "999999999999", KEY_LIMIT),
    ("errorCode",): (5, [], {}, "", "AccessDenied", "Client.UnauthorizedOperation", KEY_LIMIT),
    ("errorMessage",): (5, [], {}, "", "on resource: " + KEY_LIMIT, LONE_SURROGATE),
    ("readOnly",): ("false", 0, None, []),
    ("sourceIPAddress",): (5, [], {}, KEY_LIMIT, LONE_SURROGATE),
    ("userAgent",): (5, [], {}, HUGE, LONE_SURROGATE + UNDECODABLE),
    ("requestParameters",): (None, "str", [], 5, {"x": HUGE}, nested_junk(60)),
    ("responseElements",): ("str", [], 5, {"x": KEY_LIMIT}),
    ("additionalEventData",): ("str", [], 5, {"CalledViaAWSMCP": []}),
    ("resources",): ("str", 5, {}, [5, "x", None], [{"ARN": 5}], [{"ARN": KEY_LIMIT}]),
}
ENVELOPE_VALUES: dict[Path, tuple[Any, ...]] = {
    ("detail-type",): (
        "",
        None,
        5,
        "AWS Service Event via CloudTrail",
        "EC2 Instance State-change Notification",
    ),
    ("detail",): (None, "oops", 5, [], {}, [{}]),
    ("account",): (5, None, [], KEY_LIMIT),
    ("source",): (5, None, "aws.unknown"),
}


def _from_table(table: dict[Path, tuple[Any, ...]], prefix: Path) -> Callable[[random.Random, Any], Any]:
    def op(r: random.Random, value: Any) -> Any:
        path = r.choice(list(table))
        return put(value, (*prefix, *path), r.choice(table[path]))

    return op


def _drop_from_table(table: dict[Path, tuple[Any, ...]], prefix: Path) -> Callable[[random.Random, Any], Any]:
    def op(r: random.Random, value: Any) -> Any:
        return delete(value, (*prefix, *r.choice(list(table))))

    return op


CLOUDTRAIL_OPS: tuple[Callable[[random.Random, Any], Any], ...] = (
    _from_table(IDENTITY_VALUES, ("detail", "userIdentity")),
    _from_table(IDENTITY_VALUES, ("detail", "userIdentity")),
    _drop_from_table(IDENTITY_VALUES, ("detail", "userIdentity")),
    _from_table(DETAIL_VALUES, ("detail",)),
    _from_table(DETAIL_VALUES, ("detail",)),
    _drop_from_table(DETAIL_VALUES, ("detail",)),
    _from_table(ENVELOPE_VALUES, ()),
)


def cloudtrail_mutant(r: random.Random, event: Any) -> Any:
    """A mutant of an EventBridge CloudTrail event, with a fresh eventID (so idempotency does not hide it)."""
    event = copy.deepcopy(event)
    if isinstance(event.get("detail"), dict):
        event["detail"]["eventID"] = rng_uuid(r)
    return mutate(r, event, CLOUDTRAIL_OPS)
