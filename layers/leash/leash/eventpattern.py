"""EventBridge event patterns, validated and compiled once into plain Python predicates.

Implements the pattern language as AWS documents it (exact values, prefix, suffix,
anything-but, equals-ignore-case, wildcard, exists, numeric, cidr, $or, null, arrays),
so Leash can route events by the very patterns in template.yaml without calling AWS.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

Predicate = Callable[[Any], bool]
MISSING = object()


class InvalidEventPattern(ValueError):
    """The pattern would be rejected by EventBridge; the message says where and why."""


def compile_pattern(
    pattern: Mapping[str, Any] | str, *, star_matches_empty: bool = True
) -> Callable[[Mapping[str, Any]], bool]:
    """Compile a pattern (dict or JSON text) into `matches(event) -> bool`.

    A wildcard `*` matches zero or more characters, as AWS's Ruler does; LocalStack's engine reads it
    as one or more (`star_matches_empty=False` reproduces that, for the differential test).
    """
    with star_reading(star_matches_empty):
        if isinstance(pattern, str):
            try:
                pattern = json.loads(pattern)
            except json.JSONDecodeError as exc:
                raise InvalidEventPattern(f"Event pattern is not valid JSON: {exc}") from exc
        if not isinstance(pattern, Mapping) or not pattern:
            raise InvalidEventPattern("Event pattern must be a non-empty JSON object")
        return _compile_object(pattern, "")  # validates the pattern on the way


@contextmanager
def star_reading(star_matches_empty: bool = True) -> Iterator[None]:
    """Within this block, a wildcard `*` compiles as compile_pattern's `star_matches_empty` says."""
    token = _STAR.set(".*" if star_matches_empty else ".+")
    try:
        yield
    finally:
        _STAR.reset(token)


def matches(pattern: Mapping[str, Any] | str, event: Mapping[str, Any]) -> bool:
    """One-off match; compile once with compile_pattern when matching many events."""
    return compile_pattern(pattern)(event)


def selectivity(item: tuple[str, Any]) -> int:
    """Cheap, selective checks first: exact values, then other leaf matchers, nested objects, $or."""
    key, sub = item
    if key == "$or":
        return 3
    if isinstance(sub, Mapping):
        return 2
    if isinstance(sub, list) and all(not isinstance(m, Mapping | list) for m in sub):
        return 0
    return 1


def _compile_object(pattern: Mapping[str, Any], where: str) -> Callable[[Any], bool]:
    checks = [
        compile_check(key, sub, join_path(where, key))
        for key, sub in sorted(pattern.items(), key=selectivity)
    ]
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda node: first(node) and second(node)
    if len(checks) == 3:
        first, second, third = checks
        return lambda node: first(node) and second(node) and third(node)

    def every(node: Any) -> bool:
        for check in checks:
            if not check(node):
                return False
        return True

    return every


def join_path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def compile_check(key: str, sub: Any, path: str) -> Callable[[Any], bool]:
    """One key of an object pattern, checked against an event node."""
    if key == "$or":
        return _compile_or(sub, path)
    if isinstance(sub, Mapping):
        inner = _compile_object(sub, path)
        # A missing object has missing fields: only `exists: false` inside it can match.
        return _field(key, _nested(inner), absent_ok=inner({}))
    if isinstance(sub, list):
        leaf, absent_ok = _compile_leaf(sub, path)
        if sub and all(type(m) is str for m in sub):
            return _exact_strings_field(key, frozenset(sub), leaf)
        return _field(key, leaf, absent_ok)
    raise InvalidEventPattern(f"Match value at {path} must be an array or an object, got {json.dumps(sub)}")


def _compile_or(clauses: Any, path: str) -> Callable[[Any], bool]:
    if not isinstance(clauses, list) or len(clauses) < 2:
        raise InvalidEventPattern(f"{path} must be an array of at least two objects")
    compiled = []
    for clause in clauses:
        if not isinstance(clause, Mapping) or not clause:
            raise InvalidEventPattern(f"{path} must contain only non-empty objects")
        compiled.append(_compile_object(clause, path))
    return lambda node: any(c(node) for c in compiled)


def _nested(inner: Callable[[Any], bool]) -> Predicate:
    def check(value: Any) -> bool:
        if type(value) is dict or isinstance(value, Mapping):
            return inner(value)
        if isinstance(value, list):  # arrays of objects: one element must match the whole sub-pattern
            return any(isinstance(v, Mapping) and inner(v) for v in value)
        return False

    return check


def _exact_strings_field(key: str, strings: frozenset[str], leaf: Predicate) -> Callable[[Any], bool]:
    """The commonest leaf (`"source": ["aws.ec2", "aws.rds"]`) as one dict lookup and one set lookup."""

    def field_check(node: Any) -> bool:
        value = (
            node.get(key) if type(node) is dict else (node.get(key) if isinstance(node, Mapping) else None)
        )
        if type(value) is str:
            return value in strings
        return value is not None and value != [] and leaf(value)

    return field_check


def _field(key: str, check: Predicate, absent_ok: bool) -> Callable[[Any], bool]:
    # Events come from JSON: a plain dict is the fast path, any other Mapping still works.
    def field_check(node: Any) -> bool:
        if type(node) is dict or isinstance(node, Mapping):
            value = node.get(key, MISSING)
            if value is not MISSING and value != []:  # an empty array has no value: it does not exist
                return check(value)
        return absent_ok

    return field_check


def _compile_leaf(matchers: list[Any], path: str) -> tuple[Predicate, bool]:
    """An array of matchers: the field matches when any matcher matches any of its values."""
    if not matchers:
        raise InvalidEventPattern(f"Empty arrays are not allowed, at {path}")
    scalar_checks: list[Predicate] = []
    exact: set[Any] = set()
    absent_ok = False
    exists_true = False
    for m in matchers:
        if isinstance(m, Mapping):
            if len(m) != 1:
                raise InvalidEventPattern(
                    f"Only one key is allowed in a matcher object at {path}: {json.dumps(m)}"
                )
            ((op, arg),) = m.items()
            if op == "exists":
                if not isinstance(arg, bool):
                    raise InvalidEventPattern(f"exists match pattern must be either true or false, at {path}")
                if arg:
                    exists_true = True
                else:
                    absent_ok = True
                continue
            scalar_checks.append(compile_operator(op, arg, path))
        elif isinstance(m, list):
            raise InvalidEventPattern(f"Nested arrays are not allowed in a match pattern, at {path}")
        else:
            exact.add(_key(m))

    exact_strings = frozenset(v for kind, v in exact if kind == "str")

    def check_scalar(v: Any) -> bool:
        if type(v) is str and v in exact_strings:  # the common case: one set lookup
            return True
        if exists_true:
            return True
        if exact and not isinstance(v, dict | list) and _key(v) in exact:  # an object in an array: no value
            return True
        for c in scalar_checks:
            if c(v):
                return True
        return False

    def check(value: Any) -> bool:
        if type(value) is list:
            return any(check_scalar(v) for v in value)
        if type(value) is dict or isinstance(
            value, Mapping
        ):  # leaf matchers (exists too) never match objects
            return False
        return check_scalar(value)

    return check, absent_ok


def _key(v: Any) -> Any:
    # True == 1 in Python; keep JSON types apart, and compare numbers by value.
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int | float):
        return ("num", float(v))
    return (type(v).__name__, v)


def _string(arg: Any, op: str, path: str) -> str:
    if not isinstance(arg, str):
        raise InvalidEventPattern(f"{op} match pattern must be a string, at {path}")
    return arg


def compile_operator(op: str, arg: Any, path: str) -> Predicate:
    if op == "prefix" or op == "suffix":
        if isinstance(arg, Mapping) and set(arg) == {"equals-ignore-case"}:
            text = _string(arg["equals-ignore-case"], op, path).casefold()
            if op == "prefix":
                return lambda v: isinstance(v, str) and v.casefold().startswith(text)
            return lambda v: isinstance(v, str) and v.casefold().endswith(text)
        text = _string(arg, op, path)
        if op == "prefix":
            return lambda v: isinstance(v, str) and v.startswith(text)
        return lambda v: isinstance(v, str) and v.endswith(text)
    if op == "equals-ignore-case":
        text = _string(arg, op, path).casefold()
        return lambda v: isinstance(v, str) and v.casefold() == text
    if op == "wildcard":
        regex = _wildcard(_string(arg, op, path), path)
        return lambda v: isinstance(v, str) and regex.fullmatch(v) is not None
    if op == "anything-but":
        return _compile_anything_but(arg, path)
    if op == "numeric":
        return _compile_numeric(arg, path)
    if op == "cidr":
        try:
            network = ipaddress.ip_network(_string(arg, op, path), strict=False)
        except ValueError as exc:
            raise InvalidEventPattern(f"Malformed CIDR, at {path}: {arg!r}") from exc

        def in_network(v: Any) -> bool:
            if not isinstance(v, str):
                return False
            try:
                return ipaddress.ip_address(v) in network
            except ValueError:
                return False

        return in_network
    raise InvalidEventPattern(f"Unrecognized match type {op}, at {path}")


# What `*` compiles to, for the pattern being compiled (scoped to one compile_pattern call).
_STAR: ContextVar[str] = ContextVar("leash_wildcard_star", default=".*")


def _wildcard(text: str, path: str) -> re.Pattern[str]:
    if "**" in text:
        raise InvalidEventPattern(f"Consecutive wildcard characters are not allowed, at {path}")
    return re.compile(_STAR.get().join(re.escape(part) for part in text.split("*")), re.DOTALL)


def _compile_anything_but(arg: Any, path: str) -> Predicate:
    if isinstance(arg, Mapping):
        if len(arg) != 1:
            raise InvalidEventPattern(
                f"anything-but takes one of prefix, suffix, wildcard, equals-ignore-case, at {path}"
            )
        ((op, inner),) = arg.items()
        if op in ("prefix", "suffix"):
            positive = compile_operator(op, _string(inner, f"anything-but/{op}", path), path)
        elif op in ("wildcard", "equals-ignore-case"):
            values = inner if isinstance(inner, list) else [inner]
            if not values:
                raise InvalidEventPattern(f"Empty arrays are not allowed, at {path}")
            checks = [compile_operator(op, _string(v, f"anything-but/{op}", path), path) for v in values]
            positive = lambda v: any(c(v) for c in checks)  # noqa: E731
        else:
            raise InvalidEventPattern(f"Unsupported anything-but pattern: {op}, at {path}")
        # Anything but a string of that shape: numbers, booleans and null match too.
        return lambda v: not (isinstance(v, str) and positive(v))
    values = arg if isinstance(arg, list) else [arg]
    for v in values:
        if isinstance(v, Mapping | list):
            raise InvalidEventPattern(
                f"Inside anything-but list, start|null|boolean is not supported, at {path}"
            )
    excluded = {_key(v) for v in values}
    return lambda v: _key(v) not in excluded


_NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compile_numeric(arg: Any, path: str) -> Predicate:
    if not isinstance(arg, list) or not arg or len(arg) % 2 or len(arg) > 4:
        raise InvalidEventPattern(f"Value of numeric must be an array of one or two comparisons, at {path}")
    bounds: list[tuple[Callable[[float, float], bool], float]] = []
    lower = upper = None
    for op, bound in zip(arg[::2], arg[1::2], strict=True):
        if op not in _NUMERIC_OPS:
            raise InvalidEventPattern(f"Unrecognized numeric range operator: {op}, at {path}")
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise InvalidEventPattern(f"Value of {op} must be numeric, at {path}")
        if op in (">", ">="):
            if lower is not None:
                raise InvalidEventPattern(f"Two lower bounds in a numeric range, at {path}")
            lower = float(bound)
        elif op in ("<", "<="):
            if upper is not None:
                raise InvalidEventPattern(f"Two upper bounds in a numeric range, at {path}")
            upper = float(bound)
        elif len(arg) != 2:
            raise InvalidEventPattern(f"= cannot be combined with another comparison, at {path}")
        bounds.append((_NUMERIC_OPS[op], float(bound)))
    if lower is not None and upper is not None and not lower < upper:
        raise InvalidEventPattern(f"Bottom must be less than top, at {path}")
    return lambda v: (
        isinstance(v, int | float) and not isinstance(v, bool) and all(cmp(float(v), b) for cmp, b in bounds)
    )
