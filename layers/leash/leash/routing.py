"""EventBridge routing offline: which rules an event matches and which targets they send it to.

Replay and the demo route by template.yaml's rules (leash_cli.template reads them); the reconciler routes
the records of the trail's log files by the rules deployed (leash.reconcile). Both with the same matcher
(leash.matchgen) and the same text prefilter (leash.prefilter).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leash.matchgen import compile_fast
from leash.prefilter import text_prefilter


@dataclass(frozen=True)
class RoutedRule:
    name: str  # the SAM event name, e.g. "DestructiveData" (a deployed rule: its name)
    function: str  # what it sends events to: the logical id of the target (a deployed rule: its target ARN)
    pattern: Mapping[str, Any]
    match: Callable[[Mapping[str, Any]], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "match", compile_fast(self.pattern))

    def matches(self, event: Mapping[str, Any]) -> bool:
        return self.match(event)


class Router:
    """Which of these rules an event matches, and the targets they send it to: what EventBridge would do with it."""

    def __init__(self, rules: list[RoutedRule]):
        self.rules = rules
        # EventBridge-style pre-filter: most rules name their sources, so an event is tried only
        # against the rules of its own source and the rules that take any source, in template order.
        any_source = [(r, r.match) for r in rules if not _sources(r.pattern)]
        self._any_source = tuple(any_source)
        self._by_source: dict[str, tuple[tuple[RoutedRule, Any], ...]] = {
            source: tuple(
                (r, r.match) for r in rules if source in _sources(r.pattern) or not _sources(r.pattern)
            )
            for rule in rules
            for source in _sources(rule.pattern)
        }

    def record_prefilter(self) -> Callable[[bytes], bool] | None:
        """`might_match(record_json)`: False for a CloudTrail record no rule can match, without decoding it.

        None when some rule requires nothing of the record that text search can find.
        """
        details = [rule.pattern.get("detail") for rule in self.rules]
        if not all(isinstance(d, Mapping) for d in details):
            return None
        # eventSource only repeats the envelope's source, which routing already uses.
        return text_prefilter(details, weak=frozenset({"eventSource"}))  # type: ignore[arg-type]

    def route(self, event: Mapping[str, Any]) -> list[RoutedRule]:
        """The matching rules, in the template's order (as EventBridge lists them)."""
        source = event.get("source")
        candidates = (
            self._by_source.get(source, self._any_source) if type(source) is str else self._any_source
        )
        return [rule for rule, match in candidates if match(event)]

    def targets(self, event: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
        """Each target the event reaches, once (EventBridge invokes a target once per event), with the
        names of the rules that matched it, in the template's order."""
        out: dict[str, tuple[str, ...]] = {}
        for rule in self.route(event):
            out[rule.function] = (*out.get(rule.function, ()), rule.name)
        return out


def _sources(pattern: Mapping[str, Any]) -> list[str]:
    """The exact `source` values a pattern requires; empty when it takes any source."""
    sources = pattern.get("source")
    if isinstance(sources, list) and sources and all(isinstance(s, str) for s in sources):
        return sources
    return []
