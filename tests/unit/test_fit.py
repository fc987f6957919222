"""Alerts fit SNS and Slack whatever they carry: capped lists, clipped text, never a dropped alert."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import assert_within_slack_limits

from leash.alerts import Alert
from leash.fit import CLIPPED, SNS_MESSAGE_BYTES, fit, names
from leash.inbox import alert_from_sns_message
from leash.model import ActionKind, LeashAction, Severity
from leash.publish import sns_message
from leash.render import render_text
from leash.slack_blocks import render_slack

ALERT = Alert(
    severity=Severity.HIGH,
    title="agent ai-agent-deploy deleted bucket nightly-db-backups",
    actor={
        "kind": "agent",
        "arn": "arn:aws:sts::111122223333:assumed-role/ai-agent-deploy/s",
        "display": "agent",
    },
    action="s3:DeleteBucket",
    resource="nightly-db-backups",
    account="111122223333",
    region="us-east-1",
    time="2026-11-22T21:04:36Z",
    event_id="3f6c2a1e-7d4b-4c8e-9a21-5b0d6e8f1a01",
    reasons=("agent identity (role name starts with ai-agent-)",),
)


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ([], ""),
        (["a"], "a"),
        (["a", "b", "a"], "a, b"),
        (["a", "b", "c"], "a, b, c"),
        (["a", "b", "c", "d"], "a, b and 2 more"),
        ([f"i-{n}" for n in range(1000)], "i-0, i-1 and 998 more"),
    ],
)
def test_names_shows_a_few_and_counts_the_rest(values, shown):
    assert names(values) == shown


def test_an_alert_that_fits_is_left_alone():
    assert fit(ALERT, lambda a: a, lambda a: 0, 10) is ALERT


def publish_bytes(alert: Alert) -> int:
    args = sns_message(alert)
    return len(args["Message"].encode()) + len(args["Subject"].encode())


HOSTILE = replace(
    ALERT,
    title="agent\x00 ai-agent-deploy\n deleted \ud800 " + "x" * 5000,
    user_agent="Mozilla/5.0 " + "A" * 300_000,
    reasons=tuple(f"reason {n} " + "é" * 1000 for n in range(500)),
    leash_did=tuple(
        LeashAction(ActionKind.REAPPLY_FAILED, title="S3 versioning", code="Throttling", reason="r" * 20_000)
        for _ in range(40)
    ),
)


def test_an_oversized_alert_is_clipped_to_fit_sns_not_dropped():
    assert len(json.dumps(HOSTILE.to_dict())) > 2 * SNS_MESSAGE_BYTES
    args = sns_message(HOSTILE)
    assert publish_bytes(HOSTILE) <= SNS_MESSAGE_BYTES
    # What a subscriber receives still says who did what, and that something was clipped.
    received = alert_from_sns_message(json.loads(args["Message"])["default"])
    assert received.severity == "high" and received.event_id == ALERT.event_id
    assert received.title.startswith("agent\x00 ai-agent-deploy\n deleted") and received.title.endswith(
        CLIPPED
    )
    assert received.user_agent and received.user_agent.endswith(CLIPPED)
    assert received.reasons[-1].startswith("… and ") and received.reasons[-1].endswith(" more")
    assert received.leash_did[0].kind is ActionKind.REAPPLY_FAILED
    assert render_text(received).startswith("[HIGH] agent")
    # The subject is one printable line under SNS's 100 characters.
    assert len(args["Subject"]) < 100 and args["Subject"].isprintable()


def test_an_oversized_alert_is_clipped_to_fit_slack():
    payload = render_slack(HOSTILE)
    assert_within_slack_limits(payload)
    assert payload["blocks"][0]["text"]["text"].startswith("HIGH: agent")


def test_a_forged_principal_too_long_for_a_button_loses_the_buttons_not_the_alert():
    forged = replace(ALERT, actor={**ALERT.actor, "identityType": "AssumedRole", "arn": "arn:" + "p" * 3000})
    payload = render_slack(forged)
    assert_within_slack_limits(payload)
    buttons = [e["text"]["text"] for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == []  # both would carry the overlong ARN back to Leash
