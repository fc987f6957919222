"""Just enough of CloudFormation's intrinsic functions to read Leash's own template offline.

Used to resolve the EventBridge patterns of template.yaml with deploy parameters, so the
demo, replay and tests route events by exactly what `sam deploy` would create.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


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
        raise TemplateError(f"Ref {name} is not a parameter with a value")

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
