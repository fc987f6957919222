"""`leash replay` throughput, end to end from .json.gz CloudTrail files, on one core.

Writes CloudTrail-style gzipped log files (5,000 records each), then times `Replay.run` on them:
reading, the prefilter, decoding, routing by template.yaml's rules, and the handlers' decisions.

Two mixes:
  typical  what a management-event trail of an account with agents looks like: 90% routine calls
           by apps, people and AWS services (describes, assume-role, KMS, log writes, a few with
           escaped policy text), 5% an agent's own reads, 3% denied calls, 2% the calls Leash is
           about (the events/ samples: deletions, stripped protections, root, MCP).
  stress   one record in five is an events/ sample, the rest routine: five times the work per record.

Run: .venv/bin/python benchmarks/replay.py [records] [typical|stress] [repeats]
"""

from __future__ import annotations

import gzip
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PER_FILE = 5_000
ACCOUNT = "111122223333"


def identity(kind: str, name: str) -> dict[str, Any]:
    if kind == "role":
        return {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLE:{name}-session",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{name}-session",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLE",
                    "userName": name,
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
                    "accountId": ACCOUNT,
                },
                "attributes": {"creationDate": "2026-11-22T20:58:12Z", "mfaAuthenticated": "false"},
            },
        }
    if kind == "user":
        return {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLE",
            "userName": name,
        }
    return {"type": "AWSService", "invokedBy": name}


ROUTINE = [  # (service, call, identity, request parameters)
    ("ec2", "DescribeInstances", ("role", "orders-api"), {"instancesSet": {}, "filterSet": {}}),
    (
        "sts",
        "AssumeRole",
        ("role", "ci-deployer"),
        {
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/orders-api",
            "roleSessionName": "orders-api-session",
            "durationSeconds": 3600,
        },
    ),
    ("kms", "Decrypt", ("role", "orders-api"), {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
    ("kms", "GenerateDataKey", ("service", "s3.amazonaws.com"), {"keySpec": "AES_256"}),
    (
        "logs",
        "CreateLogStream",
        ("role", "orders-worker"),
        {"logGroupName": "/aws/lambda/orders-worker", "logStreamName": "2026/11/22/[$LATEST]abc"},
    ),
    ("rds", "DescribeDBInstances", ("user", "maria"), {"dBInstanceIdentifier": "orders-prod"}),
    (
        "s3",
        "GetBucketLocation",
        ("role", "analytics-etl"),
        {"bucketName": "analytics-raw", "Host": "s3.amazonaws.com"},
    ),
    ("iam", "GetRole", ("user", "maria"), {"roleName": "orders-api"}),
    ("lambda", "ListFunctions20150331", ("role", "ci-deployer"), {}),
    ("cloudformation", "DescribeStacks", ("role", "ci-deployer"), {"stackName": "orders-prod"}),
    (
        "ssm",
        "GetParameter",
        ("role", "orders-api"),
        {"name": "/orders/prod/feature-flags", "withDecryption": False},
    ),
    ("iam", "GetRolePolicy", ("user", "maria"), {"roleName": "orders-api", "policyName": "inline"}),
]


def routine_record(n: int, rng: random.Random) -> dict[str, Any]:
    service, call, who, params = ROUTINE[n % len(ROUTINE)]
    record = {
        "eventVersion": "1.10",
        "userIdentity": identity(*who),
        "eventTime": "2026-11-22T21:04:36Z",
        "eventSource": f"{service}.amazonaws.com",
        "eventName": call,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.0.3.17" if who[0] != "service" else who[1],
        "userAgent": "Boto3/1.35.61 md/Botocore#1.35.61 ua/2.0 os/linux#6.1 md/arch#aarch64 lang/python#3.13.0 exec-env/AWS_Lambda_python3.13",
        "requestParameters": dict(params),
        "responseElements": None,
        "requestID": f"{rng.getrandbits(64):016x}",
        "eventID": f"{rng.getrandbits(64):016x}",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{service}.us-east-1.amazonaws.com",
        },
    }
    if call == "GetRolePolicy":  # policy text in a response: escaped quotes, decoded to be sure
        record["responseElements"] = {
            "policyDocument": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
                }
            )
        }
    return record


def make_records(total: int, mix: str) -> list[dict[str, Any]]:
    rng = random.Random(7)
    samples = [json.loads(p.read_text())["detail"] for p in sorted((ROOT / "events").glob("*.json"))]
    samples = [s for s in samples if "eventName" in s]
    agent = identity("role", "ai-agent-deploy")
    records = []
    for n in range(total):
        roll = n % 100 if mix == "typical" else (0 if n % 5 == 0 else 99)
        if roll < 2:
            record = dict(samples[n % len(samples)])
        elif roll < 5:
            record = dict(
                routine_record(n, rng), errorCode="AccessDenied", errorMessage="User is not authorized"
            )
        elif roll < 10:
            record = dict(routine_record(n, rng), userIdentity=agent)
        else:
            record = routine_record(n, rng)
        record["eventID"] = f"bench-{n}"
        records.append(record)
    return records


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    from leash_cli.replay import Replay

    total = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    mix = sys.argv[2] if len(sys.argv) > 2 else "typical"
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    records = make_records(total, mix)
    with tempfile.TemporaryDirectory() as tmp:
        for f in range(0, total, PER_FILE):
            with gzip.open(
                Path(tmp) / f"{ACCOUNT}_CloudTrail_us-east-1_{f // PER_FILE:05d}.json.gz", "wt"
            ) as out:
                json.dump({"Records": records[f : f + PER_FILE]}, out)
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        runs, baseline = [], []
        for _ in range(repeats):  # this machine is shared: the best run is the machine's own speed
            replayer = Replay(overrides={}, account=ACCOUNT)
            out: dict[str, Any] = {}

            def replay() -> None:
                out["decisions"] = sum(1 for _ in replayer.run([tmp]))  # noqa: B023
                out["spikes"] = replayer.spike_alerts  # noqa: B023

            runs.append(timed(replay))
            # A yardstick from the same run: merely decoding the same files with the standard library.
            baseline.append(
                timed(lambda: [json.loads(gzip.decompress(p.read_bytes())) for p in Path(tmp).iterdir()])
            )
    report = replayer.report
    rate = lambda seconds: f"{total / seconds:,.0f}"  # noqa: E731
    print(
        f"leash replay ({mix} mix): {total:,} records from {total // PER_FILE} .json.gz files ({size / 1e6:.1f} MB), "
        f"{repeats} runs: best {rate(min(runs))} records/s, median {rate(statistics.median(runs))} records/s "
        f"(gunzip + json.loads alone: best {rate(min(baseline))} records/s); "
        f"{report.matched:,} matched a rule, {out['decisions']:,} decisions, {len(out['spikes'])} spike alerts"
    )


if __name__ == "__main__":
    main()
