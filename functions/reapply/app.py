"""Reapply: a call that stripped a protection gets it put back, recorded in the ledger, and one alert.

Thin adapter: the logic lives in the leash layer (leash.reapply, leash.protections, leash.notify).
"""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics

from leash.actors import RoleTagCache
from leash.aws import boto3_clients
from leash.ledger import Ledger
from leash.observability import report_outcome
from leash.protections import PROTECTION_NAMES
from leash.reapply import Reapplier
from leash.settings import ActorConfig, ReapplySettings, SettingsError, required, whole_number
from leash.wiring import notifier_from_env

logger = Logger()
metrics = Metrics()

_tags = RoleTagCache(lambda: boto3.client("iam"))
_dynamodb = boto3.client("dynamodb")  # the ledger's and the idempotency store's
try:
    _settings = ReapplySettings.from_env(os.environ, PROTECTION_NAMES)
except SettingsError as exc:
    # Fail safe: an unknown name in AlertOnlyProtections is ignored, loudly (the protection it meant stays
    # remediated), rather than a function that cannot start and so puts nothing back.
    logger.error(f"{exc}. Leash ignores the unknown names: those protections stay in remediate mode")
    _settings = ReapplySettings.from_env(os.environ)

reapplier = Reapplier(
    boto3_clients(),
    _settings,
    ActorConfig.from_env(os.environ),
    tag_lookup=_tags,
    ledger=Ledger(
        _dynamodb,
        required(os.environ, "LEDGER_TABLE"),
        whole_number(os.environ, "LEDGER_RETENTION_DAYS", 365),
    ),
)
notifier, _idempotency = notifier_from_env(
    os.environ, key_prefix="reapply", respond=reapplier, tag_lookup=_tags, dynamodb_client=_dynamodb
)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event, context):
    _idempotency.register_lambda_context(context)
    return report_outcome(notifier.handle(event), metrics, logger)
