"""The reconciler on moto: CloudTrail log files written to the trail bucket, announced by S3 event notifications
through SQS, read by functions/reconcile/app.py, routed by the rules deployed on EventBridge, and handled by the
notify and reapply functions' own logic: each eventID acted on once, whichever path brings it first."""

from __future__ import annotations

import copy
import gzip
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from conftest import ACCOUNT, ROOT, SAMPLE_PARAMETERS, ledger_records, load_event, load_handler
from test_reapply import rds_instance

from leash.alerts import Alert
from leash.reconcile import LogObject, file_kind, log_objects, read_log_file
from leash.render import render_text
from leash_cli.template import deployment_for, eventbridge_rules, load_template

BUCKET = "org-trail-logs"
NOTIFY_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:leash-NotifyFunction-AbC123"
REAPPLY_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:leash-ReapplyFunction-DeF456"
SPIKE_QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:leash-SpikeQueue-GhI789"
TARGETS = {"NotifyFunction": NOTIFY_ARN, "ReapplyFunction": REAPPLY_ARN, "SpikeQueue": SPIKE_QUEUE_ARN}
LOG_KEY = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/22/{ACCOUNT}_CloudTrail_us-east-1_20261122T2110Z_a1b2.json.gz"
DIGEST_KEY = (
    f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/11/22/"
    f"{ACCOUNT}_CloudTrail-Digest_us-east-1_leash-trail_us-east-1_20261122T211000Z.json.gz"
)
LATE = timedelta(minutes=7)


def deploy_rules() -> dict[str, str]:
    """Leash's rules as `sam deploy` creates them (the template's, with the sample parameters), on moto's default bus.

    Returns rule name -> target ARN."""
    template = load_template()
    events = boto3.client("events")
    deployed = {}
    for i, rule in enumerate(
        eventbridge_rules(template, deployment_for(template, SAMPLE_PARAMETERS, account=ACCOUNT))
    ):
        if rule.function not in TARGETS:  # the forwarders' alarm rule publishes to the alerts topic
            continue
        name = f"leash-{rule.function}{rule.name}-{i}"[:64]
        events.put_rule(Name=name, EventPattern=json.dumps(rule.pattern), State="ENABLED")
        events.put_targets(Rule=name, Targets=[{"Id": "target", "Arn": TARGETS[rule.function]}])
        deployed[name] = TARGETS[rule.function]
    return deployed


@pytest.fixture
def reconcile(notify_stack, lambda_context, monkeypatch):
    """The reconcile function on moto: the notify/reapply world, the trail bucket, the rules deployed."""
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    rules = deploy_rules()
    monkeypatch.setenv("NOTIFY_FUNCTION_ARN", NOTIFY_ARN)
    monkeypatch.setenv("REAPPLY_FUNCTION_ARN", REAPPLY_ARN)
    monkeypatch.setenv("LEASH_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "reconcile")
    handler = load_handler("reconcile")
    handler.rules = rules
    return handler, notify_stack[1], lambda_context


def record(name: str, *, late: timedelta = LATE) -> dict:
    """The CloudTrail record of a sample in events/, as the log file holds it, made `late` ago."""
    detail = copy.deepcopy(load_event(name)["detail"])
    detail["eventTime"] = (datetime.now(UTC) - late).strftime("%Y-%m-%dT%H:%M:%SZ")
    return detail


def read_call_by_human() -> dict:
    """A read no rule wants (a human describing instances): the prefilter skips it undecoded."""
    detail = record("ec2-terminate-instances-by-human")
    detail.update(
        eventName="DescribeInstances", readOnly=True, eventID="5d1e7a7e-0000-4000-8000-00000000d001"
    )
    return detail


def write_log_file(records: list[dict], key: str = LOG_KEY) -> None:
    """A log file as CloudTrail writes it: gzip, compact JSON, {"Records": [...]}."""
    body = gzip.compress(json.dumps({"Records": records}, separators=(",", ":")).encode())
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)


def s3_notification(key: str = LOG_KEY, bucket: str = BUCKET) -> str:
    """The S3 event notification a new object sends to the queue (event structure version 2.1)."""
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": "2026-11-22T21:17:03.512Z",
                    "eventName": "ObjectCreated:Put",
                    "userIdentity": {"principalId": "AWS:AROA5EXAMPLECLOUDTRAIL:regionalDeliverySession"},
                    "requestParameters": {"sourceIPAddress": "10.0.12.34"},
                    "responseElements": {
                        "x-amz-request-id": "C3D13FE58DE4C810",
                        "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
                    },
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "leash-reconciler",
                        "bucket": {
                            "name": bucket,
                            "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                            "arn": f"arn:aws:s3:::{bucket}",
                        },
                        "object": {
                            "key": key,
                            "size": 1024,
                            "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                            "sequencer": "0055AED6DCD90281E5",
                        },
                    },
                }
            ]
        }
    )


def sqs_batch(*bodies: str) -> dict:
    """The SQS event Lambda hands the function."""
    return {
        "Records": [
            {
                "messageId": f"059f36b4-87a3-44ab-83d2-66197592{i:04d}",
                "receiptHandle": f"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a{i}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795209423000",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1795209423010",
                },
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:{ACCOUNT}:leash-ReconcileQueue-JkL012",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def alerts(inbox) -> list[str]:
    """The alerts delivered so far, as e-mail subscribers read them."""
    return [render_text(Alert.from_dict(json.loads(m["Message"]))) for m in inbox.drain()]


DELETE = "rds-delete-db-instance-skip-final-snapshot-by-agent"  # notify: critical
STRIP = "rds-modify-db-instance-disable-deletion-protection-by-agent"  # reapply: high, protection put back


def test_a_log_file_eventbridge_never_delivered_alerts_and_reapplies_once(reconcile):
    handler, inbox, context = reconcile
    stripped = record(STRIP)
    protected = rds_instance({"detail": stripped})
    write_log_file([record(DELETE), stripped, read_call_by_human()])

    result = handler.lambda_handler(sqs_batch(s3_notification()), context)

    assert result == {"batchItemFailures": []}
    assert protected(), "the reconciler put RDS deletion protection back"
    (ledger,) = ledger_records(stripped["eventID"])
    assert (ledger["protection"], ledger["outcome"]) == ("rds-instance-deletion-protection", "reapplied")
    texts = alerts(inbox)
    assert len(texts) == 2
    late = "Delivered: from the trail's log file 7 min after the call; EventBridge never delivered it"
    assert all(late in text for text in texts), texts
    assert any("agent ai-agent-deploy deleted DB instance prod-db" in t and "[CRITICAL]" in t for t in texts)

    # S3 notifies at least once: the same file again acts on nothing.
    assert handler.lambda_handler(sqs_batch(s3_notification()), context) == {"batchItemFailures": []}
    assert alerts(inbox) == [] and len(ledger_records(stripped["eventID"])) == 1


def test_delivered_by_eventbridge_and_by_the_log_file_acts_once(reconcile):
    handler, inbox, context = reconcile
    notify, reapply = load_handler("notify"), load_handler("reapply")
    delete, stripped = record(DELETE), record(STRIP)
    rds_instance({"detail": stripped})
    event = load_event(DELETE)
    event["detail"] = delete

    # EventBridge first: the notify function alerts; the log file then finds it handled.
    assert notify.lambda_handler(event, context)["status"] == "published"
    write_log_file([delete, stripped])
    report = handler.reconciler.reconcile(LogObject(BUCKET, LOG_KEY))
    assert report.outcomes == {"notify:duplicate": 1, "reapply:published": 1}
    assert report.caught_late == [stripped["eventID"]]
    # The log file first: EventBridge's late delivery to the reapply function is a duplicate.
    late_event = load_event(STRIP)
    late_event["detail"] = stripped
    assert reapply.lambda_handler(late_event, context)["status"] == "duplicate"

    texts = alerts(inbox)
    assert len(texts) == 2 and len(ledger_records(stripped["eventID"])) == 1
    assert sum("EventBridge never delivered it" in t for t in texts) == 1


def test_digest_files_other_accounts_and_unwanted_records_are_skipped(reconcile):
    handler, inbox, context = reconcile
    # The digest file is not even read: it need not exist for the test.
    other = LOG_KEY.replace(f"AWSLogs/{ACCOUNT}/", "AWSLogs/o-a1b2c3d4e5/444455556666/")
    assert handler.lambda_handler(
        sqs_batch(s3_notification(DIGEST_KEY), s3_notification(other)), context
    ) == {"batchItemFailures": []}
    leash_own = record("rds-modify-db-instance-by-leash")
    autoscaling = record("ec2-terminate-instances-by-autoscaling")  # matched, and ignored: an AWS service
    write_log_file([read_call_by_human(), leash_own, autoscaling])
    report = handler.reconciler.reconcile(LogObject(BUCKET, LOG_KEY))
    # The read is skipped undecoded; Leash's own ModifyDBInstance is decoded (rules want that call) and no
    # deployed rule matches it (they exclude Leash's roles); the AWS service's call is matched, then ignored.
    assert (report.read, report.skipped, report.matched) == (3, 1, 1)
    assert report.outcomes == {"notify:ignored": 1} and report.caught_late == []
    assert alerts(inbox) == []


def test_a_malformed_file_is_reported_not_retried_and_a_missing_one_is_retried(reconcile, capsys):
    handler, inbox, context = reconcile
    s3 = boto3.client("s3")
    bad = [LOG_KEY.replace("a1b2", n) for n in ("trunc", "json", "norec")]
    s3.put_object(
        Bucket=BUCKET, Key=bad[0], Body=gzip.compress(b'{"Records":[{"eventVersion":"1.10"}]}')[:-9]
    )
    s3.put_object(Bucket=BUCKET, Key=bad[1], Body=gzip.compress(b"<html>not a log</html>"))
    s3.put_object(
        Bucket=BUCKET, Key=bad[2], Body=gzip.compress(b'{"digestStartTime":"2026-11-22T21:00:00Z"}')
    )
    missing = LOG_KEY.replace("a1b2", "gone")
    batch = sqs_batch(*(s3_notification(k) for k in bad), "not json", s3_notification(missing))

    result = handler.lambda_handler(batch, context)

    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [(sum(m["MalformedLogFiles"]), sum(m["MalformedMessages"])) for m in metrics] == [(3, 1)]
    # Only the file that could not be fetched is retried (SQS redrives it to the DLQ after 5 receives).
    assert result == {"batchItemFailures": [{"itemIdentifier": batch["Records"][4]["messageId"]}]}
    for key in bad:
        assert handler.reconciler.reconcile(LogObject(BUCKET, key)).malformed.startswith(
            f"s3://{BUCKET}/{key}: "
        )
    assert alerts(inbox) == []


def test_a_disabled_rule_still_reconciles_what_it_would_match(reconcile):
    """A rule switched off (tampering) misses events on EventBridge; the log file still brings them."""
    handler, inbox, context = reconcile
    events = boto3.client("events")
    for name, target in handler.rules.items():
        if target == NOTIFY_ARN:
            events.disable_rule(Name=name)
    write_log_file([record(DELETE)])
    assert handler.lambda_handler(sqs_batch(s3_notification()), context) == {"batchItemFailures": []}
    (text,) = alerts(inbox)
    assert "deleted DB instance prod-db" in text and "EventBridge never delivered it" in text


def test_rules_whose_targets_were_removed_make_the_files_wait_in_the_dead_letter_queue(reconcile):
    """Blind is loud: with no rule sending to the notify function, every file fails (SQS retries, then the DLQ alarm)."""
    handler, inbox, context = reconcile
    events = boto3.client("events")
    for name, target in handler.rules.items():
        if target == NOTIFY_ARN:
            events.remove_targets(Rule=name, Ids=["target"])
    write_log_file([record(DELETE)])
    # Every record of the batch failed: Powertools fails the invocation, and SQS makes them all visible again.
    with pytest.raises(BatchProcessingError, match="All records failed") as failed:
        handler.lambda_handler(sqs_batch(s3_notification()), context)
    assert "NoDeployedRules" in str(failed.value) and NOTIFY_ARN in str(failed.value)
    assert alerts(inbox) == []


# --- the pieces ---------------------------------------------------------------------------------------


def test_slack_and_email_say_the_call_came_late():
    from leash.slack_blocks import render_slack

    alert = Alert.from_dict({**json.loads(json.dumps(_sample_alert().to_dict())), "caught_late_seconds": 425})
    said = "from the trail's log file 7 min after the call; EventBridge never delivered it"
    assert said in json.dumps(render_slack(alert)) and f"Delivered: {said}" in render_text(alert)
    assert "Delivered" not in render_text(_sample_alert())  # EventBridge's own deliveries say nothing


def _sample_alert() -> Alert:
    from leash.notify import Notifier
    from leash.settings import ActorConfig

    outcome = Notifier(ActorConfig.from_env({"LEASH_AGENT_ROLE_PREFIX": "ai-agent-"}), lambda a: "id").handle(
        load_event(DELETE)
    )
    assert outcome.alert is not None
    return outcome.alert


def test_messages_from_s3_eventbridge_and_sns_name_the_same_object():
    key = LOG_KEY.replace("_a1b2", "_a+b")  # S3 notifications URL-encode the key (a space is "+")
    s3 = s3_notification(key.replace("+", "%2B"))
    eventbridge = json.dumps(
        {
            "version": "0",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": ACCOUNT,
            "detail": {
                "version": "0",
                "bucket": {"name": BUCKET},
                "object": {"key": key.replace("+", "%2B")},
            },
        }
    )
    sns = json.dumps({"Type": "Notification", "MessageId": "1", "Message": s3})
    assert log_objects(s3) == log_objects(eventbridge) == log_objects(sns) == [LogObject(BUCKET, key)]
    assert log_objects(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})) == []


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        (LOG_KEY, "log"),
        ("team-a/" + LOG_KEY, "log"),
        (LOG_KEY.replace("AWSLogs/", "AWSLogs/o-a1b2c3d4e5/"), "log"),
        (DIGEST_KEY, "digest"),
        (LOG_KEY.replace("/CloudTrail/", "/CloudTrail-Insight/"), "insights"),
        (LOG_KEY.replace(ACCOUNT, "444455556666"), "other-account"),
        (f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/22/", "not-a-log"),
        ("AWSLogs/aws-account-id/ConfigWritabilityCheckFile", "not-a-log"),
    ],
)
def test_file_kind_by_key(key, kind):
    assert file_kind(key, ACCOUNT) == kind


def test_the_split_reader_decodes_what_the_whole_file_holds():
    data = (
        ROOT / "examples" / "111122223333_CloudTrail_us-east-1_20261122T2105Z_sample.json.gz"
    ).read_bytes()
    everything = read_log_file(data)
    split = read_log_file(data, lambda text: True)
    assert split.records == everything.records and split.read == everything.read > 1 and split.skipped == 0
    none = read_log_file(data, lambda text: False)
    assert (none.records, none.read, none.skipped) == ([], everything.read, everything.read)


def test_a_record_that_looks_like_a_boundary_is_read_whole():
    """A request whose parameters hold `},{"eventVersion":` cannot hide the record that carries it."""
    agent = record(DELETE)
    agent["requestParameters"]["tags"] = [{}, {"eventVersion": "1.10", "eventName": "Nothing"}]
    text = json.dumps({"Records": [read_call_by_human(), agent]}, separators=(",", ":")).encode()
    assert b'},{"eventVersion":' in text.split(b'"DeleteDBInstance"')[1]

    wanted = read_log_file(text, lambda piece: b'"DeleteDBInstance"' in piece)
    assert [r["eventID"] for r in wanted.records] == [r["eventID"] for r in json.loads(text)["Records"]]
    assert wanted.skipped == 0  # decoded whole: nothing skipped on the strength of a wrong split
