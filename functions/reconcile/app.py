"""Reconcile: each new log file of the trail bucket (S3 notifications through SQS) is read, and the calls
EventBridge never delivered are handled late, once, by the notify and reapply functions' own logic.

Thin adapter: the logic lives in the leash layer (leash.reconcile).
"""

import os
import time
from datetime import UTC, datetime

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from leash.actors import RoleTagCache
from leash.reconcile import (
    CachedRouter,
    FileReport,
    MalformedMessage,
    Reconciler,
    deployed_rules,
    log_objects,
)
from leash.settings import required
from leash.wiring import notifier_from_env, reapplier_from_env

logger = Logger()
metrics = Metrics()

_tags = RoleTagCache(lambda: boto3.client("iam"))
_dynamodb = boto3.client("dynamodb")
_s3 = boto3.client("s3")
_events = boto3.client("events")
# The notify and reapply functions' own Notifiers, under their own idempotency keys: an eventID either one
# handled is not handled again here, and one handled here is a duplicate when EventBridge delivers it late.
notify, _notify_idempotency = notifier_from_env(
    os.environ, key_prefix="notify", tag_lookup=_tags, dynamodb_client=_dynamodb
)
reapply, _reapply_idempotency = notifier_from_env(
    os.environ,
    key_prefix="reapply",
    respond=reapplier_from_env(os.environ, tag_lookup=_tags, dynamodb_client=_dynamodb, warn=logger.error),
    tag_lookup=_tags,
    dynamodb_client=_dynamodb,
)
_handlers = {
    required(os.environ, "NOTIFY_FUNCTION_ARN"): ("notify", notify.handle),
    required(os.environ, "REAPPLY_FUNCTION_ARN"): ("reapply", reapply.handle),
}
reconciler = Reconciler(
    CachedRouter(lambda: deployed_rules(_events, _handlers), time.monotonic),
    _handlers,
    lambda bucket, key: _s3.get_object(Bucket=bucket, Key=key)["Body"].read(),
    account=required(os.environ, "LEASH_ACCOUNT_ID"),
    clock=lambda: datetime.now(UTC),
)
processor = BatchProcessor(event_type=EventType.SQS)


def _count(name: str, value: int) -> None:
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def report(file: FileReport) -> None:
    """One log line per file; the metrics, LateEventsCaught the health metric among them."""
    if file.kind != "log":
        _count("CompanionFilesSkipped" if file.kind in ("digest", "insights") else "OtherFilesSkipped", 1)
        logger.debug(f"skipped {file.key}: {file.kind}")
        return
    if file.malformed:
        _count("MalformedLogFiles", 1)
        logger.warning(f"not a CloudTrail log file, not retried: {file.malformed}", extra={"key": file.key})
        return
    _count("LogFilesRead", 1)
    _count("LogRecordsRead", file.read)
    _count("LogRecordsSkipped", file.skipped)
    _count("LateEventsCaught", len(file.caught_late))
    _count("AlreadyDelivered", file.already_delivered)
    _count("MalformedEvents", len(file.problems))
    log = logger.warning if file.caught_late or file.problems else logger.info
    log(
        f"{file.key}: {file.read} records, {file.skipped} skipped undecoded, {file.matched} matched, "
        f"{len(file.caught_late)} EventBridge never delivered, {file.already_delivered} already handled",
        extra={"outcomes": dict(file.outcomes), "caughtLate": file.caught_late, "problems": file.problems},
    )


def record_handler(record: SQSRecord) -> None:
    try:
        objects = log_objects(record.body)
    except MalformedMessage as exc:
        _count("MalformedMessages", 1)
        logger.warning(
            f"not a trail bucket notification, not retried: {exc}", extra={"body": record.body[:500]}
        )
        return
    for obj in objects:
        report(reconciler.reconcile(obj))


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    _notify_idempotency.register_lambda_context(context)
    _reapply_idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
