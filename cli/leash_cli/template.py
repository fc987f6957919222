"""Read Leash's template.yaml and route events by its EventBridge rules, offline."""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from leash import routing
from leash.itself import LeashResources
from leash.routing import RoutedRule
from leash_build.cfn import SLACK_SECRETS, Deployment, deployed_resources, offline_resources
from leash_build.cfn import CfnLoader as _CfnLoader


def app_root() -> Path:
    """Where template.yaml and the code it deploys are: this checkout, or the copy a wheel ships (setup.py)."""
    here = Path(__file__).resolve().parent
    for root in (here.parent.parent, here / "app"):
        if (root / "template.yaml").is_file():
            return root
    raise FileNotFoundError(
        f"Leash's template.yaml is neither in a checkout around {here} nor shipped in {here / 'app'}: "
        "reinstall the leash package"
    )


APP_ROOT = app_root()
TEMPLATE = APP_ROOT / "template.yaml"


def load_template(path: Path | str = TEMPLATE) -> dict[str, Any]:
    """The template, parsed once per file version (the demo, replay and every test fixture read it).

    A deep copy each time: callers may change what they get without changing what the next one reads.
    """
    resolved = Path(path).resolve()
    return copy.deepcopy(_parsed(resolved, resolved.stat().st_mtime_ns))


@functools.lru_cache(maxsize=4)
def _parsed(path: Path, _version: int) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return dict(yaml.load(f, Loader=_CfnLoader))


def deployment_for(
    template: Mapping[str, Any],
    overrides: Mapping[str, str] | None = None,
    *,
    account: str = "111122223333",
    region: str = "us-east-1",
    stack_name: str = "leash",
) -> Deployment:
    """Parameter values as `sam deploy` would pass them: template defaults, then overrides."""
    parameters: dict[str, Any] = {}
    for name, spec in template.get("Parameters", {}).items():
        value = (overrides or {}).get(name, spec.get("Default"))
        if value is None:
            continue
        if spec.get("Type") == "CommaDelimitedList":
            value = [v.strip() for v in str(value).split(",")] if not isinstance(value, list) else value
        parameters[name] = value
    deployment = Deployment(
        parameters=parameters,
        account=account,
        region=region,
        stack_name=stack_name,
        conditions=template.get("Conditions", {}),
    )
    # Resources' Refs and ARNs as CloudFormation would make them (the tamper rules name Leash's resources).
    refs, attributes = offline_resources(template, deployment)
    return replace(deployment, resources=refs, attributes=attributes)


def leash_resources(template: Mapping[str, Any], deployment: Deployment) -> LeashResources:
    """Leash's own resources for this deployment, offline: what ListStackResources would list (the demo,
    replay and the tests judge tampering by it, as the handlers do by the stack's real list)."""
    found = [
        (logical_id, kind, str(deployment.resources.get(logical_id, "")))
        for logical_id, (kind, _) in deployed_resources(template).items()
    ]
    secrets = [deployment.resolve({"Ref": p}) for p in SLACK_SECRETS]
    return LeashResources.build(
        found,
        stack_name=deployment.stack_name,
        role_prefix=f"{deployment.resolve({'Ref': 'ResourcePrefix'})}-",
        secrets=[str(s) for s in secrets if s],
    )


def function_environment(
    template: Mapping[str, Any],
    functions: list[str],
    overrides: Mapping[str, str] | None = None,
    resources: Mapping[str, str] | None = None,
    **deployment: Any,
) -> dict[str, str]:
    """The environment template.yaml gives these functions (Globals, then each function's own, in order).

    `resources` names what a resource's Ref returns (a table name, a bus name); other resources resolve
    to their logical ID, for callers that set those variables themselves.
    """
    refs = {logical_id: logical_id for logical_id in template.get("Resources", {})}
    resolver = replace(
        deployment_for(template, overrides, **deployment), resources={**refs, **(resources or {})}
    )
    variables = dict(
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    for function in functions:
        props = template["Resources"][function]["Properties"]
        variables.update(props.get("Environment", {}).get("Variables", {}))
    return {key: str(value) for key, value in resolver.resolve(variables).items()}


def eventbridge_rules(template: Mapping[str, Any], deployment: Deployment) -> list[RoutedRule]:
    """Every EventBridge rule of the template that CloudTrail events can reach, resolved for this deployment,
    with its target (a state machine's rules listen on Leash's own bus, for Leash's own requests)."""
    return [
        RoutedRule(rule.name, rule.target, deployment.resolve(rule.pattern))
        for rule in _rule_specs(template)
        if rule.owner != "AWS::Serverless::StateMachine"
    ]


@dataclass(frozen=True)
class _RuleSpec:
    name: str
    target: str  # logical ID of the function, queue or state machine
    owner: str  # the resource type that declares the rule
    pattern: Mapping[str, Any]
    properties: Mapping[str, Any]  # the rule's own (AWS::Events::Rule or a SAM event's Properties)


def _rule_specs(template: Mapping[str, Any]) -> Iterator[_RuleSpec]:
    """The template's EventBridge rules as written: AWS::Events::Rule resources (one per target) and the
    EventBridgeRule events of SAM functions and state machines, in the template's order."""
    for logical_id, resource in template.get("Resources", {}).items():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        if kind == "AWS::Events::Rule" and "EventPattern" in props:
            for target in props.get("Targets", []):
                arn = target.get("Arn", {})
                destination = (  # a logical ID: GetAtt's resource, or a Ref's (the alerts topic)
                    arn["Fn::GetAtt"][0]
                    if isinstance(arn, dict) and "Fn::GetAtt" in arn
                    else str(arn["Ref"])
                    if isinstance(arn, dict) and "Ref" in arn
                    else str(arn)
                )
                yield _RuleSpec(logical_id, destination, kind, props["EventPattern"], props)
        elif kind in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            for name, source in (props.get("Events") or {}).items():
                if source.get("Type") == "EventBridgeRule":
                    spec = source["Properties"]
                    yield _RuleSpec(name, logical_id, kind, spec["Pattern"], spec)


class Router(routing.Router):
    """Which rules of template.yaml an event matches: what EventBridge would do with it."""

    @classmethod
    def from_template(
        cls, path: Path | str = TEMPLATE, overrides: Mapping[str, str] | None = None, **kw: Any
    ) -> Router:
        template = load_template(path)
        return cls(eventbridge_rules(template, deployment_for(template, overrides, **kw)))


@dataclass(frozen=True)
class RuleInfo:
    """One EventBridge rule of template.yaml, for people: what it watches and where it sends it."""

    name: str
    target: str  # logical ID of the function, queue or state machine
    bus: str  # "default", or the logical ID of the bus
    description: str


def template_rules(template: Mapping[str, Any]) -> list[RuleInfo]:
    """Every EventBridge rule the template deploys (the generated ones described by their catalog)."""
    from leash_build.patterns import notify_rules, reapply_rules, spike_rules

    generated = {r.name: r.description for r in (*notify_rules(), *reapply_rules(), *spike_rules())}
    return [
        RuleInfo(
            rule.name,
            rule.target,
            _bus(rule.properties.get("EventBusName")),
            rule.properties.get("Description") or generated.get(rule.name) or _about(rule.pattern),
        )
        for rule in _rule_specs(template)
    ]


def _bus(name: Any) -> str:
    if isinstance(name, Mapping) and "Ref" in name:
        return str(name["Ref"])
    return str(name or "default")


def _about(pattern: Mapping[str, Any]) -> str:
    """A hand-written rule's pattern in words: its detail-types and sources."""
    kinds = ", ".join(map(str, pattern.get("detail-type", []))) or "events"
    sources = ", ".join(map(str, pattern.get("source", []))) or "any source"
    return f"{kinds} from {sources}"
