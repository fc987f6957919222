"""Median time per event of the reapply handler on moto (RDS deletion protection put back).

Each iteration is a new CloudTrail eventID on a freshly stripped database, through the real
handler: parse, classify, idempotency record, ModifyDBInstance, ledger write, SNS publish.
Run: .venv/bin/python benchmarks/reapply.py [N]
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "cli"))


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    from leash_cli.demo import DEMO_ENV, _Context, create_leash_tables
    from leash_cli.emulator import emulated_account

    with emulated_account(DEMO_ENV):
        import boto3

        os.environ["ALERTS_TOPIC_ARN"] = create_leash_tables()
        boto3.client("rds").create_db_instance(
            DBInstanceIdentifier="prod-db",
            DBInstanceClass="db.r6g.large",
            Engine="postgres",
            MasterUsername="app",
            MasterUserPassword="demo-password",
            AllocatedStorage=100,
            DeletionProtection=True,
        )
        spec = importlib.util.spec_from_file_location("reapply_app", ROOT / "functions/reapply/app.py")
        handler = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(handler)
        context = _Context()
        base = json.loads(
            (ROOT / "events/rds-modify-db-instance-disable-deletion-protection-by-agent.json").read_text()
        )
        rds = boto3.client("rds")
        times = []
        for i in range(runs):
            rds.modify_db_instance(DBInstanceIdentifier="prod-db", DeletionProtection=False)
            event = copy.deepcopy(base)
            event["detail"]["eventID"] = f"bench-{i:06d}"
            start = time.perf_counter()
            result = handler.lambda_handler(event, context)
            times.append((time.perf_counter() - start) * 1000)
            assert result["status"] == "published", result
        assert rds.describe_db_instances(DBInstanceIdentifier="prod-db")["DBInstances"][0][
            "DeletionProtection"
        ]
    times.sort()
    print(
        f"reapply handler on moto, {runs} events: median {statistics.median(times):.2f} ms, "
        f"p90 {times[int(runs * 0.9)]:.2f} ms, max {times[-1]:.2f} ms"
    )


if __name__ == "__main__":
    main()
