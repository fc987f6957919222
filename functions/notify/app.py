"""Notify: a CloudTrail call matched by a Leash rule becomes at most one alert on the alerts topic.

Thin adapter: the logic lives in the leash layer (leash.notify).
"""

import os

from aws_lambda_powertools import Logger, Metrics

from leash.observability import report_outcome
from leash.wiring import notifier_from_env

logger = Logger()
metrics = Metrics()
notifier, _idempotency = notifier_from_env(os.environ, key_prefix="notify")


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    _idempotency.register_lambda_context(context)
    return report_outcome(notifier.handle(event), metrics, logger)
