"""`leash replay` throughput, end to end from .json.gz CloudTrail files, on one core.

Writes N records (the events/ samples, re-identified) into CloudTrail-style gzipped files, then times
reading, routing by template.yaml's rules and deciding like the handlers.
Run: .venv/bin/python benchmarks/replay.py [N]
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from leash_cli.replay import Problem, Replay, events

    total = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    samples = [json.loads(p.read_text())["detail"] for p in sorted((ROOT / "events").glob("*.json"))]
    samples = [s for s in samples if "eventName" in s]
    # A realistic mix: most CloudTrail records are routine reads that match no rule.
    routine = dict(samples[0], eventName="DescribeInstances", eventSource="ec2.amazonaws.com", readOnly=True,
                   userIdentity={"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/app/i-1",
                                 "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "app",
                                                                      "arn": "arn:aws:iam::111122223333:role/app"}}})
    mix = samples + [routine] * (len(samples) * 4)
    with tempfile.TemporaryDirectory() as tmp:
        per_file = 5_000
        for f in range(total // per_file):
            records = [dict(mix[(f * per_file + i) % len(mix)], eventID=f"bench-{f}-{i}") for i in range(per_file)]
            with gzip.open(Path(tmp) / f"111122223333_CloudTrail_us-east-1_{f:05d}.json.gz", "wt") as out:
                json.dump({"Records": records}, out)
        replayer = Replay(overrides={}, account="111122223333")
        start = time.perf_counter()
        matched = 0
        for item in events([tmp]):
            if not isinstance(item, Problem):
                matched += bool(replayer.decide(*item))
        replayer.finish_spikes()
        elapsed = time.perf_counter() - start
    print(f"leash replay: {replayer.report.read:,} records from .json.gz in {elapsed:.2f} s = "
          f"{replayer.report.read / elapsed:,.0f} records/s ({matched:,} matched a rule)")


if __name__ == "__main__":
    main()
