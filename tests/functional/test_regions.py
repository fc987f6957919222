"""One stack watches the whole account (#12): events forwarded from another region go through the home
region's rules and handlers, and everything Leash does or says names the region of the call.

A forwarded event, as the home region's default bus receives it from a forwarder's cross-region target,
keeps the envelope of its region of origin: EventBridge's `region` is "the AWS Region where the event
originated" (EventBridge user guide, event structure reference), and the CloudTrail record in `detail`
(its awsRegion included) is the call's. IAM's events are recorded and delivered in us-east-1 only.
"""

from __future__ import annotations

import json
from contextlib import ExitStack

import boto3
import pytest
from conftest import (
    ACCOUNT,
    GUARDRAIL_POLICY_ARN,
    bus_tap,
    create_prod_db,
    deploy_notify_stack,
    ledger_records,
    load_event,
    load_handler,
)

from leash.alerts import Alert
from leash.render import render_text
from leash.slack_blocks import render_slack
from leash_cli.emulator import Workflows, emulated_account
from leash_cli.template import Router


def forwarded(name: str, region: str) -> dict:
    """A sample as a forwarder in `region` delivers it to the home bus: envelope and record of that region."""
    event = load_event(name)
    event["region"] = event["detail"]["awsRegion"] = region
    return event


@pytest.fixture
def stack_in(monkeypatch):
    """Leash's notify/reapply world (tables, topic, bus, inbox) deployed in the given home region, on an
    emulated account that also runs the state machines."""
    with ExitStack() as stack:

        def deploy(home: str):
            # AWS_REGION is what Lambda sets: the function's own region.
            stack.enter_context(emulated_account({"AWS_DEFAULT_REGION": home, "AWS_REGION": home}))
            topic_arn, inbox = deploy_notify_stack(monkeypatch)
            assert topic_arn.split(":")[3] == home
            return inbox

        yield deploy


def _alert(inbox) -> Alert:
    (envelope,) = inbox.drain()
    return Alert.from_dict(json.loads(envelope["Message"]))


@pytest.mark.parametrize(
    ("home", "call_region"), [("us-east-1", "eu-west-1"), ("eu-west-1", "ap-southeast-2")]
)
def test_a_forwarded_call_is_reapplied_recorded_and_alerted_in_its_own_region(
    stack_in, lambda_context, home, call_region
):
    inbox = stack_in(home)
    event = forwarded("rds-modify-db-instance-disable-deletion-protection-by-agent", call_region)
    here, there = boto3.client("rds", region_name=home), boto3.client("rds", region_name=call_region)
    create_prod_db(call_region)
    # The home rules, unchanged, take it as they take the same call made at home.
    router = Router.from_template()
    original = load_event("rds-modify-db-instance-disable-deletion-protection-by-agent")
    assert router.targets(event) == router.targets(original)
    assert router.targets(event)["ReapplyFunction"] == ("ReapplyData1",)

    result = load_handler("reapply").lambda_handler(event, lambda_context)

    assert (result["status"], result["severity"]) == ("published", "high")
    # Put back where the call was made; the home region has no such instance and was never asked.
    assert there.describe_db_instances(DBInstanceIdentifier="prod-db")["DBInstances"][0]["DeletionProtection"]
    assert here.describe_db_instances()["DBInstances"] == []
    (record,) = ledger_records(event["detail"]["eventID"])
    assert (record["region"], record["outcome"]) == (call_region, "reapplied")
    alert = _alert(inbox)
    text = render_text(alert)
    assert f"Where:     account {ACCOUNT}, {call_region}\n" in text
    link = (
        f"https://{call_region}.console.aws.amazon.com/cloudtrailv2/home?region={call_region}"
        f"#/events/{event['detail']['eventID']}"
    )
    assert link in text
    slack = json.dumps(render_slack(alert))
    assert f"account {ACCOUNT}, {call_region}" in slack and link in slack
    assert home not in text.replace(call_region, "")  # nothing names the stack's own region


def test_an_agent_detaching_its_guardrail_is_reapplied_and_locked_down_by_a_stack_homed_in_eu_west_1(
    stack_in, lambda_context
):
    """IAM is global: its events are delivered in us-east-1 only, and forwarded to the home bus. The stack in
    eu-west-1 reattaches the policy (IAM answers from any region), records and alerts the call where CloudTrail
    recorded it (us-east-1), asks its own bus in eu-west-1 for the lockdown, and its workflow locks the role."""
    inbox = stack_in("eu-west-1")
    event = load_event("iam-detach-role-policy-guardrail-by-agent")
    assert (event["region"], event["detail"]["awsRegion"]) == ("us-east-1", "us-east-1")
    iam = boto3.client("iam")
    iam.create_policy(
        PolicyName="agent-guardrail-deny",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]}
        ),
    )
    iam.create_role(RoleName="ai-agent-deploy", AssumeRolePolicyDocument="{}")
    read_bus = bus_tap()  # Leash's bus, in the home region

    result = load_handler("reapply").lambda_handler(event, lambda_context)

    assert (result["status"], result["severity"]) == ("published", "high")
    attached = iam.list_attached_role_policies(RoleName="ai-agent-deploy")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [GUARDRAIL_POLICY_ARN]
    (record,) = ledger_records(event["detail"]["eventID"])
    assert (record["region"], record["protection"]) == ("us-east-1", "agent-guardrail-policy")
    text = render_text(_alert(inbox))
    assert f"Where:     account {ACCOUNT}, us-east-1\n" in text
    assert "https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/" in text
    assert "Leash requested a lockdown of arn:aws:sts::111122223333:assumed-role/ai-agent-deploy/" in text

    (put,) = read_bus()
    assert put["region"] == "eu-west-1"  # the request went to the home bus, where the workflow's rule is
    assert put["detail"]["evidence"]["region"] == "us-east-1"  # and says where the call was made
    workflows = Workflows(
        {
            "LedgerTable": "leash-ledger",
            "AlertsTopicArn": boto3.client("sns").list_topics()["Topics"][0]["TopicArn"],
            "ResourcePrefix": "leash",
            "ExemptPrincipalArns": f"arn:aws:iam::{ACCOUNT}:role/breakglass-admin",
        }
    )
    assert workflows.arns["lockdown"].split(":")[3] == "eu-west-1"
    execution = workflows.start("lockdown", put["detail"])
    assert execution["status"] == "SUCCEEDED", execution
    assert set(iam.list_role_policies(RoleName="ai-agent-deploy")["PolicyNames"]) == {
        "LeashEmergencyDenyAll",
        "LeashRevokeOlderSessions",
    }


@pytest.mark.parametrize("function", ["notify", "reapply"])
def test_a_malformed_forwarded_event_without_a_region_is_rejected_not_acted_on_in_the_home_region(
    stack_in, lambda_context, function
):
    """No awsRegion, no guess: Leash never falls back to its own region for a call made elsewhere."""
    stack_in("eu-west-1")
    event = forwarded("rds-modify-db-instance-disable-deletion-protection-by-agent", "ap-southeast-2")
    del event["detail"]["awsRegion"]
    result = load_handler(function).lambda_handler(event, lambda_context)
    assert result["status"] == "rejected" and "awsRegion" in result["reason"]
