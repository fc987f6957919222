"""Slack noise, before and after incidents: `leash replay` over a realistic day, counted per incident and per
10,000 agent calls.

The mix (24 hours, ~100,000 management events, a quarter of them by the agent role ai-agent-deploy):
  routine   the agent deploys once an hour: a 15-minute burst of ~1,040 calls, of which ~33 are the
            sensitive calls Leash alerts on for an agent at medium (RunInstances, CreateRole, CreatePolicy,
            ingress from a private range), the rest reads. People, CI and AWS services make the other
            three quarters (benchmarks/replay.py's routine calls), with a human terminating an instance
            now and then (medium for a human).
  incident  at 03:40 the agent does the clean-up of the product brief: suspends a bucket's versioning,
            stops CloudTrail logging, detaches its own guardrail policy and deletes a database skipping the
            final snapshot (the events/ samples), in five minutes.

Before: one Slack post per alert, and every alert reaches every SNS subscriber (no attributes to filter on).
After: one incident per principal until QuietMinutes (30) of quiet; with a bot token, one top-level message
per incident plus each critical broadcast, the rest in threads; the pager's filter policy passes critical and
high only. Decided by the real handlers through `leash replay` (leash.incidents.SlackTraffic counts).

Run: .venv/bin/python benchmarks/noise.py [--json]
"""

from __future__ import annotations

import copy
import gzip
import importlib.util
import json
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("replay_bench", ROOT / "benchmarks" / "replay.py")
assert _spec and _spec.loader
replay_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(replay_bench)
ACCOUNT, identity, routine_record = replay_bench.ACCOUNT, replay_bench.identity, replay_bench.routine_record

DAY = datetime(2026, 11, 22, tzinfo=UTC)
AGENT = "ai-agent-deploy"
DEPLOY_CALLS, DEPLOY_MINUTES = 1_040, 15
OTHERS_PER_AGENT_CALL = 3  # three quarters of the trail is everyone else
GUARDRAIL = f"arn:aws:iam::{ACCOUNT}:policy/agent-guardrail-deny"
INCIDENT_AT = DAY + timedelta(hours=3, minutes=40)
INCIDENT = [
    "s3-put-bucket-versioning-suspended-by-agent",
    "cloudtrail-stop-logging-by-agent",
    "iam-detach-role-policy-guardrail-by-agent",
    "rds-delete-db-instance-skip-final-snapshot-by-agent",
]


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_call(service: str, call: str, params: dict[str, Any], n: int, rng: random.Random) -> dict[str, Any]:
    """A successful write by the agent (readOnly false), shaped like benchmarks/replay.py's routine calls."""
    record = routine_record(n, rng)
    record.update(
        userIdentity=identity("role", AGENT),
        eventSource=f"{service}.amazonaws.com",
        eventName=call,
        requestParameters=params,
        readOnly=False,
        responseElements=None,
    )
    return record


def deploy(hour: int, rng: random.Random, n: int) -> list[dict[str, Any]]:
    """One routine deploy by the agent: reads, and the few sensitive writes any deploy makes."""
    start = DAY + timedelta(hours=hour)
    records = []
    ingress = json.loads(
        (ROOT / "events" / "ec2-authorize-security-group-ingress-private-range-by-agent.json").read_text()
    )
    for i in range(DEPLOY_CALLS):
        when = start + timedelta(seconds=i * DEPLOY_MINUTES * 60 / DEPLOY_CALLS)
        if i % 64 == 5:  # 16 a deploy
            record = write_call(
                "ec2", "RunInstances", {"instanceType": "t4g.small", "minCount": 1, "maxCount": 1}, n + i, rng
            )
        elif i % 520 == 11:  # 2 a deploy
            record = write_call(
                "iam",
                "CreateRole",
                {"roleName": f"svc-{hour}-{i}", "assumeRolePolicyDocument": "{}"},
                n + i,
                rng,
            )
        elif i % 520 == 13:
            record = write_call(
                "iam", "CreatePolicy", {"policyName": f"svc-{hour}-{i}", "policyDocument": "{}"}, n + i, rng
            )
        elif i % 80 == 17:  # 13 a deploy: security groups for the new instances, from the VPC's range
            record = copy.deepcopy(ingress["detail"])
        else:
            record = dict(routine_record(n + i, rng), userIdentity=identity("role", AGENT))
        record["eventTime"] = stamp(when)
        record["eventID"] = f"deploy-{hour}-{i}"
        records.append(record)
    return records


def make_day(seed: int = 7) -> tuple[list[dict[str, Any]], int]:
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    agent_calls = 0
    for hour in range(24):
        burst = deploy(hour, rng, len(records))
        agent_calls += len(burst)
        records += burst
    for i, name in enumerate(INCIDENT):
        record = copy.deepcopy(json.loads((ROOT / "events" / f"{name}.json").read_text())["detail"])
        record["eventTime"] = stamp(INCIDENT_AT + timedelta(minutes=i))
        record["eventID"] = f"incident-{i}"
        records.append(record)
        agent_calls += 1
    human = json.loads((ROOT / "events" / "ec2-terminate-instances-by-human.json").read_text())["detail"]
    for i in range(agent_calls * OTHERS_PER_AGENT_CALL):
        when = DAY + timedelta(seconds=i * 86_400 / (agent_calls * OTHERS_PER_AGENT_CALL))
        record = copy.deepcopy(human) if i % 4_000 == 1_234 else routine_record(i, rng)
        record["eventTime"] = stamp(when)
        record["eventID"] = f"other-{i}"
        records.append(record)
    records.sort(key=lambda r: r["eventTime"])
    return records, agent_calls


def main() -> None:
    from leash_cli.replay import Replay

    records, agent_calls = make_day()
    with tempfile.TemporaryDirectory() as tmp:
        for f in range(0, len(records), 5_000):
            with gzip.open(
                Path(tmp) / f"{ACCOUNT}_CloudTrail_us-east-1_{f // 5_000:05d}.json.gz", "wt"
            ) as out:
                json.dump({"Records": records[f : f + 5_000]}, out)
        # The agent role's guardrail, as the deploy names it (the incident detaches it).
        replayer = Replay(overrides={"GuardrailPolicyArns": GUARDRAIL}, account=ACCOUNT)
        for _ in replayer.run([tmp]):
            pass
    traffic = replayer.traffic
    severities = replayer.report.severities
    alerts = sum(severities.values())
    per10k = 10_000 / agent_calls
    agent_incidents = sum(1 for i in traffic.store.incidents.values() if i.label.startswith("agent"))
    figures = {
        "records": len(records),
        "agent_calls": agent_calls,
        "alerts": alerts,
        "alerts_by_severity": dict(severities),
        "before": {
            "slack_posts": alerts,
            "slack_posts_per_10k_agent_calls": round(alerts * per10k, 1),
            "pages": alerts,
        },
        "after": {
            **traffic.to_dict(),
            "agent_incidents": agent_incidents,
            "top_level_posts_per_incident": round(traffic.top_level / traffic.incidents, 2),
            "top_level_posts_per_10k_agent_calls": round(traffic.top_level * per10k, 1),
        },
    }
    if "--json" in sys.argv:
        print(json.dumps(figures, indent=2))
        return
    after = figures["after"]
    print(
        f"{len(records):,} records, {agent_calls:,} by the agent; {alerts:,} alerts "
        f"({', '.join(f'{n} {s}' for s, n in severities.most_common())}).\n"
        f"before: {alerts:,} Slack posts ({figures['before']['slack_posts_per_10k_agent_calls']} per 10,000 agent "
        f"calls), every alert to every subscriber ({alerts:,} pages).\n"
        f"after:  {traffic.incidents} incidents ({agent_incidents} of the agent); with a bot token "
        f"{traffic.top_level} top-level posts ({traffic.parents} incident messages + {traffic.broadcasts} critical "
        f"broadcasts) = {after['top_level_posts_per_incident']} per incident, "
        f"{after['top_level_posts_per_10k_agent_calls']} per 10,000 agent calls; {traffic.replies:,} thread "
        f"replies; webhook alone {traffic.webhook_posts + traffic.alone + traffic.digests} posts; pages (critical+high filter) "
        f"{after['pages']}."
    )


if __name__ == "__main__":
    main()
