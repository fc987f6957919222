"""The region forwarders: the StackSet template that sends every watched region's events to the home region.

EventBridge delivers a CloudTrail event only in the region of the call (IAM, STS, Organizations and the
other global services: in us-east-1). Leash's stack lives in one home region, so each other watched region
gets rules on its default bus whose target is the home region's default bus (a cross-Region event bus
target); the home rules then see the forwarded events as they are (same `region`, `account`, `source` and
`detail`). The forwarders are generated from the home rules (leash_build.patterns), never written by hand:
they forward the union of what a home rule can match, and nothing else.

`make patterns` writes `forwarders.yaml` and the same text into template.yaml's StackSet
(`TemplateBody`); tests/unit/test_forwarders.py fails when either drifts from the home rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from leash.catalog import CATALOG
from leash.model import CLOUDTRAIL_DETAIL_TYPE
from leash_build.cfn import CfnLoader
from leash_build.patterns import (
    _PACK_LIMIT,
    RULES_BY_FUNCTION,
    RULES_BY_QUEUE,
    Rule,
    pattern_size,
    tamper_rules,
)

FORWARDERS = Path(__file__).resolve().parents[2] / "forwarders.yaml"
BEGIN_MARKER = "# BEGIN GENERATED FORWARDERS (make patterns) - edit leash/catalog.py, not this block"
END_MARKER = "# END GENERATED FORWARDERS"
# CloudFormation's limit for a StackSet's inline TemplateBody (CreateStackSet API reference).
MAX_TEMPLATE_BODY_BYTES = 51_200
# The home region's alarm rule (template.yaml) matches the forwarders' alarms by this name prefix.
ALARM_NAME = "${LeashStackName}-forward-undelivered"
RULE_NAME = "${LeashStackName}-forward-"
# Keys of a CloudTrail branch that say which call it is; what a group of branches shares besides these
# (errorCode, userIdentity) is written once for the group.
_CALL_KEYS = ("eventSource", "eventName", "requestParameters")
_NO_VALUE = {"Ref": "AWS::NoValue"}


# Leash's own resources live in the home region, and a call on one is made there (another region's endpoint
# refuses a resource of this one), so most tamper rules need no forwarder. These kinds are the exceptions:
# Leash's roles are IAM's (global: us-east-1), and the forwarder rules live in the watched regions.
FORWARDED_TAMPER_KINDS = frozenset({"role", "new-role", "rule"})
TAMPER_PREFIXES = ("Tamper", "ReapplyTamper")


def home_rules() -> list[Rule]:
    """Every rule that the home stack puts on its default bus for CloudTrail events, as far as a call in
    another region can match it; the spike rules first, so that denied calls and agents' calls share the
    first forwarder (an agent's denied call goes once)."""
    rules = [rule for rules in (*RULES_BY_QUEUE.values(), *RULES_BY_FUNCTION.values()) for rule in rules()]
    away = [a for a in CATALOG if a.leash_kind in FORWARDED_TAMPER_KINDS]
    return [
        *(rule for rule in rules if not rule.name.startswith(TAMPER_PREFIXES)),
        *tamper_rules("Tamper", [a for a in away if not a.protection]),
        *tamper_rules("ReapplyTamper", [a for a in away if a.protection]),
    ]


# --- branches: one home rule's pattern as a list of alternatives -------------------------------------


def _conditional(branch: Any) -> tuple[str | None, dict[str, Any]]:
    """(condition, inner) of a `{"Fn::If": [condition, inner, NoValue]}` branch; (None, branch) otherwise."""
    if isinstance(branch, dict) and set(branch) == {"Fn::If"}:
        condition, inner, otherwise = branch["Fn::If"]
        if otherwise == _NO_VALUE and isinstance(inner, dict):
            return condition, inner
    return None, branch


def _wrap(condition: str | None, inner: dict[str, Any]) -> Any:
    return inner if condition is None else {"Fn::If": [condition, inner, _NO_VALUE]}


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any] | None:
    """Both sub-patterns at once (their AND), or None when they constrain the same field differently."""
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
        elif isinstance(out[key], dict) and isinstance(value, dict) and "Fn::If" not in value:
            merged = _merge(out[key], value)
            if merged is None:
                return None
            out[key] = merged
        elif out[key] != value:
            return None
    return out


def _branches(rule: Rule) -> list[Any] | None:
    """The rule's CloudTrail pattern as alternatives of its `detail`, or None if it cannot be split so."""
    pattern = rule.pattern
    if set(pattern) - {"source", "detail-type", "detail"} or pattern.get("detail-type") != [
        CLOUDTRAIL_DETAIL_TYPE
    ]:
        return None
    detail = pattern.get("detail", {})
    alternatives = detail.get("$or", [{}])
    base = {k: v for k, v in detail.items() if k != "$or"}
    out = []
    for alternative in alternatives:
        condition, inner = _conditional(alternative)
        merged = _merge(base, inner)
        # A rule's `source` only repeats its calls' eventSource: a branch without one would widen.
        if merged is None or ("source" in pattern and "eventSource" not in merged):
            return None
        out.append(_wrap(condition, merged))
    return out


def _covers(wide: Any, narrow: Any) -> bool:
    """Whether every event `narrow` matches is matched by `wide` (wide's constraints are a subset)."""
    if isinstance(wide, dict) and isinstance(narrow, dict):
        if "Fn::If" in wide or "Fn::If" in narrow:
            return wide == narrow
        return all(key in narrow and _covers(value, narrow[key]) for key, value in wide.items())
    return bool(wide == narrow)


def _subsumed(branch: Any, others: Iterable[Any]) -> bool:
    condition, inner = _conditional(branch)
    for other in others:
        other_condition, other_inner = _conditional(other)
        if other is not branch and other_condition in (None, condition) and _covers(other_inner, inner):
            if other_inner != inner or id(other) < id(branch):  # of two equal branches, keep one
                return True
    return False


def _merged_names(branches: list[Any]) -> list[Any]:
    """Branches equal but for their eventName list become one branch with the union of the names."""
    out: list[Any] = []
    index: dict[str, int] = {}
    for branch in branches:
        condition, inner = _conditional(branch)
        names = inner.get("eventName")
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            out.append(branch)
            continue
        key = json.dumps([condition, {k: v for k, v in inner.items() if k != "eventName"}], sort_keys=True)
        if key in index:
            _, first = _conditional(out[index[key]])
            first["eventName"] = sorted(set(first["eventName"]) | set(names))
        else:
            index[key] = len(out)
            out.append(_wrap(condition, {**inner, "eventName": sorted(set(names))}))
    return out


# --- rules --------------------------------------------------------------------------------------------


def _rule_pattern(shared: Mapping[str, Any], alternatives: list[Any]) -> dict[str, Any]:
    detail = dict(shared)
    if len(alternatives) == 1 and _conditional(alternatives[0])[0] is None:
        detail.update(alternatives[0])
    else:
        detail["$or"] = alternatives
    return {"detail-type": [CLOUDTRAIL_DETAIL_TYPE], "detail": detail}


def _pack(shared: Mapping[str, Any], alternatives: list[Any]) -> list[dict[str, Any]]:
    """Alternatives under one shared part, split into patterns that stay under the pattern quota."""
    parts: list[list[Any]] = [[]]
    for alternative in alternatives:
        trial = parts[-1] + [alternative]
        if parts[-1] and pattern_size(_rule_pattern(shared, trial)) > _PACK_LIMIT:
            parts.append([alternative])
        else:
            parts[-1] = trial
    return [_rule_pattern(shared, part) for part in parts if part]


def forward_patterns(rules: Iterable[Rule] | None = None) -> list[dict[str, Any]]:
    """The forwarders' patterns: the union of the home rules' patterns, each event in as few as possible.

    A home rule's branches that another branch covers are dropped (every agent-only call rule is covered
    by the rule that counts every agent call); branches that differ only in eventName are merged; the
    calls that share who-and-outcome (anyone but Leash, succeeded) are packed under that shared part; the
    rest (agents, denials, root) share one pattern, so an agent's denied call is forwarded once.
    A rule whose pattern cannot be split into branches (another detail-type) is forwarded as it is.
    """
    rules = list(rules if rules is not None else home_rules())
    whole: list[dict[str, Any]] = []
    branches: list[Any] = []
    for rule in rules:
        split = _branches(rule)
        if split is None:
            if rule.pattern not in whole:
                whole.append(dict(rule.pattern))
        else:
            branches.extend(split)
    branches = _merged_names([b for b in branches if not _subsumed(b, branches)])

    groups: dict[str, tuple[dict[str, Any], list[Any]]] = {}
    loose: list[Any] = []
    for branch in branches:
        condition, inner = _conditional(branch)
        call = {k: v for k, v in inner.items() if k in _CALL_KEYS}
        shared = {k: v for k, v in inner.items() if k not in _CALL_KEYS}
        if condition is None and call and shared:
            key = json.dumps(shared, sort_keys=True)
            groups.setdefault(key, (shared, []))[1].append(call)
        else:
            loose.append(branch)
    patterns = _pack({}, loose) if loose else []
    for shared, calls in groups.values():
        if len(calls) == 1:
            patterns.extend(_pack({}, [{**shared, **calls[0]}]))
        else:
            patterns.extend(_pack(shared, calls))
    return patterns + whole


# --- the template -------------------------------------------------------------------------------------


def _refs(value: Any, refs: set[str], conditions: set[str]) -> None:
    """The parameters (Ref, ${...} in Fn::Sub) and conditions (Fn::If, Condition) a fragment uses."""
    if isinstance(value, list):
        for item in value:
            _refs(item, refs, conditions)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref":
                refs.add(arg)
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                refs.update(part.split("}")[0] for part in text.split("${")[1:])
            elif key == "Fn::If":
                conditions.add(arg[0])
            elif key == "Condition":
                conditions.add(arg)
            _refs(arg, refs, conditions)


def _attributes_as_parameters(value: Any) -> Any:
    """The patterns with each home attribute (`${Resource.Attribute}` of an Fn::Sub, an Fn::GetAtt) turned into
    the parameter `ResourceAttribute`, which the StackSet fills in (leash_build.patterns.leash_roles' role IDs,
    the ARNs a tamper rule names)."""
    if isinstance(value, list):
        return [_attributes_as_parameters(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::GetAtt"}:
        resource, attribute = value["Fn::GetAtt"]
        return {"Ref": resource + attribute}
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"]
        for part in text.split("${")[1:]:
            name = part.split("}")[0]
            if "." in name and not name.startswith("AWS::"):
                text = text.replace("${" + name + "}", "${" + name.replace(".", "", 1) + "}")
        return {"Fn::Sub": text}
    return {k: _attributes_as_parameters(v) for k, v in value.items()}


def _home_resource_value(name: str, home: Mapping[str, Any]) -> Any:
    """What the home stack passes for a forwarder parameter named after one of its resources (its Ref) or a
    resource's attribute (`ResourceAttribute`: its Fn::GetAtt); None for a home parameter. A resource that exists
    only under a condition passes "-" otherwise (the pattern's Fn::If leaves the parameter unused then)."""
    resources = home["Resources"]
    value: Any
    if name in resources:
        resource, value = name, {"Ref": name}
    else:
        owners = [r for r in resources if name.startswith(r) and name not in home.get("Parameters", {})]
        if not owners:
            return None
        resource = max(owners, key=len)
        value = {"Fn::GetAtt": [resource, name[len(resource) :]]}
    condition = resources[resource].get("Condition")
    return {"Fn::If": [condition, value, "-"]} if condition else value


def forwarder_template(home: Mapping[str, Any]) -> dict[str, Any]:
    """The CloudFormation template each watched region gets; `home` is template.yaml, whose parameters
    and conditions the patterns use (copied, so both read the same deploy values)."""
    patterns = _attributes_as_parameters(forward_patterns())
    refs: set[str] = set()
    conditions: set[str] = set()
    _refs(patterns, refs, conditions)
    home_conditions = home.get("Conditions", {})
    pending = set(conditions)
    while pending:  # a condition may use other conditions and parameters
        name = pending.pop()
        used: set[str] = set()
        _refs(home_conditions[name], refs, used)
        pending |= used - conditions
        conditions |= used
    refs = {r for r in refs if not r.startswith("AWS::")}
    parameters: dict[str, Any] = {
        "LeashStackName": {"Type": "String", "Description": "The home stack's name (it names these rules)."},
        "HomeRegion": {"Type": "String", "Description": "Where Leash runs: events go to its default bus."},
        "ForwarderRoleArn": {
            "Type": "String",
            "Description": "The role the rules use to put events on the home bus (the home stack's).",
        },
    }
    for name in sorted(refs):
        if _home_resource_value(name, home) is not None:  # the home stack's resource or attribute
            parameters[name] = {"Type": "String", "Description": f"The home stack's {name}."}
            continue
        spec = home["Parameters"][name]
        parameters[name] = {k: spec[k] for k in ("Type", "Default", "AllowedPattern") if k in spec}
    home_bus = {"Fn::Sub": "arn:${AWS::Partition}:events:${HomeRegion}:${AWS::AccountId}:event-bus/default"}
    queue_arn = {"Fn::GetAtt": ["UndeliveredQueue", "Arn"]}

    def forward_rule(n: int, description: str, state: str, pattern: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "Type": "AWS::Events::Rule",
            "Condition": "AwayFromHome",
            "Properties": {
                "Name": {"Fn::Sub": f"{RULE_NAME}{n}"},
                "Description": description,
                "State": state,
                "EventPattern": pattern,
                "Targets": [
                    {
                        "Id": "HomeBus",
                        "Arn": home_bus,
                        "RoleArn": {"Ref": "ForwarderRoleArn"},
                        "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
                        "DeadLetterConfig": {"Arn": queue_arn},
                    }
                ],
            },
        }

    resources: dict[str, Any] = {
        # Every other resource is skipped in the home region; a stack instance needs one resource to exist.
        "HomeRegionPlaceholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
        "UndeliveredQueue": {
            "Type": "AWS::SQS::Queue",
            "Condition": "AwayFromHome",
            # What could not be forwarded outlives the stack instance, like every other queue of Leash's.
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "QueueName": {"Fn::Sub": "${LeashStackName}-forward-undelivered"},
                "MessageRetentionPeriod": 1209600,
                "SqsManagedSseEnabled": True,
            },
        },
        "UndeliveredQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Condition": "AwayFromHome",
            "Properties": {
                "Queues": [{"Ref": "UndeliveredQueue"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "ForwardRulesDeadLetters",
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": queue_arn,
                            "Condition": {
                                "ArnLike": {
                                    "aws:SourceArn": {
                                        "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}"
                                        f":rule/{RULE_NAME}*"
                                    }
                                }
                            },
                        }
                    ],
                },
            },
        },
        # No action of its own: an alarm cannot notify a topic in another region, so its state change
        # (an event on this region's default bus) is forwarded like the rest, and the home stack's
        # ForwarderAlarmsRule sends it to the alerts topic.
        "UndeliveredAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Condition": "AwayFromHome",
            "Properties": {
                "AlarmName": {"Fn::Sub": ALARM_NAME},
                "AlarmDescription": {
                    "Fn::Sub": "Leash could not forward some events from ${AWS::Region} to ${HomeRegion}; "
                    "they wait in the queue ${LeashStackName}-forward-undelivered in ${AWS::Region}."
                },
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [
                    {"Name": "QueueName", "Value": {"Fn::GetAtt": ["UndeliveredQueue", "QueueName"]}}
                ],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            },
        },
    }
    for n, pattern in enumerate(patterns, start=1):
        resources[f"Forward{n}"] = forward_rule(
            n,
            "Leash: forward what a home rule can match to the home region (reads included)",
            "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
            pattern,
        )
    n = len(patterns) + 1
    resources[f"Forward{n}"] = forward_rule(
        n,
        "Leash: forward this region's undelivered-events alarm to the home region",
        "ENABLED",
        {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": [{"Fn::Sub": ALARM_NAME}]},
        },
    )
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Leash forwarders (generated by `make patterns`, deployed by the home stack's StackSet): "
        "this region's CloudTrail events that a Leash rule can match go to the home region's default bus.",
        "Parameters": parameters,
        "Conditions": {
            "AwayFromHome": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AWS::Region"}, {"Ref": "HomeRegion"}]}]},
            **{name: home_conditions[name] for name in sorted(conditions)},
        },
        "Resources": resources,
    }


def render(template: Mapping[str, Any]) -> str:
    """The forwarder template as YAML (long-form intrinsics, so any YAML or JSON reader takes it)."""

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    def represent_list(dumper: yaml.SafeDumper, items: list[Any]) -> Any:
        flow = all(not isinstance(i, dict | list) for i in items)
        return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)

    Dumper.add_representer(list, represent_list)
    return yaml.dump(dict(template), Dumper=Dumper, sort_keys=False, width=110)


def stackset_parameters(template: Mapping[str, Any], home: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The StackSet's Parameters: the home stack's values for every parameter of the forwarder template."""
    fixed = {
        "LeashStackName": {"Ref": "AWS::StackName"},
        "HomeRegion": {"Ref": "AWS::Region"},
        "ForwarderRoleArn": {"Fn::GetAtt": ["ForwarderRole", "Arn"]},
    }
    out = []
    for name, spec in template["Parameters"].items():
        value = (
            fixed.get(name)
            or _home_resource_value(name, home)
            or ({"Fn::Join": [",", {"Ref": name}]} if spec["Type"] == "CommaDelimitedList" else {"Ref": name})
        )
        out.append({"ParameterKey": name, "ParameterValue": value})
    return out


def stackset_body(template: Mapping[str, Any]) -> str:
    """The StackSet's TemplateBody: the forwarder template as compact JSON (limit MAX_TEMPLATE_BODY_BYTES)."""
    return json.dumps(template, separators=(",", ":"))


def render_block(template: Mapping[str, Any], home: Mapping[str, Any], body: str, indent: int = 6) -> str:
    """The StackSet's generated properties (Parameters, TemplateBody), markers included."""
    pad = " " * indent
    lines = [pad + BEGIN_MARKER, pad + "Parameters:"]
    for parameter in stackset_parameters(template, home):
        value = json.dumps(parameter["ParameterValue"])
        lines.append(f"{pad}  - {{ ParameterKey: {parameter['ParameterKey']}, ParameterValue: {value} }}")
    # The same template as forwarders.yaml, as compact JSON: CloudFormation counts TemplateBody's bytes.
    lines.append(pad + "TemplateBody: " + json.dumps(stackset_body(template)))
    lines.append(pad + END_MARKER)
    return "\n".join(lines)


def generate(text: str) -> tuple[str, str]:
    """(template.yaml with the StackSet's generated block renewed, forwarders.yaml) for this template text."""
    home = yaml.load(text, Loader=CfnLoader)
    template = forwarder_template(home)
    body = render(template)
    start = text.index(BEGIN_MARKER)
    line_start = text.rindex("\n", 0, start) + 1
    end = text.index(END_MARKER, start) + len(END_MARKER)
    return text[:line_start] + render_block(template, home, body, start - line_start) + text[end:], body
