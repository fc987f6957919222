"""The region forwarders (#12): generated from the home rules, forwarding exactly what a home rule can match.

The property is checked with Leash's own matcher: every sample in events/ and thousands of generated
variants (every catalog call by every userIdentity form, succeeded and denied, fuzz mutants of the samples),
under several deployments, are forwarded by some forwarder rule if and only if some home rule matches them.
"""

from __future__ import annotations

import json
import random
import sys

import pytest
import yaml
from conftest import EVENTS, LONG_PARAMETERS, ROOT, SAMPLE_PARAMETERS
from identity_forms import FORMS

from leash.catalog import CATALOG
from leash_build import forwarders
from leash_build.cfn import offline_role_id
from leash_build.patterns import MAX_PATTERN_CHARS, leash_roles, rewrite_template
from leash_cli.template import TEMPLATE, Router, deployment_for, eventbridge_rules, load_template

sys.path.insert(0, str(ROOT / "tests" / "fuzz"))
import pattern_pairs
from mutate import cloudtrail_mutant

ACCOUNT = "111122223333"
HOME = "eu-west-1"
FORWARDERS = ROOT / "forwarders.yaml"

DEPLOYMENTS = {
    "samples": SAMPLE_PARAMETERS,
    "defaults": {},
    "every-signal": {
        **SAMPLE_PARAMETERS,
        "AgentRoleNames": "ai-agent-deploy,claude-code",
        "AgentSessionNamePrefix": "agent-",
        "AgentSourceIdentityPrefix": "agent-",
        "AgentUserNamePrefix": "bot-",
    },
}


# Leash's role IDs, which the StackSet passes to the forwarder template (its patterns leave Leash's sessions out).
ROLE_IDS = {f"{role}RoleId": offline_role_id(role) for role in leash_roles()}


@pytest.fixture(scope="module")
def home_template():
    return load_template()


@pytest.fixture(scope="module")
def forwarder_template():
    return load_template(FORWARDERS)


def _forward_rules(forwarder_template, overrides, region="us-east-1"):
    """The forwarder stack as deployed in `region` by a home stack in HOME with these parameters."""
    deployment = deployment_for(
        forwarder_template,
        {
            **overrides,
            **ROLE_IDS,
            "LeashStackName": "leash",
            "HomeRegion": HOME,
            "ForwarderRoleArn": "arn",
        },
        account=ACCOUNT,
        region=region,
    )
    rules = eventbridge_rules(forwarder_template, deployment)
    resources = forwarder_template["Resources"]
    return [r for r in rules if deployment.condition(resources[r.name]["Condition"])]


def _home_router(home_template, overrides):
    rules = eventbridge_rules(
        home_template, deployment_for(home_template, overrides, account=ACCOUNT, region=HOME)
    )
    return Router([r for r in rules if r.name != "ForwarderAlarmsRule"])


def _samples():
    return {p.stem: json.loads(p.read_text()) for p in sorted(EVENTS.glob("*.json"))}


def _call(action, identity, **detail):
    return {
        "version": "0",
        "id": "f0f0f0f0-0000-4000-8000-000000000000",
        "detail-type": "AWS API Call via CloudTrail",
        "source": f"aws.{action.service}",
        "account": ACCOUNT,
        "time": "2026-11-22T21:04:36Z",
        "region": "eu-west-2",
        "resources": [],
        "detail": {
            "eventVersion": "1.10",
            "userIdentity": identity,
            "eventSource": action.event_source,
            "eventName": action.name,
            "awsRegion": "eu-west-2",
            "requestParameters": {},
            "eventID": "e-1",
            **detail,
        },
    }


def _variants():
    """Real-shaped events: the samples, every catalog call by every identity form (succeeded, denied, read),
    the samples' fuzz mutants, and the matcher's random events."""
    out = list(_samples().items())
    for name, (identity, *_rest) in FORMS.items():
        for action in CATALOG:
            out.append((f"{action.action}/{name}", _call(action, identity)))
            out.append((f"{action.action}/{name}/denied", _call(action, identity, errorCode="AccessDenied")))
        for action in CATALOG[:5]:
            read = _call(action, identity, eventName="Describe" + action.name, readOnly=True)
            out.append((f"read/{name}", read))
    rng = random.Random(1212)
    samples = list(_samples().values())
    for i in range(2000):
        mutant = cloudtrail_mutant(rng, rng.choice(samples))
        if isinstance(mutant, dict):  # EventBridge events are JSON objects
            out.append((f"mutant-{i}", mutant))
    out += [(f"pair-{i}", event) for i, (_, event) in enumerate(pattern_pairs.pairs(300))]
    return out


VARIANTS = _variants()


def _made_only_at_home(event, routed) -> bool:
    """Tampering with one of Leash's regional resources (its topic, functions, tables...): such a call is made
    in the home region, where the resource is (another region's endpoint refuses it), so no forwarder needs it.
    Tampering with Leash's roles (IAM: us-east-1) and with the forwarder rules (the watched regions) is forwarded.
    """
    if not all(r.name.startswith(forwarders.TAMPER_PREFIXES) for r in routed):
        return False
    detail = event.get("detail", {})
    kinds = {
        a.leash_kind
        for a in CATALOG
        if a.leash_kind and (a.event_source, a.name) == (detail.get("eventSource"), detail.get("eventName"))
    }
    return not kinds & forwarders.FORWARDED_TAMPER_KINDS


@pytest.mark.parametrize("deployment", sorted(DEPLOYMENTS))
def test_forwarders_forward_exactly_what_a_home_rule_matches(home_template, forwarder_template, deployment):
    """Every event a home rule matches is forwarded (coverage), and nothing else is (precision).

    Precision is asserted for events AWS can emit: a forwarder names the service by detail.eventSource
    alone (a `source` per alternative would not fit the quota), so a fuzz mutant whose envelope `source`
    contradicts its eventSource may be forwarded and then dropped at home; coverage holds for every mutant.
    """
    overrides = DEPLOYMENTS[deployment]
    home = _home_router(home_template, overrides)
    forward = Router(_forward_rules(forwarder_template, overrides))
    matched = 0
    for name, event in VARIANTS:
        routed = home.route(event)
        at_home = bool(routed)
        sent = [r.name for r in forward.route(event)]
        why = (name, sent, [r.name for r in routed])
        if at_home and not _made_only_at_home(event, routed):
            assert sent, why
        elif not name.startswith("mutant-"):
            assert not sent, why
        matched += at_home
    assert matched > 1000  # the property was tested on something


def test_routine_calls_are_not_forwarded_but_an_agents_reads_are(forwarder_template):
    forward = Router(_forward_rules(forwarder_template, SAMPLE_PARAMETERS))
    human = FORMS["IAMUser"][0]
    agent = json.loads((EVENTS / "iam-attach-role-policy-by-agent.json").read_text())["detail"][
        "userIdentity"
    ]
    (ec2,) = [a for a in CATALOG if a.action == "ec2:TerminateInstances"]
    for name in ("DescribeInstances", "ListBuckets", "GetRole", "RunInstances"):
        assert forward.route(_call(ec2, human, eventName=name)) == [], name
    # AgentCallsRule counts every call of an agent, reads included: those are forwarded (at home, one per call).
    assert forward.route(_call(ec2, agent, eventName="DescribeInstances"))
    # A denied read by anyone feeds the spike detector: forwarded too.
    assert forward.route(_call(ec2, human, eventName="DescribeInstances", errorCode="AccessDenied"))


def test_an_agents_denied_call_is_forwarded_once(forwarder_template):
    """Denials and agents' calls share a forwarder: each forwarded copy costs (the home dedupes anyway)."""
    forward = Router(_forward_rules(forwarder_template, SAMPLE_PARAMETERS))
    event = json.loads((EVENTS / "dynamodb-delete-table-denied.json").read_text())
    assert len(forward.route(event)) == 1


def test_generated_forwarders_match_the_home_rules():
    text = TEMPLATE.read_text()
    wanted, body = forwarders.generate(rewrite_template(text))
    assert wanted == text, "template.yaml's StackSet drifted from the home rules: run `make patterns`"
    assert FORWARDERS.read_text() == body, "forwarders.yaml drifted from the home rules: run `make patterns`"


def test_every_forwarder_pattern_fits_the_quota_with_long_parameters(forwarder_template):
    long = {
        **LONG_PARAMETERS,
        "GuardrailPolicyArns": ",".join([f"arn:aws:iam::{ACCOUNT}:policy/agent-guardrail-deny-long"] * 3),
    }
    rules = _forward_rules(forwarder_template, long)
    assert len(rules) == len([r for r in forwarder_template["Resources"] if r.startswith("Forward")])
    for rule in rules:
        size = len(json.dumps(rule.pattern, separators=(",", ":")))
        assert size < MAX_PATTERN_CHARS, f"{rule.name} is {size} characters"


def test_the_stackset_body_fits_cloudformations_limit(forwarder_template):
    body = forwarders.stackset_body(forwarder_template)
    assert len(body.encode()) <= forwarders.MAX_TEMPLATE_BODY_BYTES


# --- the forwarder template ---------------------------------------------------------------------------


def test_no_forwarder_in_the_home_region(forwarder_template):
    at_home = deployment_for(forwarder_template, {"HomeRegion": HOME}, region=HOME)
    away = deployment_for(forwarder_template, {"HomeRegion": HOME}, region="us-east-1")
    assert at_home.condition("AwayFromHome") is False and away.condition("AwayFromHome") is True
    for name, resource in forwarder_template["Resources"].items():
        if name != "HomeRegionPlaceholder":
            assert resource["Condition"] == "AwayFromHome", name
    assert forwarder_template["Resources"]["HomeRegionPlaceholder"]["Type"] == (
        "AWS::CloudFormation::WaitConditionHandle"
    )


def test_forward_rules_target_the_home_bus_with_retries_and_a_dead_letter_queue(forwarder_template):
    rules = {k: v for k, v in forwarder_template["Resources"].items() if v["Type"] == "AWS::Events::Rule"}
    names = sorted(r["Properties"]["Name"]["Fn::Sub"] for r in rules.values())
    assert names == sorted(f"${{LeashStackName}}-forward-{n}" for n in range(1, len(rules) + 1))
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == {
            "Fn::Sub": "arn:${AWS::Partition}:events:${HomeRegion}:${AWS::AccountId}:event-bus/default"
        }
        assert target["RoleArn"] == {"Ref": "ForwarderRoleArn"}
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["UndeliveredQueue", "Arn"]}}
    cloudtrail = [
        r for r in rules.values() if "aws.cloudwatch" not in r["Properties"]["EventPattern"].get("source", [])
    ]
    # Reads reach a rule only in this state (the spike rules count denied reads and agents' reads).
    assert {r["Properties"]["State"] for r in cloudtrail} == {"ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"}


def test_the_dead_letter_alarm_is_forwarded_and_reaches_the_alerts_topic(home_template, forwarder_template):
    """An alarm cannot notify a topic in another region: its state change is forwarded and the home rule
    turns it into an alarm notification on the alerts topic, which the Slack path renders as an alarm."""
    from leash.inbox import alert_from_sns_message
    from leash.model import Severity

    alarm = forwarder_template["Resources"]["UndeliveredAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["UndeliveredQueue", "QueueName"]}}
    ]
    assert "AlarmActions" not in alarm
    event = {  # CloudWatch's "CloudWatch Alarm State Change", as EventBridge gives it in eu-west-2
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": "2026-11-22T21:10:00Z",
        "region": "eu-west-2",
        "resources": [f"arn:aws:cloudwatch:eu-west-2:{ACCOUNT}:alarm:leash-forward-undelivered"],
        "detail": {
            "alarmName": "leash-forward-undelivered",
            "state": {
                "value": "ALARM",
                "reason": "Threshold Crossed: 1 datapoint [3.0 (22/11/26 21:05:00)] was greater than the threshold (0.0).",
                "timestamp": "2026-11-22T21:10:00.000+0000",
            },
            "previousState": {"value": "OK", "reason": "", "timestamp": "2026-11-22T20:00:00.000+0000"},
            "configuration": {
                "description": "Leash could not forward some events from eu-west-2 to eu-west-1; they wait in "
                "the queue leash-forward-undelivered in eu-west-2.",
                "metrics": [],
            },
        },
    }
    away = deployment_for(
        forwarder_template,
        {"LeashStackName": "leash", "HomeRegion": HOME, "ForwarderRoleArn": "arn", **ROLE_IDS},
        region="eu-west-2",
    )
    assert [r.name for r in Router(eventbridge_rules(forwarder_template, away)).route(event)] == [
        f"Forward{len([r for r in forwarder_template['Resources'] if r.startswith('Forward')])}"
    ]
    home = eventbridge_rules(
        home_template, deployment_for(home_template, {}, region=HOME, stack_name="leash")
    )
    (rule,) = [r for r in home if r.matches(event)]
    assert rule.name == "ForwarderAlarmsRule" and rule.function == "AlertsTopic"
    (target,) = home_template["Resources"]["ForwarderAlarmsRule"]["Properties"]["Targets"]
    message = _input_transformer(target["InputTransformer"], event)
    alert = alert_from_sns_message(message)
    assert alert.severity is Severity.HIGH
    assert alert.title == "CloudWatch alarm leash-forward-undelivered is ALARM"
    assert alert.region == "eu-west-2"
    assert "from eu-west-2 to eu-west-1" in alert.leash_did[0].reason


def _input_transformer(transformer, event):
    """EventBridge's InputTransformer for simple paths: an unquoted <name> becomes the value as JSON."""
    text = transformer["InputTemplate"]
    for name, path in transformer["InputPathsMap"].items():
        value = event
        for part in path.removeprefix("$.").replace("[", ".").replace("]", "").split("."):
            value = value[int(part)] if part.isdigit() else value[part]
        text = text.replace(f"<{name}>", json.dumps(value))
    return text


# --- the home template: StackSet, roles -----------------------------------------------------------------


def test_the_stackset_deploys_to_the_watched_regions_of_this_account(home_template):
    stackset = home_template["Resources"]["Forwarders"]["Properties"]
    assert stackset["StackSetName"] == {"Fn::Sub": "${AWS::StackName}-forwarders"}
    assert stackset["PermissionModel"] == "SELF_MANAGED"
    assert stackset["AdministrationRoleARN"] == {"Fn::GetAtt": ["StackSetAdministrationRole", "Arn"]}
    assert stackset["ExecutionRoleName"] == {"Ref": "StackSetExecutionRole"}
    (group,) = stackset["StackInstancesGroup"]
    assert group == {
        "DeploymentTargets": {"Accounts": [{"Ref": "AWS::AccountId"}]},
        "Regions": {"Ref": "WatchedRegions"},
    }
    assert stackset["OperationPreferences"]["FailureToleranceCount"] == 0
    assert json.loads(stackset["TemplateBody"]) == yaml.safe_load(FORWARDERS.read_text())
    watched = home_template["Parameters"]["WatchedRegions"]["Default"].split(",")
    assert "us-east-1" in watched and len(watched) == 17  # the regions enabled by default in every account
    passed = {p["ParameterKey"] for p in stackset["Parameters"]}
    assert passed == set(yaml.safe_load(FORWARDERS.read_text())["Parameters"])


def test_the_forward_role_may_only_put_events_on_the_home_bus(home_template):
    role = home_template["Resources"]["ForwarderRole"]["Properties"]
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"
    }
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"].endswith(
        ":rule/${AWS::StackName}-forward-*"
    )


def test_the_execution_role_can_create_exactly_the_forwarder_resources(home_template, forwarder_template):
    """Its actions cover what CloudFormation's resource handlers need (cfn-lint ships their schemas), on
    the forwarder stacks' own names only."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    statements = home_template["Resources"]["StackSetExecutionRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    granted = {
        a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    for kind in {r["Type"] for r in forwarder_template["Resources"].values()}:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", kind).schema
        needed = {
            a
            for handler, spec in schema.get("handlers", {}).items()
            if handler != "list"
            for a in spec["permissions"]
        }
        assert needed <= granted, (kind, needed - granted)
    for statement in statements:
        assert "*" not in json.dumps(statement["Action"]), statement["Sid"]
        assert statement["Resource"] != "*"


def test_makefile_lints_the_forwarder_template():
    assert "cfn-lint template.yaml forwarders.yaml" in (ROOT / "Makefile").read_text()


def test_readme_says_what_is_watched_and_what_it_costs():
    readme = (ROOT / "README.md").read_text()
    for needed in ("WatchedRegions", "opt-in", "StackSetAdministrationRole", "cross-Region", "per month"):
        assert needed in readme, needed


def test_forward_patterns_are_generated_from_every_home_rule():
    """A home rule the generator cannot split is forwarded whole, so a new kind of rule is never dropped."""
    from leash_build.patterns import Rule

    odd = Rule("Odd", "not CloudTrail", {"source": ["aws.health"], "detail-type": ["AWS Health Event"]})
    assert odd.pattern in forwarders.forward_patterns([*forwarders.home_rules(), odd])


def test_replay_watches_by_default_what_the_template_watches_by_default(home_template):
    """leash replay's fallback for a template without WatchedRegions is the template's own default."""
    from leash_build.regions import DEFAULT_WATCHED_REGIONS

    default = home_template["Parameters"]["WatchedRegions"]["Default"]
    assert tuple(default.split(",")) == DEFAULT_WATCHED_REGIONS
