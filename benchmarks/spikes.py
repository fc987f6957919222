"""A burst of 10,000 denied calls from one agent through the spikes consumer on moto.

Prints Lambda invocations (SQS batches of 1,000), DynamoDB writes and events per second.
Run: .venv/bin/python benchmarks/spikes.py
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "cli"), str(ROOT / "tests")]

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


def main() -> None:
    from test_spikes import batch, denied

    from leash_cli.emulator import create_tables, emulated_account

    events = [denied(i, seconds=i * 0.02) for i in range(10_000)]
    batches = [batch(events[i : i + 1000], i) for i in range(0, len(events), 1000)]
    with emulated_account(ENV):
        import boto3

        create_tables({"SpikeTable": "leash-spikes"})
        os.environ["ALERTS_TOPIC_ARN"] = boto3.client("sns").create_topic(Name="alerts")["TopicArn"]
        boto3.client("events").create_event_bus(Name="leash-leash")
        spec = importlib.util.spec_from_file_location("spikes_app", ROOT / "functions/spikes/app.py")
        app = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(app)
        writes = []
        app.consumer._store._ddb.meta.events.register(
            "provide-client-params.dynamodb.UpdateItem",
            lambda params, **kw: writes.append(params["UpdateExpression"]),
        )
        alerts = 0
        start = time.perf_counter()
        for records in batches:
            result = app.consumer.handle(records)
            alerts += len(result.alerts)
        elapsed = time.perf_counter() - start
    counters = sum(1 for w in writes if w.startswith("ADD"))
    print(
        f"{len(events):,} denied calls from one agent: {len(batches)} invocations, {counters} counter writes "
        f"(+{len(writes) - counters} alerted-level flags), {alerts} alerts, "
        f"{len(events) / elapsed:,.0f} events/s ({elapsed * 1000 / len(batches):.0f} ms per batch of 1,000)"
    )


if __name__ == "__main__":
    main()
