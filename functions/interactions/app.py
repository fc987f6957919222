"""Slack interactivity: the Lock down / Release / Acknowledge buttons, behind a Lambda Function URL.

Thin adapter: the logic lives in the leash layer (leash.interactions).
"""

import json
import os
import urllib.request

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters

from leash.aws import LazyClient
from leash.claims import DynamoDbClaims
from leash.incidents import incidents_from_env
from leash.interactions import Interactions, Reply, SlackSignature, request_body, request_headers
from leash.ledger import Ledger
from leash.settings import SlackUsers, required

logger = Logger()
_sfn = LazyClient("stepfunctions")  # only a Lock down or Release click starts a workflow
_dynamodb = boto3.client("dynamodb")
_ledger = Ledger(_dynamodb, required(os.environ, "LEDGER_TABLE"))
_STATE_MACHINES = {
    "lockdown": required(os.environ, "LOCKDOWN_STATE_MACHINE_ARN"),
    "release": required(os.environ, "RELEASE_STATE_MACHINE_ARN"),
}
_signatures = DynamoDbClaims(_dynamodb, required(os.environ, "IDEMPOTENCY_TABLE"), ttl_seconds=600)
_SIGNING_SECRET_ARN = required(os.environ, "SLACK_SIGNING_SECRET_ARN")
_ALLOWED = SlackUsers.from_env(os.environ)
_incidents = incidents_from_env(os.environ, _dynamodb)  # Acknowledge on an incident's parent marks it


def _acknowledge_incident(incident: str, who: str) -> None:
    """Mark the incident acknowledged: the parent's next summary says by whom (best effort, logged)."""
    try:
        _incidents.update(incident, acknowledged_by=who)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - the ledger has the acknowledgement; the summary is a courtesy
        logger.warning("could not mark the incident acknowledged", extra={"incident": incident})


def _signing_secret() -> str:
    secret = parameters.get_secret(_SIGNING_SECRET_ARN, max_age=300)
    return json.loads(secret).get("signing_secret", "") if secret.strip().startswith("{") else secret.strip()


def _seen_before(signature: str) -> bool:
    """Remember every accepted signature for ten minutes (longer than Slack's five-minute window)."""
    return not _signatures.claim(f"slack-signature#{signature}")


def _start(workflow: str, name: str, payload: dict) -> str:
    try:
        _sfn.start_execution(stateMachineArn=_STATE_MACHINES[workflow], name=name, input=json.dumps(payload))
    except _sfn.exceptions.ExecutionAlreadyExists:
        return "already-started"
    return "started"


def _update(response_url: str, payload: dict) -> None:
    """Replace the clicked message (Slack's response_url): best effort, the action is already done."""
    request = urllib.request.Request(response_url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status = response.status
    except (OSError, ValueError) as exc:  # HTTPError, URLError, timeouts, a malformed URL
        status = getattr(exc, "code", repr(exc))
    if status != 200:
        logger.warning("could not update the Slack message", extra={"status": status})


def _interactions() -> Interactions:
    return Interactions(
        SlackSignature(_signing_secret()),
        _ALLOWED,
        _seen_before,
        _start,
        _ledger.record_once,
        _update,
        log=lambda message, extra: logger.info(message, extra=extra),
        acknowledge_incident=_acknowledge_incident if _incidents else None,
    )


@logger.inject_lambda_context
def lambda_handler(event, context):
    body = request_body(event)
    reply = body if isinstance(body, Reply) else _interactions().handle(body, request_headers(event))
    return reply.to_function_url()
