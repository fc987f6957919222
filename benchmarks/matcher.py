"""Leash's EventBridge matcher against LocalStack's engine: six CloudTrail patterns, the same events, one run.

Run: .venv/bin/python benchmarks/matcher.py [events]   (needs .venv-localstack: `make bench`)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from leash.matchgen import compile_fast
    from leash_cli.template import Router

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    patterns = [rule.pattern for rule in Router.from_template().rules[:6]]
    samples = [json.loads(p.read_text()) for p in sorted((ROOT / "events").glob("*.json"))]
    events = [samples[i % len(samples)] for i in range(count)]

    compiled = [compile_fast(p) for p in patterns]
    start = time.perf_counter()
    ours = [[m(e) for m in compiled] for e in events]
    leash_seconds = time.perf_counter() - start

    out = subprocess.run(
        [str(ROOT / ".venv-localstack" / "bin" / "python"), str(ROOT / "scripts" / "localstack_oracle.py")],
        input=json.dumps({"patterns": patterns, "events": events}),
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    theirs = result["verdicts"]
    assert ours == theirs, "the engines disagree"
    leash_rate, localstack_rate = count / leash_seconds, count / result["seconds"]
    print(
        f"six CloudTrail patterns, {count:,} events: Leash {leash_rate:,.0f} events/s, "
        f"LocalStack {localstack_rate:,.0f} events/s ({leash_rate / localstack_rate:.1f}x)"
    )


if __name__ == "__main__":
    main()
