"""A seeded slice of the fuzz (`make fuzz` runs 20,000+ cases): every handler total on hostile input.

Each handler gets its share of a few hundred deterministic cases (the seed and case numbers of
`make fuzz`). Any unhandled exception or broken promise (a forged request answered other than 4xx
or with a side effect, a malformed spike record not failed exactly once) fails the test.
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


@pytest.mark.parametrize("target", sorted(SLICE))
def test_handler_is_total_on_a_seeded_slice(target):
    tally = run_target(target, SEED, 0, SLICE[target])
    assert tally.cases == SLICE[target]
    failures = [
        f"{failure.count} x {failure.kind} at {failure.where}: {failure.message[:200]!r} "
        f"(reproduce: python tests/fuzz/run.py --seed {SEED} --target {target} --start {failure.first_case} --cases 1)"
        for failure in tally.failures.values()
    ]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("target", "case"),
    [("notify", 264), ("reapply", 58), ("reapply", 425), ("spikes", 153), ("spikes", 2423)],
)
def test_once_crashing_case_is_handled(target, case):
    """The cases that crashed before (an alert over SNS's 256 KB, an idempotency record or a ledger item over
    DynamoDB's 400 KB, a spike batch that is not an object or whose Records is not a list) now do not."""
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
