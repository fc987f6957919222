"""A faster matcher for replay, the demo and the reconciler: each event pattern compiled into one generated Python function.

The runtime interpreter (leash.eventpattern) validates the pattern and stays the general case; the
generated code only takes the shape nearly every event has.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from leash.eventpattern import (
    MISSING,
    InvalidEventPattern,
    compile_check,
    compile_operator,
    compile_pattern,
    join_path,
    selectivity,
    star_reading,
)


def compile_fast(
    pattern: Mapping[str, Any] | str, *, star_matches_empty: bool = True
) -> Callable[[Mapping[str, Any]], bool]:
    """compile_pattern's predicate, generated as one function; the same answers, faster."""
    interpreted = compile_pattern(pattern, star_matches_empty=star_matches_empty)  # validates
    parsed = json.loads(pattern) if isinstance(pattern, str) else pattern
    if not isinstance(parsed, Mapping):  # pragma: no cover - compile_pattern refused it already
        raise InvalidEventPattern("Event pattern must be a non-empty JSON object")
    with star_reading(star_matches_empty):
        return _Generator().function(parsed, interpreted)


class _Generator:
    """Compiles a validated pattern into one Python function (source text, compiled once).

    The generated code handles the shape nearly every event has, with plain dict lookups and no
    call per level: objects are dicts, leaves are strings. Any other value (an array, a number,
    null, a missing field, a Mapping that is not a dict) is handed to the interpreted check of
    that field, so both always agree; the differential test runs against this function.
    """

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {}
        self._count = 0

    def function(
        self, pattern: Mapping[str, Any], interpreted: Callable[[Any], bool]
    ) -> Callable[[Any], bool]:
        body = self._object(pattern, "e", "")
        source = f"def match(e):\n    return {body} if type(e) is dict else interpreted(e)\n"
        namespace = {**self.namespace, "interpreted": interpreted, "MISSING": MISSING}
        exec(compile(source, "<event pattern>", "exec"), namespace)
        match: Callable[[Any], bool] = namespace["match"]
        match.__doc__ = f"Generated from an event pattern:\n\n{source}"
        return match

    def _name(self, prefix: str, value: Any = None) -> str:
        self._count += 1
        name = f"{prefix}{self._count}"
        if value is not None:
            self.namespace[name] = value
        return name

    def _object(self, pattern: Mapping[str, Any], var: str, where: str) -> str:
        parts = []
        for key, sub in sorted(pattern.items(), key=selectivity):
            path = join_path(where, key)
            if key == "$or":
                parts.append("(" + " or ".join(self._object(clause, var, path) for clause in sub) + ")")
            else:
                parts.append(self._field(key, sub, var, path))
        return "(" + " and ".join(parts) + ")"

    def _field(self, key: str, sub: Any, var: str, path: str) -> str:
        check = compile_check(key, sub, path)
        general = self._name("check", check)
        value = self._name("v")
        if isinstance(sub, Mapping):
            fast, kind = self._object(sub, value, path), "dict"
        else:
            fast, kind = self._string_leaf(sub, value, path), "str"
        absent = check({})  # what a missing field gives, known at compile time
        return (
            f"({fast} if type({value} := {var}.get({key!r}, MISSING)) is {kind} "
            f"else {absent} if {value} is MISSING else {general}({var}))"
        )

    def _string_leaf(self, matchers: list[Any], value: str, path: str) -> str:
        """What the leaf's matchers say of one string value."""
        terms = []
        strings = frozenset(m for m in matchers if type(m) is str)
        if strings:
            terms.append(f"{value} in {self._name('strings', strings)}")
        for m in matchers:
            if not isinstance(m, Mapping):
                continue
            ((op, arg),) = m.items()
            if op == "exists":
                if arg:
                    terms.append("True")
            elif op in ("prefix", "suffix") and isinstance(arg, str):
                terms.append(f"{value}.{'startswith' if op == 'prefix' else 'endswith'}({arg!r})")
            elif op == "anything-but" and isinstance(arg, Mapping) and set(arg) == {"prefix"}:
                terms.append(f"not {value}.startswith({arg['prefix']!r})")
            elif op == "anything-but" and not isinstance(arg, Mapping):
                excluded = frozenset(v for v in (arg if isinstance(arg, list) else [arg]) if type(v) is str)
                terms.append(f"{value} not in {self._name('excluded', excluded)}")
            else:
                terms.append(f"{self._name('op', compile_operator(op, arg, path))}({value})")
        return "(" + (" or ".join(terms) or "False") + ")"
