"""A burst of 10,000 denied calls from one agent through the spikes consumer on moto.

EventBridge delivers an agent's denied call once per spike rule (DeniedCallsRule and AgentCallsRule
both match it), so the queue holds two records per call: 20,000 records, 20 SQS batches of 1,000.
Prints Lambda invocations, DynamoDB requests and items written per batch, the alerts and the speed;
`--once` delivers each call once (10 batches), as the merged rules of older versions assumed.
Run: .venv/bin/python benchmarks/spikes.py [--once]
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "cli"), str(ROOT / "tests"), str(ROOT / "tests" / "functional")]

ENV = {
    "SPIKE_TABLE": "leash-spikes",
    "POWERTOOLS_SERVICE_NAME": "spikes",
    "POWERTOOLS_METRICS_NAMESPACE": "Leash",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "LEASH_ROLE_PREFIX": "leash",
    "LEASH_AGENT_ROLE_PREFIX": "ai-agent-",
    "LEASH_AUTO_LOCKDOWN": "agents",
    "LEASH_EVENT_BUS": "leash-leash",
    "LEASH_DENIED_THRESHOLDS_AGENT": "1500,5000",
}


def main(copies: int) -> None:
    from test_spikes import batch, denied

    from leash_cli.emulator import create_tables, emulated_account

    events = [denied(i, seconds=i * 0.02) for i in range(10_000)]
    records = [e for e in events for _ in range(copies)]  # each rule's copy, side by side
    batches = [batch(records[i : i + 1000], i) for i in range(0, len(records), 1000)]
    with emulated_account(ENV):
        import boto3

        create_tables({"SpikeTable": "leash-spikes"})
        os.environ["ALERTS_TOPIC_ARN"] = boto3.client("sns").create_topic(Name="alerts")["TopicArn"]
        boto3.client("events").create_event_bus(Name="leash-leash")
        spec = importlib.util.spec_from_file_location("spikes_app", ROOT / "functions/spikes/app.py")
        app = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(app)
        requests: Counter[str] = Counter()
        items: Counter[str] = Counter()  # items written, by kind

        def count(params, event_name, **kwargs):
            operation = event_name.rsplit(".", 1)[-1]
            requests[operation] += 1
            if operation == "UpdateItem":
                items["counter" if params["UpdateExpression"].startswith("ADD") else "flag"] += 1
            elif operation == "TransactWriteItems":
                for item in params["TransactItems"]:
                    items["counter" if "Update" in item else "marker"] += 1

        app.consumer._store._ddb.meta.events.register("provide-client-params.dynamodb", count)
        alerts, titles = 0, []
        start = time.perf_counter()
        for records_batch in batches:
            result = app.consumer.handle(records_batch)
            alerts += len(result.alerts)
            titles += [a.title.split(":")[1].strip() for a in result.alerts]
        elapsed = time.perf_counter() - start
    n = len(batches)
    print(
        f"{len(events):,} denied calls from one agent, {copies} record(s) each: {n} invocations; "
        f"DynamoDB per batch of 1,000 records: {sum(requests.values()) / n:.1f} requests "
        f"({', '.join(f'{op} {c / n:.1f}' for op, c in sorted(requests.items()))}), "
        f"{sum(items.values()) / n:.1f} items written ({', '.join(f'{k} {c / n:.1f}' for k, c in sorted(items.items()))}); "
        f"{alerts} alerts ({'; '.join(titles)}); "
        f"{len(records) / elapsed:,.0f} records/s ({elapsed * 1000 / n:.0f} ms per batch)"
    )


if __name__ == "__main__":
    main(1 if "--once" in sys.argv[1:] else 2)
