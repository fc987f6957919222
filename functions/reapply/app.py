"""Reapply: a call that stripped a protection gets it put back, recorded in the ledger, and one alert.

Thin adapter: the logic lives in the leash layer (leash.reapply, leash.protections, leash.notify).
"""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics

from leash.actors import RoleTagCache
from leash.observability import report_outcome
from leash.wiring import notifier_from_env, reapplier_from_env

logger = Logger()
metrics = Metrics()

_tags = RoleTagCache(lambda: boto3.client("iam"))
_dynamodb = boto3.client("dynamodb")  # the ledger's and the idempotency store's
reapplier = reapplier_from_env(os.environ, tag_lookup=_tags, dynamodb_client=_dynamodb, warn=logger.error)
notifier, _idempotency = notifier_from_env(
    os.environ, key_prefix="reapply", respond=reapplier, tag_lookup=_tags, dynamodb_client=_dynamodb
)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    _idempotency.register_lambda_context(context)
    return report_outcome(notifier.handle(event), metrics, logger)
