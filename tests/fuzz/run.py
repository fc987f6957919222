"""`make fuzz`: tens of thousands of hostile inputs through every handler on moto, and a table of what broke.

    python tests/fuzz/run.py [--seed 17] [--cases 20000] [--target notify] [--start 0]

--cases is the total, shared among the targets in SHARE's proportions (or all for one --target).
Exits non-zero on any unhandled exception or broken promise; each line names the first failing case,
and `--target T --start N --cases 1` replays it alone (the same seed gives the same mutant).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import targets
from targets import TARGETS, Tally, run_target

# How a run's cases are shared: the CloudTrail handlers get the most (every sample, many mutations).
SHARE = {
    "notify": 0.30,
    "reapply": 0.15,
    "spikes": 0.15,
    "slack_forwarder": 0.15,
    "interactions": 0.20,
    "interactions_signed": 0.05,
}


def table(tallies: list[Tally], seconds: float) -> str:
    lines = [f"{'handler':22} {'cases':>7} {'exceptions':>11} {'violations':>11}"]
    for t in tallies:
        lines.append(f"{t.target:22} {t.cases:7d} {t.exceptions:11d} {t.violations:11d}")
    lines.append(
        f"{'total':22} {sum(t.cases for t in tallies):7d} {sum(t.exceptions for t in tallies):11d} "
        f"{sum(t.violations for t in tallies):11d}   ({seconds:.0f} s)"
    )
    for t in tallies:
        for f in sorted(t.failures.values(), key=lambda f: -f.count):
            lines.append(
                f"  {t.target}: {f.count} x {f.kind} at {f.where}: {f.message[:160]!r}\n"
                f"    reproduce: python tests/fuzz/run.py --seed {t.seed} --target {t.target} --start {f.first_case} --cases 1"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--target", choices=sorted(TARGETS), action="append")
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # Powertools warns on every invocation that published no metric
    targets.quiet_logs = True
    names = args.target or list(SHARE)
    counts = {t: args.cases if args.target else max(1, round(args.cases * SHARE[t])) for t in names}
    started = time.monotonic()
    tallies = []
    for name in names:
        tally = run_target(name, args.seed, args.start, counts[name])
        print(
            f"{name}: {tally.cases} cases, {tally.exceptions} exceptions, {tally.violations} violations",
            flush=True,
        )
        tallies.append(tally)
    print(table(tallies, time.monotonic() - started))
    return 1 if any(t.failures for t in tallies) else 0


if __name__ == "__main__":
    sys.exit(main())
