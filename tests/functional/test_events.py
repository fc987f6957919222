"""Every sample in events/ goes through the template's rules and the real notify handler.

Like StreamAlert's rule fixtures, the table states what must happen to each event:
which rules of template.yaml match it, what the handler does, and what the alert says.
"""

from __future__ import annotations

import json
import re

import boto3
import pytest
from conftest import EVENTS, FUNCTION_DIRS, SAMPLE_PARAMETERS, load_event, load_handler
from sample_expectations import EXPECTED

from leash.alerts import Alert
from leash.slack_blocks import render_slack
from leash_cli.template import Router


def test_every_sample_event_is_exercised():
    assert sorted(p.stem for p in EVENTS.glob("*.json")) == sorted(EXPECTED)


@pytest.fixture(scope="module")
def router():
    # The deploy parameters that the handlers' environment mirrors (tests/conftest.py).
    return Router.from_template(overrides=SAMPLE_PARAMETERS)


def _rule(name: str) -> str:
    """A packed rule without its part number (DestructiveData2 -> DestructiveData): which part of a family
    holds a service moves as the catalog and Leash's roles grow, the family a call belongs to does not."""
    return re.sub(r"^((?:Destructive|Reapply)[A-Z][a-z]+|(?:Reapply)?Tamper)\d+$", r"\1", name)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_template_rules_route_the_event(router, name):
    rules, *_ = EXPECTED[name]
    event = load_event(name)
    routed = router.route(event)
    assert [_rule(r.name) for r in routed if r.function != "SpikeQueue"] == [_rule(r) for r in rules]
    # The spike detector's queue gets every agent call and every denied call (tests/functional/test_spikes.py).
    spike = {r.name for r in routed if r.function == "SpikeQueue"}
    detail = event.get("detail", {})
    assert ("DeniedCallsRule" in spike) is (detail.get("errorCode") == "AccessDenied")


@pytest.fixture
def handlers(notify_stack):
    # The role whose only agent signal is its Usage=Agent tag, and a human's SSO role (no tag).
    iam = boto3.client("iam")
    iam.create_role(
        RoleName="data-pipeline-bot", AssumeRolePolicyDocument="{}", Tags=[{"Key": "Usage", "Value": "Agent"}]
    )
    iam.create_role(
        RoleName="AWSReservedSSO_AdministratorAccess_4f2a9c1e7b3d5a60",
        Path="/aws-reserved/sso.amazonaws.com/",
        AssumeRolePolicyDocument="{}",
    )
    return {fn: load_handler(d) for fn, d in FUNCTION_DIRS.items()}, notify_stack[1]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_handler_does_what_the_event_deserves(router, handlers, lambda_context, name):
    functions, inbox = handlers
    _, status, severity, phrases = EXPECTED[name]
    event = load_event(name)
    # The function its rules target; events no rule matches still get a clean answer from notify.
    targets = {r.function for r in router.route(event) if r.function != "SpikeQueue"} or {"NotifyFunction"}
    assert len(targets) == 1

    result = functions[targets.pop()].lambda_handler(event, lambda_context)

    assert result["status"] == status
    assert result["severity"] == severity
    delivered = inbox.drain()
    if status != "published":
        assert delivered == []
        for phrase in phrases:
            assert phrase in result["reason"]
        return
    assert len(delivered) == 1
    envelope = delivered[0]
    alert = Alert.from_dict(json.loads(envelope["Message"]))  # SQS subscribers get the JSON body
    slack_text = json.dumps(render_slack(alert))
    assert envelope["Subject"].startswith(f"[Leash {severity.upper()}]")
    for phrase in phrases:
        assert phrase in slack_text, phrase
