"""Deterministic pattern/event pairs covering the EventBridge pattern language (for the differential test)."""

from __future__ import annotations

import random
from typing import Any

STRINGS = [
    "running",
    "Running",
    "stopped",
    "run",
    "ing",
    "",
    "prod-backups",
    "arn:aws:iam::123:role/x",
    "a*b",
]
NUMBERS = [0, 5, 5.5, -3, 10, 1000]
IPS = ["10.0.0.7", "10.0.1.7", "192.168.1.1", "10.0.0.255"]


def _matcher(rng: random.Random, kind: str) -> Any:
    s = rng.choice(STRINGS)
    choices = {
        "string": lambda: [
            s,
            {"prefix": s[:2]},
            {"suffix": s[-3:]},
            {"equals-ignore-case": s.upper()},
            {"wildcard": rng.choice(["run*", "*ing", "*o*", "prod-*", "arn:aws:iam::*:role/*", "a\\\\*b"])},
            {"anything-but": s},
            {"anything-but": [s, rng.choice(STRINGS)]},
            {"anything-but": {"prefix": s[:3] or "r"}},
            {"anything-but": {"suffix": s[-2:] or "g"}},
            {"anything-but": {"wildcard": "*run*"}},
            {"anything-but": {"equals-ignore-case": s.upper() or "X"}},
            {"prefix": {"equals-ignore-case": s[:3].upper()}},
            {"suffix": {"equals-ignore-case": s[-3:].upper()}},
            {"exists": rng.random() < 0.5},
            None,
        ],
        "number": lambda: [
            rng.choice(NUMBERS),
            {"numeric": [">", rng.choice(NUMBERS)]},
            {"numeric": [">=", 0, "<", rng.choice(NUMBERS)]},
            {"numeric": ["=", rng.choice(NUMBERS)]},
            {"anything-but": rng.choice(NUMBERS)},
            {"exists": rng.random() < 0.5},
        ],
        "ip": lambda: [
            {"cidr": rng.choice(["10.0.0.0/24", "10.0.0.0/8", "192.168.0.0/16", "10.0.0.7/32"])},
            rng.choice(IPS),
            {"prefix": "10."},
        ],
        "bool": lambda: [True, False, {"exists": rng.random() < 0.5}],
    }
    return rng.choice(choices[kind]())


FIELDS = {
    "state": "string",
    "name": "string",
    "count": "number",
    "ip": "ip",
    "flag": "bool",
    "tags": "string",
}


def _leaf(rng: random.Random, kind: str) -> list[Any]:
    return [_matcher(rng, kind) for _ in range(rng.randint(1, 3))]


def pattern(rng: random.Random) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    for field in rng.sample(sorted(FIELDS), rng.randint(1, 3)):
        detail[field] = _leaf(rng, FIELDS[field])
    roll = rng.random()
    if roll < 0.15:
        # One field per array-of-objects sub-pattern: with two, AWS (Ruler) needs them in the same element
        # while LocalStack accepts them from different elements.
        detail["items"] = rng.choice([{"k": _leaf(rng, "string")}, {"v": _leaf(rng, "number")}])
    elif roll < 0.3 and len(FIELDS) - len(detail) >= 2:
        # $or over fields not constrained beside it: engines disagree on merging a field in both places.
        a, b = rng.sample(sorted(set(FIELDS) - set(detail)), 2)
        detail["$or"] = [{a: _leaf(rng, FIELDS[a])}, {b: _leaf(rng, FIELDS[b])}]
    elif roll < 0.4:
        detail["nested"] = {"deep": _leaf(rng, "string")}
    out: dict[str, Any] = {"detail": detail}
    if rng.random() < 0.5:
        out["source"] = [rng.choice(["aws.ec2", "aws.s3"]), {"prefix": "aws."}][rng.randint(0, 1) :][:1]
    return out


def event(rng: random.Random) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    for field, kind in FIELDS.items():
        if rng.random() < 0.25:
            continue
        if field == "tags":
            detail["tags"] = [rng.choice(STRINGS) for _ in range(rng.randint(0, 3))]
        elif kind == "string":
            detail[field] = rng.choice([*STRINGS, None])
        elif kind == "number":
            detail[field] = rng.choice(NUMBERS)
        elif kind == "ip":
            detail[field] = rng.choice(IPS)
        else:
            detail[field] = rng.choice([True, False])
    if rng.random() < 0.6:
        detail["items"] = [
            {"k": rng.choice(STRINGS), "v": rng.choice(NUMBERS)} for _ in range(rng.randint(1, 3))
        ]
    if rng.random() < 0.5:
        detail["nested"] = {"deep": rng.choice(STRINGS)}
    return {"source": rng.choice(["aws.ec2", "aws.s3", "custom"]), "detail-type": "x", "detail": detail}


def pairs(count: int, seed: int = 20261122) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        p = pattern(rng)
        out.extend((p, event(rng)) for _ in range(5))
    return out[:count]
