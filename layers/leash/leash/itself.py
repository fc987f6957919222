"""Leash's own resources, by their exact physical IDs: what a call must name to be tampering with Leash.

The handlers learn them once per container from cloudformation:ListStackResources of their own stack
(`from_stack_resources`); the tests, the demo and replay build the same set offline from template.yaml
(leash_cli.template.leash_resources). The EventBridge rules route by the same values, generated at deploy
time (leash_build.patterns); the rules may route a little wider (a bare secret name, a rule named like the
stack), never narrower: this set decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

# CloudFormation resource type -> the kind of Leash resource a catalog row names (CatalogAction.leash_kind).
KINDS: dict[str, str] = {
    "AWS::Lambda::Function": "function",
    "AWS::Serverless::Function": "function",
    "AWS::Lambda::EventSourceMapping": "event-source-mapping",
    "AWS::SNS::Topic": "topic",
    "AWS::SQS::Queue": "queue",
    "AWS::DynamoDB::Table": "table",
    "AWS::StepFunctions::StateMachine": "state-machine",
    "AWS::Serverless::StateMachine": "state-machine",
    "AWS::KMS::Key": "key",
    "AWS::CloudWatch::Alarm": "alarm",
    "AWS::Logs::LogGroup": "log-group",
    "AWS::Events::Rule": "rule",
    "AWS::Events::EventBus": "event-bus",
    "AWS::IAM::Role": "role",
}
RELEASE_WORKFLOW = "ReleaseStateMachine"  # logical ID: starting it by hand releases a locked-down principal


def short_name(kind: str, value: str) -> str:
    """The name a call's parameter gives a resource, whichever form it takes (name, ARN, URL, qualifier)."""
    value = value.strip()
    match kind:
        case "function":  # name, name:qualifier, ARN or partial ARN, with or without a qualifier
            return (
                value.split(":function:", 1)[1].split(":")[0]
                if ":function:" in value
                else value.split(":")[0]
            )
        case "topic":  # a topic ARN, or a subscription ARN (the topic ARN and ":<subscription id>")
            return value if value.count(":") <= 5 else value.rsplit(":", 1)[0]
        case "queue" | "table" | "key" | "rule":  # URL, ARN ending in /name, "bus|name" physical IDs
            return value.rsplit("/", 1)[-1].rsplit("|", 1)[-1]
        case (
            "state-machine" | "release-workflow"
        ):  # a state machine's ARN, or an execution's (...:execution:<machine>:<name>)
            for marker in (":stateMachine:", ":execution:", ":express:"):
                if marker in value:
                    return value.split(marker, 1)[1].split(":")[0]
            return value
        case "secret":  # name, or ARN whose name ends in "-" and six random characters
            if value.startswith("arn:") and ":secret:" in value:
                return value.split(":secret:", 1)[1][:-7]
            return value
        case "log-group":
            return value.split(":log-group:", 1)[1].split(":")[0] if ":log-group:" in value else value
        case "stack":  # name, or arn:...:stack/<name>/<id>
            return value.split(":stack/", 1)[1].split("/")[0] if ":stack/" in value else value
        case "stack-set":  # name, or name:<id>
            return value.split(":stackset/", 1)[-1].split(":")[0]
    return value


@dataclass(frozen=True)
class LeashResources:
    """The names of Leash's resources by kind, and the name prefixes that count as Leash's too."""

    names: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Forwarder rules in other regions (<stack>-forward-*), and a new role named like Leash's (<prefix>-*).
    prefixes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def owns(self, kind: str, values: Iterable[Any]) -> bool:
        """Whether any of these parameter values names one of Leash's resources of this kind."""
        known, prefixes = self.names.get(kind, frozenset()), self.prefixes.get(kind, ())
        for value in values:
            if not isinstance(value, str) or not value:
                continue
            name = short_name(kind, value)
            if name in known or (prefixes and name.startswith(prefixes)):
                return True
        return False

    @classmethod
    def build(
        cls,
        resources: Iterable[tuple[str, str, str]],
        *,
        stack_name: str,
        role_prefix: str = "",
        secrets: Iterable[str] = (),
    ) -> LeashResources:
        """From (logical ID, resource type, physical ID) of the stack's resources, plus what is not one of them:
        the stack itself, its forwarders' stack set and rules, the secrets it was given, the role-name prefix."""
        names: dict[str, set[str]] = {}
        for logical_id, kind_of, physical_id in resources:
            kind = KINDS.get(kind_of)
            if kind and physical_id:
                names.setdefault(kind, set()).add(short_name(kind, physical_id))
                if logical_id == RELEASE_WORKFLOW:
                    names.setdefault("release-workflow", set()).add(short_name("state-machine", physical_id))
        names["stack"] = {stack_name}
        names["stack-set"] = {f"{stack_name}-forwarders"}
        names["secret"] = {short_name("secret", s) for s in secrets if s}
        names["new-role"] = set(names.get("role", ()))
        prefixes = {"rule": (f"{stack_name}-forward-",)}
        if role_prefix:
            prefixes["new-role"] = (role_prefix,)
        return cls({k: frozenset(v) for k, v in names.items()}, prefixes)


def from_stack_resources(
    cloudformation: Any, stack_name: str, *, role_prefix: str = "", secrets: Iterable[str] = ()
) -> LeashResources:
    """Leash's resources as its stack lists them (cloudformation:ListStackResources, every page)."""
    found = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for summary in page.get("StackResourceSummaries", []):
            found.append(
                (summary["LogicalResourceId"], summary["ResourceType"], summary.get("PhysicalResourceId", ""))
            )
    return LeashResources.build(found, stack_name=stack_name, role_prefix=role_prefix, secrets=secrets)


class CachedLeashResources:
    """Looked up on first use and again after `max_age` seconds (a stack update may add a resource without
    touching the function), so a container asks CloudFormation a few times an hour at most."""

    def __init__(
        self, load: Callable[[], LeashResources], max_age: float = 900, clock: Callable[[], float] = monotonic
    ):
        self._load, self._max_age, self._clock = load, max_age, clock
        self._value: LeashResources | None = None
        self._loaded_at = 0.0

    def __call__(self) -> LeashResources:
        now = self._clock()
        if self._value is None or now - self._loaded_at > self._max_age:
            self._value, self._loaded_at = self._load(), now
        return self._value
