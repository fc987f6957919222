"""The EventBridge pattern matcher against the pattern language as AWS documents it."""

from __future__ import annotations

import pytest

from leash.eventpattern import InvalidEventPattern, compile_pattern, matches

EVENT = {
    "source": "aws.ec2",
    "detail": {
        "state": "running",
        "count": 5,
        "ip": "10.0.0.7",
        "name": "Prod-Backups",
        "tags": ["a", "b"],
        "items": [{"k": "x", "v": 1}, {"k": "y", "v": 2}],
        "nothing": None,
        "flag": False,
        "nested": {"deep": "value"},
    },
}


@pytest.mark.parametrize(
    ("detail_pattern", "expected"),
    [
        ({"state": ["running"]}, True),
        ({"state": ["stopped"]}, False),
        ({"count": [5]}, True),
        ({"count": [5.0]}, True),
        ({"flag": [False]}, True),
        ({"flag": [0]}, False),
        ({"nothing": [None]}, True),
        ({"state": [{"prefix": "run"}]}, True),
        ({"name": [{"prefix": {"equals-ignore-case": "prod-"}}]}, True),
        ({"name": [{"suffix": "Backups"}]}, True),
        ({"name": [{"suffix": {"equals-ignore-case": "BACKUPS"}}]}, True),
        ({"name": [{"equals-ignore-case": "prod-backups"}]}, True),
        ({"name": [{"wildcard": "Prod-*ups"}]}, True),
        ({"name": [{"wildcard": "Prod-*x"}]}, False),
        ({"state": [{"anything-but": "stopped"}]}, True),
        ({"state": [{"anything-but": ["running", "stopped"]}]}, False),
        ({"state": [{"anything-but": {"prefix": "run"}}]}, False),
        ({"state": [{"anything-but": {"suffix": "ing"}}]}, False),
        ({"state": [{"anything-but": {"wildcard": ["st*", "x*"]}}]}, True),
        ({"state": [{"anything-but": {"equals-ignore-case": "RUNNING"}}]}, False),
        ({"missing": [{"anything-but": "x"}]}, False),
        ({"state": [{"exists": True}]}, True),
        ({"missing": [{"exists": False}]}, True),
        ({"state": [{"exists": False}]}, False),
        ({"nested": [{"exists": True}]}, False),  # exists only works on leaves
        ({"count": [{"numeric": [">", 3, "<=", 5]}]}, True),
        ({"count": [{"numeric": ["<", 5]}]}, False),
        ({"ip": [{"cidr": "10.0.0.0/24"}]}, True),
        ({"ip": [{"cidr": "10.0.1.0/24"}]}, False),
        ({"tags": ["b"]}, True),
        ({"tags": ["c"]}, False),
        ({"items": {"k": ["y"], "v": [2]}}, True),
        ({"items": {"k": ["x"], "v": [2]}}, False),  # fields must match within one array element
        ({"nested": {"deep": ["value"]}}, True),
        ({"$or": [{"state": ["stopped"]}, {"count": [5]}]}, True),
        ({"$or": [{"state": ["stopped"]}, {"count": [6]}]}, False),
    ],
)
def test_operators(detail_pattern, expected):
    assert matches({"source": ["aws.ec2"], "detail": detail_pattern}, EVENT) is expected


def test_json_text_patterns():
    assert compile_pattern('{"source": ["aws.ec2"]}')(EVENT)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ({}, "non-empty JSON object"),
        ("{nope", "not valid JSON"),
        ({"source": "aws.ec2"}, "must be an array or an object"),
        ({"source": []}, "Empty arrays are not allowed"),
        ({"source": [{"prefix": 1}]}, "prefix match pattern must be a string"),
        ({"source": [{"exists": "yes"}]}, "exists match pattern must be either true or false"),
        ({"source": [{"numeric": [">", "a"]}]}, "must be numeric"),
        ({"source": [{"numeric": ["!", 1]}]}, "Unrecognized numeric range operator"),
        ({"source": [{"cidr": "10.0.0.0/99"}]}, "Malformed CIDR"),
        ({"source": [{"wildcard": "a**b"}]}, "Consecutive wildcard characters"),
        ({"source": [{"regex": "a"}]}, "Unrecognized match type regex"),
        ({"source": [{"prefix": "a", "suffix": "b"}]}, "Only one key"),
        ({"$or": [{"a": ["b"]}]}, "at least two"),
        ({"source": [{"anything-but": {"contains": "x"}}]}, "Unsupported anything-but pattern"),
    ],
)
def test_invalid_patterns_are_rejected_like_aws(pattern, message):
    with pytest.raises(InvalidEventPattern, match=message):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    ("detail_pattern", "event_detail", "expected"),
    [
        ({"tags": [{"exists": False}]}, {"tags": []}, True),  # an empty array does not exist
        ({"tags": ["a"]}, {"tags": []}, False),
        ({"nested": {"deep": [{"exists": False}]}}, {}, True),  # a missing object has missing fields
        ({"nested": {"deep": ["x"]}}, {}, False),
        ({"state": [{"anything-but": {"prefix": "x"}}]}, {"state": 5}, True),  # not a string starting with x
        ({"state": [{"anything-but": {"suffix": "ng"}}]}, {"state": None}, True),
        ({"state": [{"wildcard": "*ing"}]}, {"state": "ing"}, True),  # * is zero or more characters
    ],
)
def test_edge_semantics(detail_pattern, event_detail, expected):
    assert matches({"detail": detail_pattern}, {"detail": event_detail}) is expected


@pytest.mark.parametrize("numeric", [[">", 5, "<", 5], [">", 1, ">", 2], ["=", 1, "<", 3]])
def test_invalid_numeric_ranges(numeric):
    with pytest.raises(InvalidEventPattern):
        compile_pattern({"n": [{"numeric": numeric}]})
