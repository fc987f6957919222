"""One log line and the metrics for each event a handler saw (shared by the notify and reapply functions)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from leash.notify import Outcome
from leash.render import describe

OUTCOME_METRICS = {
    "published": "AlertsPublished",
    "duplicate": "DuplicateEvents",
    "ignored": "IgnoredEvents",
    "rejected": "MalformedEvents",
}


def report_outcome(outcome: Outcome, metrics: Metrics, logger: Logger) -> dict[str, Any]:
    """Count the outcome (and the alert's severity), log it, and return the handler's response."""
    metrics.add_metric(name=OUTCOME_METRICS[outcome.status], unit=MetricUnit.Count, value=1)
    if outcome.status == "published" and outcome.alert:
        metrics.add_metric(
            name=f"Alerts{outcome.alert.severity.capitalize()}", unit=MetricUnit.Count, value=1
        )
    response = outcome.to_dict()
    log = logger.warning if outcome.status == "rejected" else logger.info
    leash_did = [describe(action) for action in outcome.alert.leash_did] if outcome.alert else None
    log(f"{outcome.status}: {outcome.reason}", extra={**response, "leashDid": leash_did})
    return response
