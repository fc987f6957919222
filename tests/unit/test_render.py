"""What Leash did, in words: render.py is the only place that writes these sentences."""

from __future__ import annotations

import json

import pytest

from leash.alerts import Alert
from leash.inbox import alert_from_sns_message
from leash.model import ActionKind, LeashAction, Severity
from leash.publish import sns_message
from leash.render import describe, render_text
from leash.slack_blocks import render_slack

PRINCIPAL = "arn:aws:iam::111122223333:role/ai-agent-deploy"
ACTIONS = {
    "Leash re-enabled versioning within a second of the call.": LeashAction(
        ActionKind.REAPPLIED, protection="s3-versioning", fix="re-enabled versioning", seconds=0
    ),
    "would put back: re-enabled versioning": LeashAction(ActionKind.REAPPLIED, fix="re-enabled versioning", dry_run=True),
    "Leash could not put the S3 versioning back: AccessDenied: no": LeashAction(
        ActionKind.REAPPLY_FAILED, title="S3 versioning", code="AccessDenied", reason="no"
    ),
    "backups no longer exists, so there was nothing to reapply (NoSuchBucket).": LeashAction(
        ActionKind.RESOURCE_GONE, resource="backups", code="NoSuchBucket"
    ),
    "Alert-only mode for s3-versioning: Leash did not put it back (remove it from AlertOnlyProtections to "
    "remediate).": LeashAction(ActionKind.ALERT_ONLY, protection="s3-versioning"),
    "Exempt principal: Leash did not touch the S3 versioning.": LeashAction(
        ActionKind.NOT_REMEDIATED, title="S3 versioning"
    ),
    "Leash reapplies the KMS key only for agent calls.": LeashAction(
        ActionKind.NOT_REMEDIATED, title="KMS key", only_for=("agent",)
    ),
    "Nothing to put back: the update turned nothing off.": LeashAction(
        ActionKind.NOTHING_TO_DO, reason="the update turned nothing off"
    ),
    f"Leash requested a lockdown of {PRINCIPAL} (the lockdown workflow notifies when done).": LeashAction(
        ActionKind.LOCKDOWN_REQUESTED, principal=PRINCIPAL
    ),
    f"would request a lockdown of {PRINCIPAL}": LeashAction(
        ActionKind.LOCKDOWN_REQUESTED, principal=PRINCIPAL, dry_run=True
    ),
    f"Leash could not request a lockdown of {PRINCIPAL}: throttled": LeashAction(
        ActionKind.LOCKDOWN_REQUEST_FAILED, principal=PRINCIPAL, reason="throttled"
    ),
    "Fires when the spike queue has messages.": LeashAction(ActionKind.NOTE, reason="Fires when the spike queue has messages."),
}  # fmt: skip


def alert(*actions: LeashAction) -> Alert:
    return Alert(Severity.HIGH, "agent ai-agent-deploy suspended versioning on backups", {"display": "agent x"},
                 "s3:PutBucketVersioning", "backups", "111122223333", "eu-west-1", "2026-11-22T21:04:36Z", "e-1",
                 leash_did=actions)  # fmt: skip


def test_every_kind_of_action_has_its_sentence():
    assert {kind for action in ACTIONS.values() for kind in [action.kind]} == set(ActionKind)
    for sentence, action in ACTIONS.items():
        assert describe(action) == sentence


@pytest.mark.parametrize("sentence", sorted(ACTIONS))
def test_actions_reach_slack_through_the_topic_unchanged(sentence):
    """The Slack forwarder rebuilds the alert from its JSON: every field survives, 0 s included."""
    message = json.loads(sns_message(alert(ACTIONS[sentence]))["Message"])
    received = alert_from_sns_message(message["default"])  # what Lambda, SQS, HTTPS get
    assert received.leash_did == (ACTIONS[sentence],)
    assert sentence in json.dumps(render_slack(received), ensure_ascii=False)
    assert sentence in render_text(received)
    assert (
        json.loads(message["default"])["leash_did"][0]["text"] == sentence
    )  # machines get the words beside the fields


def test_an_alert_from_before_an_upgrade_keeps_its_sentences():
    """Schema 1 alerts (an idempotency record or a retried SNS message from before a deploy) held sentences."""
    old = alert().to_dict() | {"schema": 1, "leash_did": ["Leash re-enabled versioning 3 s later."]}
    assert [describe(a) for a in Alert.from_dict(old).leash_did] == ["Leash re-enabled versioning 3 s later."]
