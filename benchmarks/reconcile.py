"""The reconciler's cost: ms and dollars per million CloudTrail records, with and without the prefilter.

Writes log files as CloudTrail does (gzip, compact JSON, 5,000 records each) with replay's typical mix
(benchmarks/replay.py: 90% routine calls, 5% an agent's reads, 3% denied, 2% the calls Leash is about),
then times `Reconciler.reconcile` on them on one core: gunzip, the split, the prefilter, decoding, routing
by template.yaml's rules and the handlers' decisions (publishing and reapplying stubbed: their AWS calls
are priced below, per matched record, not timed).

Run: .venv/bin/python benchmarks/reconcile.py [records] [repeats]
"""

from __future__ import annotations

import gzip
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replay import ACCOUNT, make_records

PER_FILE = 5_000
MEMORY_GB = 0.5  # the function's MemorySize (template.yaml)
# List prices, us-east-1, arm64 (check https://aws.amazon.com/lambda/pricing/ and the others for yours).
LAMBDA_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1e6
S3_GET = 0.0004 / 1000
SQS_REQUEST = 0.40 / 1e6
DYNAMODB_WRITE = 0.625 / 1e6  # on demand, per write request unit
FILES_PER_INVOCATION = 10  # the SQS event source's BatchSize


def reconciler(prefilter: bool, files: dict[str, bytes]):
    from leash.actors import ActorCache
    from leash.notify import Notifier
    from leash.reconcile import Reconciler
    from leash.routing import Router
    from leash.settings import ActorConfig
    from leash_cli.template import deployment_for, eventbridge_rules, function_environment, load_template

    template = load_template()
    wanted = ("NotifyFunction", "ReapplyFunction")
    rules = [
        r
        for r in eventbridge_rules(template, deployment_for(template, {}, account=ACCOUNT))
        if r.function in wanted
    ]
    router = Router(rules)
    if not prefilter:
        router.record_prefilter = lambda: None  # type: ignore[method-assign]
    config = ActorConfig.from_env(function_environment(template, list(wanted), {}, account=ACCOUNT))
    actors = ActorCache(config)
    published: list[object] = []
    # The reapply step's decision without its AWS calls: an alert, as the notify step makes.
    notifier = Notifier(config, lambda alert: published.append(alert) or "bench", actors=actors)
    handlers = {name: (name, notifier.handle) for name in wanted}
    return (
        Reconciler(
            lambda: router,
            handlers,
            lambda bucket, key: files[key],
            account=ACCOUNT,
            clock=lambda: datetime(2026, 11, 22, 21, 12, tzinfo=UTC),
        ),
        published,
    )


def main() -> None:
    from leash.reconcile import LogObject

    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    records = make_records(total, "typical")
    files = {
        f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/22/{ACCOUNT}_CloudTrail_us-east-1_20261122T2110Z_{f:05d}.json.gz": gzip.compress(
            json.dumps({"Records": records[f : f + PER_FILE]}, separators=(",", ":")).encode()
        )
        for f in range(0, total, PER_FILE)
    }
    results = {}
    for prefilter in (True, False):
        runs = []
        for _ in range(repeats):  # this machine is shared: the best run is the machine's own speed
            rec, published = reconciler(prefilter, files)
            start = time.perf_counter()
            reports = [rec.reconcile(LogObject("trail", key)) for key in files]
            runs.append(time.perf_counter() - start)
        results[prefilter] = (min(runs), statistics.median(runs), reports, len(published))
    best, median, reports, alerts = results[True]
    skipped = sum(r.skipped for r in reports)
    matched = sum(r.matched for r in reports)
    ms_per_million = best / total * 1e6 * 1000
    compute = best / total * 1e6 * MEMORY_GB * LAMBDA_GB_SECOND
    files_per_million = 1e6 / PER_FILE
    requests = files_per_million * (S3_GET + 3 * SQS_REQUEST + LAMBDA_REQUEST / FILES_PER_INVOCATION)
    # Each matched record: one conditional idempotency write per handler (an already-delivered eventID
    # reads its record back instead; counted as a write here, the dearer of the two).
    dynamodb = matched / total * 1e6 * DYNAMODB_WRITE
    print(
        f"reconciler, typical mix: {total:,} records in {len(files)} log files; "
        f"with the prefilter best {best / total * 1e6:.2f} µs/record (median {median / total * 1e6:.2f}), "
        f"without {results[False][0] / total * 1e6:.2f} µs/record; "
        f"{skipped / total:.1%} skipped undecoded, {matched / total:.1%} matched a rule, {alerts:,} alerts"
    )
    print(
        f"per million records: {ms_per_million / 1000:,.1f} s of Lambda ({MEMORY_GB:g} GB arm64) = ${compute:.4f}; "
        f"S3 GET + SQS + invocations at {PER_FILE:,} records a file = ${requests:.4f}; "
        f"idempotency writes for the matched = ${dynamodb:.4f}; total ${compute + requests + dynamodb:.4f}"
    )


if __name__ == "__main__":
    main()
