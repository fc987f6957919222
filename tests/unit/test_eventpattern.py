"""The EventBridge pattern matcher against the pattern language as AWS documents it."""

from __future__ import annotations

import json

import pytest
from pattern_pairs import pairs

from leash.eventpattern import InvalidEventPattern, compile_pattern, matches
from leash.matchgen import compile_fast
from leash.prefilter import text_prefilter

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


# --- the prefilter on JSON text (lets `leash replay` skip records without decoding them) ---------


def _spellings(event):
    """The same object as JSON writers spell it: compact, spaced, indented, non-ASCII kept or escaped."""
    yield json.dumps(event, separators=(",", ":")).encode()
    yield json.dumps(event).encode()
    yield json.dumps(event, indent=2).encode()
    yield json.dumps(event, ensure_ascii=False).encode()


def test_prefilter_never_rules_out_an_event_that_matches_on_10000_generated_pairs():
    prefilters, checked, ruled_out = {}, 0, 0
    for pattern, event in pairs(10_000):
        key = json.dumps(pattern, sort_keys=True)
        if key not in prefilters:
            try:
                compiled = compile_pattern(pattern)
            except InvalidEventPattern:
                prefilters[key] = None
                continue
            prefilters[key] = (compiled, text_prefilter([pattern]))
        if prefilters[key] is None or prefilters[key][1] is None:
            continue
        compiled, might_match = prefilters[key]
        verdicts = {might_match(text) for text in _spellings(event)}
        if compiled(event):
            checked += 1
            assert verdicts == {True}, (pattern, event)
        else:
            ruled_out += verdicts == {False}
    assert checked > 500 and ruled_out > 1_000  # both sides exercised


@pytest.mark.parametrize(
    ("detail_pattern", "text"),
    [
        ({"eventName": ["DeleteBucket"]}, r'{"detail": {"eventName": "Delete\u0042ucket"}}'),  # \u spelling
        ({"eventName": [{"prefix": "a/b"}]}, r'{"detail": {"eventName": "a\/bc"}}'),  # \/ spelling
        ({"errorCode": [{"wildcard": "*Denied*"}]}, r'{"detail": {"errorCode": "said \"Denied\" twice"}}'),
        ({"errorCode": [{"suffix": "Denied"}]}, r'{"detail": {"errorCode": "C:\\Denied"}}'),
        ({"eventName": ["DeleteBucket"]}, '{"detail": {"eventName": ["Other", "DeleteBucket"]}}'),  # arrays
        ({"eventName": ["DeleteBucket"]}, '{"detail" :{ "eventName"\n :\t"DeleteBucket" }}'),  # whitespace
        ({"items": {"k": ["x"]}}, '{"detail": {"items": [{"k": "y"}, {"k": "x"}]}}'),  # arrays of objects
        (
            {"additionalEventData": {"CalledViaAWSMCP": [{"exists": True}]}},
            '{"detail": {"additionalEventData": {"CalledViaAWSMCP": false}}}',
        ),
    ],
)
def test_prefilter_keeps_matches_whatever_their_spelling(detail_pattern, text):
    pattern = {"detail": detail_pattern}
    assert compile_pattern(pattern)(json.loads(text))
    assert text_prefilter([pattern])(text.encode())


def test_prefilter_rules_out_unrelated_text_and_declines_patterns_it_cannot_use():
    might_match = text_prefilter(
        [{"detail": {"eventName": ["DeleteBucket"]}}, {"detail": {"errorCode": ["AccessDenied"]}}]
    )
    assert not might_match(b'{"eventName": "GetObject", "note": "DeleteBucket", "errorCode": null}')
    assert might_match(b'{"eventName": "GetObject", "errorCode": "AccessDenied"}')
    # Nothing a text search can find: anything-but, numbers, exists: false, case-insensitive, escaped text.
    for unusable in (
        [{"anything-but": "x"}],
        [5],
        [{"exists": False}],
        [{"equals-ignore-case": "x"}],
        ['say "hi"'],
    ):
        assert text_prefilter([{"detail": {"f": unusable}}]) is None
    assert text_prefilter([{"detail": {"f": [5], "g": ["x"]}}]) is not None  # another field will do


def test_generated_matcher_agrees_with_the_interpreter_on_10000_pairs():
    """Replay and the demo route with the generated function; the Lambda catalog with the interpreter."""
    disagreements = []
    for pattern, event in pairs(10_000):
        try:
            interpreted = compile_pattern(pattern)
        except InvalidEventPattern:
            with pytest.raises(InvalidEventPattern):
                compile_fast(pattern)
            continue
        if compile_fast(pattern)(event) != interpreted(event):
            disagreements.append((pattern, event))
    assert disagreements == []
