"""EventBridge rules generated from the catalog.

`python -m leash_build.patterns --write template.yaml` (or `make patterns`) rewrites the block
between the GENERATED markers in template.yaml; tests/unit/test_template.py fails when the
template and the catalog drift apart. Patterns are written with CloudFormation intrinsics
in long form ({"Ref": ...}, {"Fn::Sub": ...}) so they follow the deploy parameters.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from leash.agents import AGENT_SIGNALS
from leash.catalog import CATALOG, CatalogAction
from leash.events import CONSOLE_LOGIN, SIGN_IN_SOURCE
from leash.model import CLOUDTRAIL_DETAIL_TYPE, CONSOLE_SIGN_IN_DETAIL_TYPES, DENIED_CODES, FAMILIES
from leash_build.cfn import Deployment
from leash_build.docs import markdown

# EventBridge's default quota for one event pattern; patterns are packed to stay well under it.
MAX_PATTERN_CHARS = 2048
_PACK_LIMIT = 1800

BEGIN_MARKER = (
    "# BEGIN GENERATED RULES for {function} (make patterns) - edit leash/catalog.py, not this block"
)
END_MARKER = "# END GENERATED RULES for {function}"

SUCCEEDED = [{"exists": False}]  # failed calls changed nothing; denials are the spike detector's business


def _template_path() -> Path:
    """This checkout's template.yaml, or the copy the wheel ships next to the CLI (setup.py)."""
    here = Path(__file__).resolve().parent
    for candidate in (
        here.parent.parent / "template.yaml",
        here.parent / "leash_cli" / "app" / "template.yaml",
    ):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no template.yaml around {here}")


_ROLE = re.compile(r"^  ([A-Za-z0-9]+):\n    Type: AWS::IAM::Role\b", re.MULTILINE)


def leash_roles(template_text: str | None = None) -> list[str]:
    """The logical IDs of every AWS::IAM::Role in template.yaml: Leash's own principals, in one place.

    A role someone adds to the template is Leash as soon as `make patterns` runs: the rules' exclusion,
    the functions' LEASH_ROLE_IDS, the bus policy and the lockdown workflow's refusal all read this list.
    """
    text = template_text if template_text is not None else _template_path().read_text()
    return _ROLE.findall(text)


LEASH_ROLES = leash_roles()


def leash_role_conditions(template_text: str | None = None) -> dict[str, str]:
    """The roles deployed only under a condition (InteractionsRole: HasSlackInteractivity), by logical ID."""
    text = template_text if template_text is not None else _template_path().read_text()
    found = re.finditer(
        r"^  ([A-Za-z0-9]+):\n    Type: AWS::IAM::Role\n    Condition: (\w+)$", text, re.MULTILINE
    )
    return {m.group(1): m.group(2) for m in found}


_CONDITIONS = leash_role_conditions()


def _if_deployed(role: str, value: Any) -> Any:
    """A value about a role, left out where the role is not deployed (GetAtt of it would fail)."""
    condition = _CONDITIONS.get(role)
    return {"Fn::If": [condition, value, {"Ref": "AWS::NoValue"}]} if condition else value


def leash_role_names(template_text: str | None = None) -> list[str]:
    """Each role's RoleName as its Fn::Sub writes it (tests/unit/test_template.py: every role names itself),
    for what must not depend on the roles themselves (a role's own policy naming it would be a cycle)."""
    text = template_text if template_text is not None else _template_path().read_text()
    names = []
    for role in leash_roles(text):
        block = text[text.index(f"\n  {role}:\n") :]
        found = re.search(r"^      RoleName: !Sub (\S+)$", block, re.MULTILINE)
        if not found:
            raise ValueError(f"{role} has no `RoleName: !Sub ...` in template.yaml")
        names.append(found.group(1).strip("\"'"))
    return names


def identity_blocks() -> dict[str, Any]:
    """The template's hand-written resources that must know Leash's roles exactly, as generated blocks."""
    role_arns = [
        {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{n}"} for n in leash_role_names()
    ]
    return {
        "LeashRoleIds": {
            "LEASH_ROLE_IDS": {
                "Fn::Join": [",", [_if_deployed(r, {"Fn::GetAtt": [r, "RoleId"]}) for r in LEASH_ROLES]]
            }
        },
        "LeashEventBusPolicy": {"StringNotLike": {"aws:userid": leash_session_wildcards()}},
        "LeashRoleArns": {"Resource": role_arns},
        "LeashRoleNames": {"LeashRoleNames": {"Fn::Sub": ",".join(leash_role_names())}},
    }


def leash_session_wildcards(roles: Iterable[str] = LEASH_ROLES) -> list[dict[str, str]]:
    """`principalId` of a session of each of Leash's roles ("AROA...:session"), by the role's ID, which a
    role deleted and created again under the same name does not keep."""
    return [_if_deployed(role, {"Fn::Sub": f"${{{role}.RoleId}}:*"}) for role in roles]


# Leash's own sessions, by role ID (as classify_actor reads them); any account's forwarded events alike.
NOT_LEASH = {"anything-but": {"wildcard": leash_session_wildcards()}}
# `userIdentity` of every caller but Leash's own sessions and AWS services. `anything-but` never matches
# a missing field, so the identities that have no principalId come in by `exists: false`, and AWS
# services stay out by their type (as does AWS acting on its own, whose identity has no type at all).
ANYONE = {"principalId": [NOT_LEASH, {"exists": False}], "type": [{"anything-but": ["AWSService"]}]}


def agent_clauses() -> list[Any]:
    """The agent signals of leash.agents as the `$or` of the agent rules, each behind its parameter's
    `Has<Parameter>` condition; the Usage=Agent tag is looked up by the handler."""
    return [
        signal.template_clause()
        if not signal.parameter
        else {"Fn::If": [f"Has{signal.parameter}", signal.template_clause(), {"Ref": "AWS::NoValue"}]}
        for signal in AGENT_SIGNALS
    ]


@dataclass(frozen=True)
class Rule:
    """One EventBridge rule: its logical name in template.yaml, what it is for, and its pattern."""

    name: str
    description: str
    pattern: dict[str, Any]


def routing_forms(action: CatalogAction) -> list[dict[str, Any]]:
    """The requestParameters sub-patterns that route a call; a top-level $or becomes separate forms."""
    form = action.route_when or action.only_when
    if not form:
        return []
    if set(form) == {"$or"}:
        return [dict(f) for f in form["$or"]]
    return [dict(form)]


def _call_clauses(actions: Iterable[CatalogAction]) -> list[dict[str, Any]]:
    """Group actions by service into `{eventSource, eventName[, requestParameters]}` clauses."""
    plain: dict[str, list[str]] = {}
    clauses: list[dict[str, Any]] = []
    for a in actions:
        forms = routing_forms(a)
        for form in forms:
            clauses.append(
                {"eventSource": [a.event_source], "eventName": [a.name], "requestParameters": form}
            )
        if not forms:
            plain.setdefault(a.event_source, []).append(a.name)
    plain_clauses = [{"eventSource": [src], "eventName": sorted(set(names))} for src, names in plain.items()]
    return plain_clauses + clauses


def _pattern(sources: Iterable[str], detail: dict[str, Any], clauses: list[dict[str, Any]]) -> dict[str, Any]:
    detail = dict(detail)
    if len(clauses) == 1:
        detail.update(clauses[0])
    else:
        detail["$or"] = clauses
    return {
        "source": sorted({f"aws.{s}" for s in sources}),
        "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
        "detail": detail,
    }


def pattern_size(pattern: Mapping[str, Any], deployment: Deployment | None = None) -> int:
    """Characters of the pattern as EventBridge receives it, with realistic parameter values."""
    deployment = deployment or _SIZING
    return len(json.dumps(deployment.resolve(pattern), separators=(",", ":")))


def _units(detail: dict[str, Any], members: list[CatalogAction]) -> list[list[CatalogAction]]:
    """The actions of a family in packing units: one per service, or one per call where a service alone
    would outgrow the quota."""
    units: list[list[CatalogAction]] = []
    for service in dict.fromkeys(a.service for a in members):
        group = [a for a in members if a.service == service]
        if pattern_size(_pattern({service}, detail, _call_clauses(group))) > _PACK_LIMIT:
            units.extend([a] for a in group)
        else:
            units.append(group)
    return units


def _packed(
    prefix: str, description: str, detail: dict[str, Any], actions: list[CatalogAction]
) -> list[Rule]:
    """One rule per family, split into numbered parts when a pattern would outgrow the quota."""
    by_family: dict[str, list[CatalogAction]] = {}
    for a in actions:
        by_family.setdefault(FAMILIES[a.service], []).append(a)
    rules: list[Rule] = []
    for family, members in by_family.items():
        parts: list[list[CatalogAction]] = [[]]
        for group in _units(detail, members):
            trial = parts[-1] + group
            pattern = _pattern({a.service for a in trial}, detail, _call_clauses(trial))
            if parts[-1] and pattern_size(pattern) > _PACK_LIMIT:
                parts.append(group)
            else:
                parts[-1] = trial
        for i, part in enumerate(parts, start=1):
            suffix = "" if len(parts) == 1 else str(i)
            services = ", ".join(dict.fromkeys(a.service for a in part))
            rules.append(
                Rule(
                    f"{prefix}{family}{suffix}",
                    f"{description} ({services})",
                    _pattern({a.service for a in part}, detail, _call_clauses(part)),
                )
            )
    return rules


def _rules(prefix: str, agent_prefix: str, purpose: str, actions: list[CatalogAction]) -> list[Rule]:
    """Rules for anyone's calls (packed per family) and for agents' calls (agent signals as the $or)."""
    everyone = [a for a in actions if not a.routed_for_agents_only]
    agents = [a for a in actions if a.routed_for_agents_only]
    rules = _packed(
        prefix,
        f"Leash: {purpose} by anyone but Leash and AWS services",
        {"errorCode": SUCCEEDED, "userIdentity": ANYONE},
        everyone,
    )
    # A pattern has one $or per level and the agent signals take it, so each service (and each
    # conditional form) gets its own rule with a plain eventName list.
    for family in dict.fromkeys(FAMILIES[a.service] for a in agents):
        members = [a for a in agents if FAMILIES[a.service] == family]
        for service in dict.fromkeys(a.service for a in members if not routing_forms(a)):
            names = sorted({a.name for a in members if a.service == service and not routing_forms(a)})
            rules.append(
                Rule(
                    f"{agent_prefix}{family}{''.join(w.capitalize() for w in service.split('-'))}",
                    f"Leash: {purpose} - {service} calls by agent identities",
                    {
                        "source": [f"aws.{service}"],
                        "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
                        "detail": {
                            "eventSource": [f"{service}.amazonaws.com"],
                            "eventName": names,
                            "errorCode": SUCCEEDED,
                            "$or": agent_clauses(),
                        },
                    },
                )
            )
        for a in members:
            forms = routing_forms(a)
            for i, form in enumerate(forms, start=1):
                suffix = str(i) if len(forms) > 1 else ""
                rules.append(
                    Rule(
                        f"{agent_prefix}{family}{a.name}{suffix}",
                        f"Leash: {purpose} - {a.action} by agent identities, only in the form {json.dumps(form)}",
                        {
                            "source": [f"aws.{a.service}"],
                            "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
                            "detail": {
                                "eventSource": [a.event_source],
                                "eventName": [a.name],
                                "requestParameters": form,
                                "errorCode": SUCCEEDED,
                                "$or": agent_clauses(),
                            },
                        },
                    )
                )
    return rules


def notify_rules() -> list[Rule]:
    """Rules that route to the notify function: every catalog call no protection owns, and root activity."""
    rules = _rules(
        "Destructive",
        "AgentSensitive",
        "destructive and sensitive calls",
        [a for a in CATALOG if not a.protection],
    )
    rules.append(
        Rule(
            "RootActivity",
            "Leash: any successful API call by the root user",
            {
                "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
                "detail": {"userIdentity": {"type": ["Root"]}, "errorCode": SUCCEEDED},
            },
        )
    )
    rules.append(console_sign_in_rule())
    return rules


def console_sign_in_rule() -> Rule:
    """Console sign-ins are no API calls: EventBridge gives them their own detail-type, which the rules
    above never match. Root's go to the handler whatever the outcome (a failed one has no errorCode), and
    everyone else's successful ones, so that the handler can read an agent role's Usage=Agent tag (sign-ins
    are few: a person's, a day)."""
    return Rule(
        "ConsoleSignIn",
        "Leash: console sign-ins by the root user (failed ones too) and successful ones by anyone else",
        {
            "source": ["aws.signin"],
            "detail-type": list(CONSOLE_SIGN_IN_DETAIL_TYPES),
            "detail": {
                "eventSource": [SIGN_IN_SOURCE],
                "eventName": [CONSOLE_LOGIN],
                "$or": [
                    {"userIdentity": {"type": ["Root"]}},
                    {"responseElements": {CONSOLE_LOGIN: ["Success"]}},
                ],
            },
        },
    )


def reapply_rules() -> list[Rule]:
    """Rules that route to the reapply function: only the forms of calls that strip a protection."""
    return _rules(
        "Reapply", "ReapplyAgent", "calls that strip a protection", [a for a in CATALOG if a.protection]
    )


def spike_rules() -> list[Rule]:
    """Rules that feed the spike detector's queue; they see reads too (most probing is Get/List/Describe)."""
    denied = [*DENIED_CODES, {"wildcard": "*AccessDenied*"}, {"wildcard": "*Unauthorized*"}]
    return [
        Rule(
            "DeniedCallsRule",
            "Leash: denied calls by anyone but Leash and AWS services (reads included)",
            {
                "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
                "detail": {"errorCode": denied, "userIdentity": ANYONE},
            },
        ),
        Rule(
            "AgentCallsRule",
            "Leash: every call by an agent identity (reads included), for call-volume spikes",
            {"detail-type": [CLOUDTRAIL_DETAIL_TYPE], "detail": {"$or": agent_clauses()}},
        ),
    ]


RULES_BY_FUNCTION = {"NotifyFunction": notify_rules, "ReapplyFunction": reapply_rules}
RULES_BY_QUEUE = {"SpikeQueue": spike_rules}
GENERATED = [*RULES_BY_FUNCTION, *RULES_BY_QUEUE]


# Sizing assumes long-but-legal values, so a real deployment never exceeds the quota.
_SIZING = Deployment(
    parameters={
        "ResourcePrefix": "leash-security-prod",
        "AgentRoleNames": ["ai-agent-deploy-role-long-name"] * 4,
        "AgentRoleNamePrefix": "ai-agent-role-prefix-",
        "AgentSessionNamePrefix": "agent-session-prefix-",
        "AgentSourceIdentityPrefix": "agent-source-identity-",
        "AgentUserNames": ["ai-agent-user-with-a-long-name"] * 4,
        "AgentUserNamePrefix": "ai-agent-user-prefix-",
        "GuardrailPolicyArns": ["arn:aws-us-gov:iam::123456789012:policy/agent-guardrail-deny-long-name"] * 3,
        "AgentPermissionsBoundaryArn": "arn:aws-us-gov:iam::123456789012:policy/agent-permissions-boundary",
    },
    partition="aws-us-gov",
    conditions=dict.fromkeys(
        [*(f"Has{s.parameter}" for s in AGENT_SIGNALS if s.parameter), *_CONDITIONS.values()], True
    ),
)


def rule_resources(queue: str, rules: Iterable[Rule]) -> dict[str, Any]:
    """AWS::Events::Rule resources that deliver to an SQS queue, matching reads as well as writes."""
    return {
        rule.name: {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": rule.description,
                "State": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
                "EventPattern": rule.pattern,
                "Targets": [
                    {
                        "Id": queue,
                        "Arn": {"Fn::GetAtt": [queue, "Arn"]},
                        "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
                        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["UndeliveredEventsQueue", "Arn"]}},
                    }
                ],
            },
        }
        for rule in rules
    }


def sam_events(rules: Iterable[Rule]) -> dict[str, Any]:
    """The `Events:` mapping of the notify function in template.yaml."""
    return {
        rule.name: {
            "Type": "EventBridgeRule",
            "Properties": {
                "Pattern": rule.pattern,
                "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
                "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["UndeliveredEventsQueue", "Arn"]}},
            },
        }
        for rule in rules
    }


def render_block(function: str, indent: int = 8) -> str:
    """The generated YAML block for one function's Events (or one queue's rule resources), markers included."""

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:  # no &id001 anchors in a hand-read template
            return True

    def represent_list(dumper: yaml.SafeDumper, items: list[Any]) -> Any:
        flow = all(not isinstance(i, dict | list) for i in items)  # ["a", "b"] on one line
        return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)

    Dumper.add_representer(list, represent_list)
    if function in RULES_BY_FUNCTION:
        content = sam_events(RULES_BY_FUNCTION[function]())
    elif function in RULES_BY_QUEUE:
        content = rule_resources(function, RULES_BY_QUEUE[function]())
    else:
        content = identity_blocks()[function]
    body = yaml.dump(content, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=110)
    pad = " " * indent
    begin, end = BEGIN_MARKER.format(function=function), END_MARKER.format(function=function)
    lines = [pad + begin] + [pad + line for line in body.rstrip("\n").split("\n")] + [pad + end]
    return "\n".join(lines)


def rewrite_template(text: str) -> str:
    """template.yaml with each function's generated block replaced by the current catalog's rules, and each
    place that names Leash's roles with the template's current roles (a block may appear more than once)."""
    for function in GENERATED:
        text, _ = _rewrite_block(text, function, 0)
    for block in identity_blocks():
        start = 0
        while BEGIN_MARKER.format(function=block) in text[start:]:
            text, start = _rewrite_block(text, block, start)
    return text


def _rewrite_block(text: str, function: str, offset: int) -> tuple[str, int]:
    """The text with the first block of this name after `offset` rewritten, and where that block ends."""
    begin = BEGIN_MARKER.format(function=function)
    start = text.index(begin, offset)
    line_start = text.rindex("\n", 0, start) + 1
    end_marker = END_MARKER.format(function=function)
    end = text.index(end_marker, start) + len(end_marker)
    block = render_block(function, start - line_start)
    return text[:line_start] + block + text[end:], line_start + len(block)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the catalog's EventBridge rules into template.yaml.")
    parser.add_argument("--write", metavar="TEMPLATE", help="rewrite the generated block of this template")
    parser.add_argument("--check", metavar="TEMPLATE", help="exit 1 when the template's block is out of date")
    parser.add_argument("--docs", metavar="MARKDOWN", help="write the catalog's table (docs/catalog.md)")
    args = parser.parse_args(argv)
    if args.docs:
        Path(args.docs).write_text(markdown())
        print(f"{args.docs}: wrote {len(CATALOG)} actions")
        return 0
    target = args.write or args.check
    if not target:
        for function in GENERATED:
            print(render_block(function))
        return 0
    from leash_build import forwarders  # it builds on this module's rules

    path = Path(target)
    current = path.read_text()
    wanted, body = forwarders.generate(rewrite_template(current))
    forwarders_path = path.parent / forwarders.FORWARDERS.name
    if args.check:
        stale = [
            p
            for p, text in ((path, wanted), (forwarders_path, body))
            if not p.is_file() or p.read_text() != text
        ]
        for p in stale:
            print(f"{p}: generated rules are out of date; run `make patterns`")
        return 1 if stale else 0
    path.write_text(wanted)
    forwarders_path.write_text(body)
    count = sum(len(rules()) for rules in (*RULES_BY_FUNCTION.values(), *RULES_BY_QUEUE.values()))
    print(f"{path}: wrote {count} rules")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
