"""Evaluate pattern/event pairs with LocalStack's EventBridge rule engine (run in .venv-localstack).

stdin: JSON [[pattern, event], ...]; stdout: {"verdicts": [true | false | "invalid: <message>", ...], "seconds"}.
Or stdin: {"patterns": [...], "events": [...]} (patterns compiled once, only evaluation timed); verdicts per
event, one per pattern.
Used by tests/functional/test_eventpattern_differential.py and benchmarks/matcher.py.
"""

import json
import sys
import time

from localstack.services.events.event_rule_engine import EventPatternCompiler, EventRuleEngine


def main() -> None:
    pairs = json.load(sys.stdin)
    compiler, engine = EventPatternCompiler(), EventRuleEngine()
    if isinstance(pairs, dict):
        patterns = [compiler.compile_event_pattern(p) for p in pairs["patterns"]]
        start = time.perf_counter()
        verdicts = [[bool(engine.evaluate_pattern_on_event(p, e)) for p in patterns] for e in pairs["events"]]
        json.dump({"verdicts": verdicts, "seconds": time.perf_counter() - start}, sys.stdout)
        return
    compiled: dict[str, object] = {}
    verdicts = []
    start = time.perf_counter()
    for pattern, event in pairs:
        key = json.dumps(pattern, sort_keys=True)
        try:
            if key not in compiled:
                compiled[key] = compiler.compile_event_pattern(pattern)
            verdicts.append(bool(engine.evaluate_pattern_on_event(compiled[key], event)))
        except Exception as exc:  # noqa: BLE001 - an invalid pattern is a verdict too
            verdicts.append(f"invalid: {type(exc).__name__}: {exc}")
    json.dump({"verdicts": verdicts, "seconds": time.perf_counter() - start}, sys.stdout)


if __name__ == "__main__":
    main()
