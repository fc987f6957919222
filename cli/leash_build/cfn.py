"""Just enough of CloudFormation's intrinsic functions to read Leash's own template offline.

Used to resolve the EventBridge patterns of template.yaml with deploy parameters, so the
demo, replay and tests route events by exactly what `sam deploy` would create.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

# The secrets Leash is given, by parameter, each with the condition under which it is set: tampering with them
# is tampering with Leash (the tamper rules, leash_cli.template.leash_resources and `leash scp` read this).
SLACK_SECRETS = {
    "SlackWebhookSecretArn": "HasSlack",
    "SlackSigningSecretArn": "HasSlackInteractivity",
    "SlackBotTokenSecretArn": "HasSlackBot",
}

NO_VALUE = object()
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


# --- reading a template: CloudFormation's short-form tags into their long form ---------------------------

_SCALAR_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "ImportValue": "Fn::ImportValue",
    "GetAZs": "Fn::GetAZs",
    "Base64": "Fn::Base64",
}
_SEQUENCE_TAGS = ("If", "Not", "Equals", "And", "Or", "Join", "Split", "Select", "FindInMap", "Cidr")


_BaseLoader: Any = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)  # libyaml's parser, 7x faster, when PyYAML has it


class CfnLoader(_BaseLoader):
    """YAML with CloudFormation's short-form tags, read into their long form ({"Fn::If": [...]})."""


def _construct(long_name: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if long_name == "Fn::GetAtt":
                value = value.split(".", 1)
        else:
            value = loader.construct_sequence(node, deep=True)
        return {long_name: value}

    return construct


for _tag, _long in _SCALAR_TAGS.items():
    CfnLoader.add_constructor(f"!{_tag}", _construct(_long))
for _tag in (*_SEQUENCE_TAGS, "Sub", "GetAtt"):
    CfnLoader.add_constructor(f"!{_tag}", _construct(f"Fn::{_tag}"))


class TemplateError(ValueError):
    """The template uses something this resolver cannot evaluate offline."""


@dataclass(frozen=True)
class Deployment:
    """Where and how the stack is deployed: parameter values plus the pseudo parameters."""

    parameters: Mapping[str, Any] = field(default_factory=dict)
    account: str = "123456789012"
    region: str = "us-east-1"
    partition: str = "aws"
    stack_name: str = "leash"
    conditions: Mapping[str, Any] = field(default_factory=dict)  # the template's Conditions section
    resources: Mapping[str, str] = field(default_factory=dict)  # logical ID -> what its Ref returns
    attributes: Mapping[str, Any] = field(
        default_factory=dict
    )  # "Logical.Attribute" -> what Fn::GetAtt returns

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.resources[name]
        if "." in name:  # ${Logical.Attribute} in a Fn::Sub
            return self.get_att(*name.split(".", 1))
        raise TemplateError(f"Ref {name} is not a parameter with a value")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """Fn::GetAtt: the value given in `attributes`, else an offline stand-in for a role's RoleId."""
        key = f"{logical_id}.{attribute}"
        if key in self.attributes:
            return self.attributes[key]
        if attribute == "RoleId":
            return offline_role_id(logical_id)
        raise TemplateError(f"Fn::GetAtt {key} has no value offline")

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise TemplateError(f"condition {name} is not defined")
        return bool(self.resolve(self.conditions[name]))

    def resolve(self, value: Any) -> Any:
        """Evaluate intrinsics in a template fragment (long form: {"Ref": ...}, {"Fn::If": ...})."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key, arg)
        out = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def _function(self, key: str, arg: Any) -> Any:
        if key == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return _SUB.sub(
                lambda m: str(extra[m.group(1)] if m.group(1) in extra else self.ref(m.group(1))), text
            )
        if key == "Fn::GetAtt":
            logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return self.get_att(logical_id, attribute)
        if key == "Fn::If":
            name, yes, no = arg
            return self.resolve(yes if self.condition(name) else no)
        if key == "Fn::Equals":
            a, b = (self.resolve(v) for v in arg)
            return str(a) == str(b)
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::And":
            return all(self.resolve(v) for v in arg)
        if key == "Fn::Or":
            return any(self.resolve(v) for v in arg)
        if key == "Fn::Join":
            sep, items = arg
            return sep.join(str(v) for v in self.resolve(items))
        if key == "Fn::Split":
            sep, text = arg
            return str(self.resolve(text)).split(sep)
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        raise TemplateError(f"{key} cannot be evaluated offline")


def offline_role_id(logical_id: str) -> str:
    """A stand-in for the RoleId CloudFormation gives a role ("AROA" and 17 characters), the same on every run,
    so the rules, the functions' environment and the samples of Leash's own sessions agree offline."""
    return "AROA" + hashlib.sha256(logical_id.encode()).hexdigest()[:17].upper()


# --- deploy parameters, checked as CloudFormation checks them before it changes anything ----------


def _rule_function(deployment: Deployment, key: str, arg: Any) -> Any:
    """The Rules-only intrinsics (AWS::CloudFormation Rules): Fn::Contains, Fn::EachMemberEquals, Fn::EachMemberIn."""
    if key == "Fn::Contains":
        items, value = (deployment.resolve(v) for v in arg)
        return value in items
    if key == "Fn::EachMemberEquals":
        items, value = (deployment.resolve(v) for v in arg)
        return all(item == value for item in items)
    if key == "Fn::EachMemberIn":
        items, allowed = (deployment.resolve(v) for v in arg)
        return all(item in allowed for item in items)
    raise TemplateError(f"{key} cannot be evaluated offline")


def _assert(deployment: Deployment, expression: Any) -> bool:
    if isinstance(expression, Mapping) and len(expression) == 1:
        ((key, arg),) = expression.items()
        if key in ("Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn"):
            return bool(_rule_function(deployment, key, arg))
        if key in ("Fn::And", "Fn::Or"):
            results = [_assert(deployment, a) for a in arg]
            return all(results) if key == "Fn::And" else any(results)
        if key == "Fn::Not":
            return not _assert(deployment, arg[0])
    return bool(deployment.resolve(expression))


def parameter_problems(template: Mapping[str, Any], values: Mapping[str, str]) -> list[str]:
    """What CloudFormation would refuse in these parameter values, in its words, before any change.

    Unknown names, AllowedValues, AllowedPattern (ConstraintDescription when the template gives one),
    MinValue/MaxValue/MinLength/MaxLength, Number types, then the template's Rules assertions.
    """
    specs: Mapping[str, Any] = template.get("Parameters", {})
    problems = [f"Parameter {name} does not exist in the template (known: {', '.join(sorted(specs))})"
                for name in values if name not in specs]  # fmt: skip
    for name, spec in specs.items():
        if name not in values:
            continue
        value = str(values[name])
        kind = spec.get("Type", "String")
        items = [v.strip() for v in value.split(",")] if kind == "CommaDelimitedList" else [value]
        because = spec.get("ConstraintDescription")
        for item in items:
            if "AllowedValues" in spec and item not in [str(v) for v in spec["AllowedValues"]]:
                problems.append(f"Parameter {name}={item!r} must be one of "
                                f"{', '.join(repr(str(v)) for v in spec['AllowedValues'])}")  # fmt: skip
            if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], item):
                problems.append(
                    f"Parameter {name}={item!r} " + (because or f"must match {spec['AllowedPattern']}")
                )
            if kind == "Number":
                try:
                    number = float(item)
                except ValueError:
                    problems.append(f"Parameter {name}={item!r} must be a number")
                    continue
                if "MinValue" in spec and number < float(spec["MinValue"]):
                    problems.append(f"Parameter {name}={item!r} must be at least {spec['MinValue']}")
                if "MaxValue" in spec and number > float(spec["MaxValue"]):
                    problems.append(f"Parameter {name}={item!r} must be at most {spec['MaxValue']}")
            if "MinLength" in spec and len(item) < int(spec["MinLength"]):
                problems.append(f"Parameter {name}={item!r} must be at least {spec['MinLength']} characters")
            if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
                problems.append(f"Parameter {name}={item!r} must be at most {spec['MaxLength']} characters")
    if problems:
        return problems
    deployment = Deployment(parameters=_typed(specs, values), conditions=template.get("Conditions", {}))
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not _assert(deployment, rule["RuleCondition"]):
            continue
        for assertion in rule.get("Assertions", []):
            if not _assert(deployment, assertion["Assert"]):
                problems.append(
                    " ".join(str(assertion.get("AssertDescription", "a Rules assertion failed")).split())
                )
    return problems


def _typed(specs: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """Every parameter's value (the given one, else its default) as Ref returns it: lists for CommaDelimitedList."""
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        value = values.get(name, spec.get("Default"))
        if value is None:
            continue
        if spec.get("Type") == "CommaDelimitedList":
            out[name] = [v.strip() for v in str(value).split(",")]
        else:
            out[name] = str(value)
    return out


def ordered_pair_pattern(digits: int = 6) -> str:
    """An AllowedPattern for "warning,critical" with 0 < warning <= critical < 10**digits.

    CloudFormation's Rules cannot compare two numbers, but its patterns (Java regular expressions)
    have backreferences: critical has more digits than warning; or both are equal; or they share a
    prefix, then warning has the smaller digit, then tails of the same length.
    """
    alternatives = [f"[1-9][0-9]{{{w - 1}}},[1-9][0-9]{{{w},{digits - 1}}}" for w in range(1, digits)]
    alternatives.append(f"([1-9][0-9]{{0,{digits - 1}}}),\\1")
    group = 1
    for tail in range(digits):
        rest = f"[0-9]{{{tail}}}" if tail else ""
        for smaller in range(9):
            larger = f"[{smaller + 1}-9]"
            if digits - 1 - tail >= 1:  # room for a shared prefix
                group += 1
                prefix = f"([1-9][0-9]{{0,{digits - 2 - tail}}})"
                alternatives.append(f"{prefix}{smaller}{rest},\\{group}{larger}{rest}")
            if smaller:
                alternatives.append(f"{smaller}{rest},{larger}{rest}")
    return "^(?:" + "|".join(alternatives) + ")$"


# --- offline stand-ins for what CloudFormation names: the rules, the demo and the tests agree on them ------

# The property that names a resource explicitly, by type (else CloudFormation makes <stack>-<logical>-<suffix>).
_NAME_PROPERTY = {
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Serverless::StateMachine": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
}
# SAM event sources and the resource each becomes, named <owner><event> (SAM's generated logical IDs).
_SAM_EVENTS = {"EventBridgeRule": "AWS::Events::Rule", "SQS": "AWS::Lambda::EventSourceMapping"}


def _suffix(logical_id: str, length: int = 12) -> str:
    return hashlib.sha256(logical_id.encode()).hexdigest()[:length].upper()


def deployed_resources(template: Mapping[str, Any]) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """Every resource the stack will hold, as (type, properties) by logical ID: the template's own and the
    ones SAM generates from a function's or state machine's events (the rules, the SQS event source mappings)."""
    out: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        kind, props = resource.get("Type", ""), resource.get("Properties") or {}
        out[logical_id] = (kind, props)
        if kind in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            for event, source in (props.get("Events") or {}).items():
                generated = _SAM_EVENTS.get(source.get("Type"))
                if generated:
                    out[f"{logical_id}{event}"] = (generated, source.get("Properties") or {})
    return out


def offline_resources(
    template: Mapping[str, Any], deployment: Deployment
) -> tuple[dict[str, str], dict[str, str]]:
    """What each resource's Ref and Fn::GetAtt (Arn, Name, QueueName, TopicName) return offline: explicit names
    resolved, generated ones shaped as CloudFormation makes them (<stack>-<logical>-<suffix>), ARNs and URLs
    built from them. (Ref, GetAtt "Logical.Attribute") mappings, for Deployment.resources / .attributes."""
    p, r, a, stack = deployment.partition, deployment.region, deployment.account, deployment.stack_name
    resources = deployed_resources(template)
    names = {lid: f"{stack}-{lid}-{_suffix(lid)}"[:64] for lid in resources}
    draft = replace(deployment, resources={**names, **deployment.resources})
    for lid, (kind, props) in resources.items():
        prop = _NAME_PROPERTY.get(kind)
        if prop and prop in props:
            try:
                names[lid] = str(draft.resolve(props[prop]))
            except TemplateError:
                pass  # named after something that has no offline value: keep the generated shape
    named = replace(deployment, resources={**names, **deployment.resources})
    refs: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for lid, (kind, props) in resources.items():
        name = names[lid]
        arn = {
            "AWS::Serverless::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
            "AWS::SNS::Topic": f"arn:{p}:sns:{r}:{a}:{name}",
            "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{name}",
            "AWS::DynamoDB::Table": f"arn:{p}:dynamodb:{r}:{a}:table/{name}",
            "AWS::Serverless::StateMachine": f"arn:{p}:states:{r}:{a}:stateMachine:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:{p}:states:{r}:{a}:stateMachine:{name}",
            "AWS::CloudWatch::Alarm": f"arn:{p}:cloudwatch:{r}:{a}:alarm:{name}",
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{name}:*",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
            "AWS::Events::EventBus": f"arn:{p}:events:{r}:{a}:event-bus/{name}",
            "AWS::Events::Rule": f"arn:{p}:events:{r}:{a}:rule/{name}",
        }.get(kind)
        key_id = "{}-{}-{}-{}-{}".format(
            *(_suffix(lid, 32).lower()[i:j] for i, j in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32)))
        )
        if kind == "AWS::KMS::Key":
            refs[lid], arn = key_id, f"arn:{p}:kms:{r}:{a}:key/{key_id}"
        elif kind in ("AWS::SNS::Topic", "AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            refs[lid] = arn or name
        elif kind == "AWS::SQS::Queue":
            refs[lid] = f"https://sqs.{r}.amazonaws.com/{a}/{name}"
        elif kind == "AWS::Lambda::EventSourceMapping":
            refs[lid] = key_id
        elif kind == "AWS::Events::Rule" and props.get("EventBusName"):
            bus = named.resolve(
                props["EventBusName"]
            )  # a rule on a custom bus: CloudFormation says "bus|name"
            refs[lid] = f"{bus}|{name}"
        else:
            refs[lid] = name
        if arn:
            attributes[f"{lid}.Arn"] = arn
        for attribute in ("Name", "QueueName", "TopicName"):
            attributes[f"{lid}.{attribute}"] = name
    return refs, attributes
