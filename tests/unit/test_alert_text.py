"""What one alert says, for a phone at 3 a.m.: golden snippets of the e-mail text and the Slack blocks, on
alerts built from the samples in events/ by the real assess / spike code."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from conftest import ACCOUNT, assert_within_slack_limits, load_event

from leash.actors import ActorConfig, classify_actor
from leash.alerts import Alert
from leash.assess import assess
from leash.catalog import lookup
from leash.counters import InMemoryCounterStore
from leash.events import parse_event
from leash.inbox import alert_from_sns_message, workflow_alert
from leash.model import LOCKDOWN, ActionKind, LeashAction
from leash.publish import sns_message
from leash.render import render_text, when
from leash.settings import SpikeConfig, slack_buttons
from leash.slack_blocks import render_slack
from leash.spikes import BatchAggregator, crossings, spike_alert

CONFIG = ActorConfig(
    agent_role_prefix="ai-agent-", exempt_arns=frozenset({f"arn:aws:iam::{ACCOUNT}:role/breakglass-admin"})
)
NOW = datetime(2026, 11, 22, 21, 6, 40, tzinfo=UTC)  # two minutes after most samples' eventTime


def alert_for(name: str) -> Alert:
    call = parse_event(load_event(name))
    alert = assess(call, classify_actor(call.user_identity, CONFIG), lookup(call))[0]
    assert alert is not None, name
    return alert


def slack_text(alert: Alert, **options) -> str:
    payload = render_slack(alert, now=NOW, **options)
    assert_within_slack_limits(payload)
    return json.dumps(payload, ensure_ascii=False)


def buttons(alert: Alert, **options) -> list[str]:
    actions = [b for b in render_slack(alert, now=NOW, **options)["blocks"] if b["type"] == "actions"]
    return [e["text"]["text"] for e in actions[0]["elements"]] if actions else []


def test_what_leash_did_comes_first_and_the_time_is_in_words():
    alert = Alert.from_dict(
        alert_for("s3-put-bucket-versioning-suspended-by-agent").to_dict()
        | {"leash_did": [{"kind": "reapplied", "fix": "re-enabled versioning", "seconds": 0}]}
    )
    text = render_text(alert, now=NOW)
    lines = text.splitlines()
    assert lines[2:4] == ["What Leash did:", "• Leash re-enabled versioning within a second of the call."]
    assert "When:      21:04 UTC, 2 min ago" in text
    blocks = render_slack(alert, now=NOW)["blocks"]
    assert blocks[1]["text"]["text"].startswith(
        "*What Leash did*\n• Leash re-enabled versioning within a second"
    )
    assert "*When*\\n21:04 UTC, 2 min ago" in json.dumps(blocks, ensure_ascii=False)
    assert "0 s" not in text + slack_text(alert)
    assert (
        "Next step: it is back as it was: ask jordan@example.com why it was changed; if nobody meant it, lock"
        in text
    )


@pytest.mark.parametrize(
    ("stamp", "words"),
    [
        ("2026-11-22T21:06:30Z", "21:06 UTC, just now"),
        ("2026-11-22T14:03:00Z", "14:03 UTC, 7 h 3 min ago"),
        ("2026-11-21T23:50:00Z", "Sat 21 Nov 23:50 UTC, 21 h 16 min ago"),
        ("2025-11-22T21:04:36Z", "Sat 22 Nov 2025 21:04 UTC, 365 days ago"),
        ("2026-11-22T21:09:00.512000Z", "21:09 UTC, ahead of this clock"),
        ("not a time", "not a time"),
    ],
)
def test_times_read_in_words_and_relative(stamp, words):
    assert when(stamp, NOW) == words


def test_the_person_behind_an_sso_session_is_named_not_the_permission_set_role():
    alert = alert_for("ec2-terminate-instances-by-human")
    assert alert.title.startswith(
        "human alice@example.com (via SSO permission set AdministratorAccess) terminated"
    )
    text = render_text(alert, now=NOW)
    assert "Who:       human alice@example.com (via SSO permission set AdministratorAccess)\n" in text
    assert "AWSReservedSSO_AdministratorAccess" not in text.split("Who:")[1].split("\n")[0]


def test_the_person_behind_an_agent_session_is_named():
    text = render_text(alert_for("rds-delete-db-instance-skip-final-snapshot-by-agent"), now=NOW)
    assert (
        "Who:       agent ai-agent-deploy for jordan@example.com (source identity), session sess_a8f3b21c"
        in text
    )
    assert "ask jordan@example.com why" in text


def test_an_identity_center_user_is_named_by_the_onbehalfof_user_id():
    identity = load_event("rds-delete-db-instance-skip-final-snapshot-by-agent")["detail"]["userIdentity"]
    identity = copy.deepcopy(identity)
    del identity["sessionContext"]["sourceIdentity"]
    identity["onBehalfOf"] = {
        "userId": "544894e8-80c1-707f-60e3-3ba6510dfac1",
        "identityStoreArn": f"arn:aws:identitystore::{ACCOUNT}:identitystore/d-9067642ac7",
    }
    actor = classify_actor(identity, CONFIG)
    assert actor.person == "544894e8-80c1-707f-60e3-3ba6510dfac1"
    assert actor.display == (
        "agent ai-agent-deploy, for Identity Center user 544894e8-80c1-707f-60e3-3ba6510dfac1, session sess_a8f3b21c"
    )


@pytest.mark.parametrize(
    ("sample", "severity", "why"),
    [
        ("rds-delete-db-instance-skip-final-snapshot-by-agent", "critical",
         "irreversible: what it destroyed cannot be brought back; agent identity (role name starts with ai-agent-)"),
        ("cloudtrail-stop-logging-by-agent", "critical", "covering tracks: audit or detection turned off"),
        ("ec2-terminate-instances-by-human", "medium",
         "destructive: something deleted or disabled that can be rebuilt; made by a person, who is accountable "
         "and can be asked: a level below an agent's"),
        ("kms-disable-key-by-agent", "high", "an agent's call is rated a level above a person's: no one reviewed it"),
        ("rds-modify-db-instance-class-by-agent", "medium",
         "a change of privilege, exposure or cost; agent identity (role name starts with ai-agent-); alerted "
         "because an agent made it: no one reviewed it (a person's would not alert)"),
        ("ec2-delete-subnet-by-exempt-role", "low", "exempt principal: alert only, never remediated"),
        ("s3-put-bucket-policy-by-root", "critical", "root cannot be restricted by IAM"),
        ("kms-schedule-key-deletion-by-other-account", "critical", "Leash cannot lock it down"),
        ("signin-console-login-by-root", "critical", "root activity"),
    ],
)  # fmt: skip
def test_every_severity_is_explained_humans_included(sample, severity, why):
    alert = alert_for(sample)
    assert alert.severity == severity
    assert why in render_text(alert, now=NOW).split(f"Why {severity}: ")[1].split("\n")[0]
    assert f"*Why {severity}*" in slack_text(alert)


@pytest.mark.parametrize(
    ("sample", "step"),
    [
        ("rds-delete-db-instance-skip-final-snapshot-by-agent", "find what is left to restore from"),
        ("cloudtrail-stop-logging-by-agent", "check the audit or detection is back on"),
        ("ec2-terminate-instances-by-human", "ask alice@example.com whether it was intended"),
        ("iam-attach-role-policy-by-agent", "ask jordan@example.com whether it was intended"),
        ("rds-modify-db-instance-class-by-agent", "review the change (privilege, exposure or cost)"),
        ("signin-console-login-by-root", "reset the root password"),
        ("signin-console-login-by-agent", "find who opened a console session with the agent's credentials"),
    ],
)
def test_each_kind_of_alert_has_one_next_step(sample, step):
    alert = alert_for(sample)
    text = render_text(alert, now=NOW)
    assert text.count("Next step: ") == 1 and step in text.split("Next step: ")[1]
    assert f"*Next step*: {step}" in slack_text(alert) or step in slack_text(alert)


def test_no_empty_where_nor_plural_placeholders_anywhere():
    """A workflow notice has no account nor region: no Where; a spike with an account but one region reads well."""
    notice = workflow_alert({"workflow": "lockdown", "kind": "lockdown-applied", "severity": "critical",
                             "principal": f"arn:aws:iam::{ACCOUNT}:role/ai-agent-deploy",
                             "headline": "LOCKDOWN applied to role ai-agent-deploy"}, "2026-11-22T21:05:00.000Z")  # fmt: skip
    text = render_text(notice, now=NOW)
    assert "Where" not in text and "Where" not in slack_text(notice)
    assert "Why critical: what the lockdown or release workflow did to a principal" in text
    assert "release it (button or the release workflow) once it is safe" in text
    for sample in ("ec2-authorize-security-group-ingress-by-agent", "cloudtrail-stop-logging-by-agent"):
        alert = alert_for(sample)
        for rendered in (render_text(alert, now=NOW), slack_text(alert)):
            assert "(s)" not in rendered and ", \n" not in rendered and "Where*\\n\\n" not in rendered


def test_a_spike_alert_names_its_regions():
    base = load_event("dynamodb-delete-table-denied")
    aggregator = BatchAggregator(CONFIG, SpikeConfig())
    for i in range(12):
        event = copy.deepcopy(base)
        event["detail"]["eventID"] = f"e-{i}"
        event["detail"]["awsRegion"] = ("eu-west-1", "us-east-1", "ap-southeast-2")[i % 3]
        aggregator.add(event, f"m-{i}")
    (group,) = aggregator.groups.values()
    (crossing,) = crossings(group, InMemoryCounterStore().add(group, 300), SpikeConfig())
    alert = spike_alert(crossing, 300)
    assert alert.regions == ("ap-southeast-2", "eu-west-1", "us-east-1")
    assert "Where:     account 111122223333, regions ap-southeast-2, eu-west-1 and us-east-1" in render_text(
        alert, now=NOW
    )
    received = alert_from_sns_message(json.loads(sns_message(alert)["Message"])["default"])
    assert received.regions == alert.regions  # through the topic to the Slack forwarder
    assert "filter CloudTrail by ai-agent-deploy" in slack_text(received)


def test_no_buttons_without_the_interaction_endpoint():
    alert = alert_for("rds-delete-db-instance-skip-final-snapshot-by-agent")
    assert buttons(alert) == ["Lock down ai-agent-deploy", "Acknowledge"]
    assert buttons(alert, buttons=False) == []
    assert slack_buttons({}) is False and slack_buttons({"LEASH_SLACK_BUTTONS": "on"}) is True


@pytest.mark.parametrize(
    "sample",
    [
        "ec2-terminate-instances-by-human",  # IAM Identity Center permission set role
        "s3-put-bucket-policy-by-root",
        "kms-schedule-key-deletion-by-other-account",
        "ec2-delete-subnet-by-exempt-role",
    ],
)
def test_lock_down_is_not_offered_where_the_workflow_cannot_or_must_not_lock(sample):
    alert = alert_for(sample)
    assert buttons(alert) == ["Acknowledge"]
    assert LOCKDOWN not in slack_text(alert)


def test_an_sso_alert_says_what_to_do_in_iam_identity_center_instead():
    alert = alert_for("ec2-terminate-instances-by-human")
    text = render_text(alert, now=NOW)
    assert (
        "Lock down is not offered: AWSReservedSSO_AdministratorAccess_4f2a9c1e7b3d5a60 is the IAM Identity Center"
        " role of the permission set AdministratorAccess, managed by AWS and shared by every user of the set."
    ) in text
    assert "remove alice@example.com's assignment of AdministratorAccess to account 111122223333" in text
    assert "identitystore:userId" in text and "useraccess.html#revoke-user-permissions" in text
    assert "revoke the user's access in IAM Identity Center" in text  # the next step, not "lock down"
    assert "Lock down is not offered" in slack_text(alert)


def test_no_lock_down_once_leash_requested_one():
    alert = alert_for("cloudtrail-stop-logging-by-agent")
    requested = Alert.from_dict(
        alert.to_dict()
        | {"leash_did": [LeashAction(ActionKind.LOCKDOWN_REQUESTED, principal="arn:x").to_dict()]}
    )
    assert buttons(alert) == ["Lock down ai-agent-deploy", "Acknowledge"]
    assert buttons(requested) == ["Acknowledge"]


def test_an_alert_from_before_the_upgrade_still_renders_and_keeps_its_buttons_rule():
    """Alert JSON stays backward compatible: an alert without impact, regions nor actor.lockable renders."""
    old = alert_for("ec2-terminate-instances-by-human").to_dict()
    for key in ("impact", "regions"):
        del old[key]
    for key in ("lockable", "permissionSet", "person", "onBehalfOf"):
        del old["actor"][key]
    alert = Alert.from_dict(old)
    assert buttons(alert) == ["Acknowledge"]  # still no Lock down for the SSO role
    assert "Next step: open the CloudTrail event and ask" in render_text(alert, now=NOW)
