"""A seeded slice of the fuzz (`make fuzz` runs 20,000+ cases): every handler total on hostile input.

Each handler gets its share of a few hundred deterministic cases (the seed and case numbers of
`make fuzz`). A crash or a broken promise fails the test, unless it is one of KNOWN: crashes whose
fix belongs to a file another change owns (message size in publish.py, ledger.py's item size, the
spike consumer's event shape). Those are expected failures, strict=False: when their owner's fix
lands the same cases pass and nothing here needs to change but deleting the entry.
"""

from __future__ import annotations

import json

import boto3
import pytest
from targets import SAMPLES, World, run_target

SEED = 17
SLICE = {
    "notify": 90,
    "reapply": 30,
    "spikes": 50,
    "slack_forwarder": 90,
    "interactions": 60,
    "interactions_signed": 40,
}

# (target, exception type, file of the innermost Leash frame) -> the file that owns the fix, and why.
KNOWN = {
    (
        "notify",
        "InvalidParameterException",
        "publish.py",
    ): "publish.py: an alert over SNS's 256 KB (Message too long)",
    (
        "reapply",
        "InvalidParameterException",
        "publish.py",
    ): "publish.py: an alert over SNS's 256 KB (Message too long)",
    (
        "reapply",
        "ClientError",
        "ledger.py",
    ): "ledger.py: a ledger item over DynamoDB's 400 KB (a 300 KB field)",
    ("spikes", "AttributeError", "spike_consumer.py"): "spike_consumer.py: an event that is not an object",
    ("spikes", "TypeError", "spike_consumer.py"): "spike_consumer.py: Records that is not a list",
}


def _known(target: str, kind: str, where: str) -> str | None:
    file = where.split(":", 1)[0].rsplit("/", 1)[-1]
    return KNOWN.get((target, kind, file))


@pytest.mark.parametrize("target", sorted(SLICE))
def test_handler_is_total_on_a_seeded_slice(target):
    tally = run_target(target, SEED, 0, SLICE[target])
    assert tally.cases == SLICE[target]
    unknown, known = [], []
    for failure in tally.failures.values():
        owner = _known(target, failure.kind, failure.where)
        line = (
            f"{failure.count} x {failure.kind} at {failure.where}: {failure.message[:200]!r} "
            f"(reproduce: python tests/fuzz/run.py --seed {SEED} --target {target} --start {failure.first_case} --cases 1)"
        )
        (known if owner else unknown).append(f"{line} [owner: {owner}]" if owner else line)
    assert not unknown, "\n".join(unknown)
    if known:
        pytest.xfail("known, fixed by their owners: " + "; ".join(known))


@pytest.mark.parametrize(
    ("target", "case"),
    [
        pytest.param(
            "notify",
            264,
            marks=pytest.mark.xfail(
                strict=False, reason=KNOWN[("notify", "InvalidParameterException", "publish.py")]
            ),
        ),
        pytest.param(
            "reapply",
            425,
            marks=pytest.mark.xfail(strict=False, reason=KNOWN[("reapply", "ClientError", "ledger.py")]),
        ),
        pytest.param(
            "spikes",
            153,
            marks=pytest.mark.xfail(
                strict=False, reason=KNOWN[("spikes", "AttributeError", "spike_consumer.py")]
            ),
        ),
    ],
)
def test_known_crash_reproducer(target, case):
    """One reproducer per KNOWN crash: XPASS once the owner's fix is merged."""
    tally = run_target(target, SEED, case, 1)
    assert not tally.failures, [f"{f.kind} at {f.where}: {f.message[:200]}" for f in tally.failures.values()]


def test_malformed_spike_records_fail_once_each_then_go_to_the_dead_letter_queue():
    """Not retried forever: SQS redelivers a failed record until the queue's maxReceiveCount (template.yaml),
    then moves it to the dead-letter queue; the good records of its batches are counted once."""
    from leash_cli.template import load_template

    queue_props = load_template()["Resources"]["SpikeQueue"]["Properties"]
    max_receives = int(queue_props["RedrivePolicy"]["maxReceiveCount"])
    good = SAMPLES["dynamodb-delete-table-denied"]
    with World() as world:
        handler = world.handler("spikes", "SpikeFunction")
        sqs = boto3.client("sqs")
        dlq = sqs.create_queue(QueueName="leash-spikes-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue = sqs.create_queue(
            QueueName="leash-spikes",
            Attributes={
                "VisibilityTimeout": "0",  # redelivered at once: no waiting in a test
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}
                ),
            },
        )["QueueUrl"]
        for body in (json.dumps(good), "not json", json.dumps({**good, "detail": {"eventID": 5}})):
            sqs.send_message(QueueUrl=queue, MessageBody=body)

        failures: list[str] = []
        for _ in range(3 * max_receives):
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            event = {
                "Records": [
                    {
                        "messageId": m["MessageId"],
                        "receiptHandle": m["ReceiptHandle"],
                        "body": m["Body"],
                        "eventSource": "aws:sqs",
                    }
                    for m in messages
                ]
            }
            failed = [f["itemIdentifier"] for f in world.invoke(handler, event)["batchItemFailures"]]
            assert len(failed) == len(set(failed)), "a record reported failed twice in one batch"
            failures += failed
            for m in messages:  # what Lambda does with a partial batch response: delete the successes
                if m["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])

        dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
        assert sorted(m["Body"] for m in dead)[0] == "not json" and len(dead) == 2
        assert (
            len(failures) == 2 * max_receives
        )  # each malformed record failed once per delivery, then parked
        assert sqs.receive_message(QueueUrl=queue).get("Messages", []) == []
        counted = boto3.client("dynamodb").scan(TableName="leash-spikes")["Items"]
        assert sum(int(i["denied"]["N"]) for i in counted if "denied" in i) == 1  # the good record, once
