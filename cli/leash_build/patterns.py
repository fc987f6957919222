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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from leash.agents import AGENT_SIGNALS
from leash.catalog import CATALOG, CatalogAction
from leash.events import CONSOLE_LOGIN, SIGN_IN_SOURCE
from leash.model import CLOUDTRAIL_DETAIL_TYPE, CONSOLE_SIGN_IN_DETAIL_TYPES, DENIED_CODES, FAMILIES
from leash_build.cfn import SLACK_SECRETS, CfnLoader, Deployment, offline_resources
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


def template_resources(template_text: str | None = None) -> dict[str, tuple[str, str | None]]:
    """Every resource of template.yaml: (type, condition or None) by logical ID."""
    text = template_text if template_text is not None else _template_path().read_text()
    resources = yaml.load(text, Loader=CfnLoader)["Resources"]
    return {name: (r["Type"], r.get("Condition")) for name, r in resources.items()}


_RESOURCES = template_resources()


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
    """The requestParameters sub-patterns that route a call; a top-level $or becomes separate forms.
    A tampering row's forms also name Leash's own resources in the field the call names them by."""
    form = action.route_when or action.only_when
    forms = [] if not form else [dict(f) for f in form["$or"]] if set(form) == {"$or"} else [dict(form)]
    if not action.leash_kind:
        if action.protection and (action.service, action.name) in _ON_LEASH_ROLES:
            # An agent guardrail stripped from one of Leash's roles is tampering (the notify function's):
            # the reapply rules leave Leash's roles out, so that each call reaches one function.
            not_leash = [{"anything-but": leash_values("role")}]
            return [{**f, "roleName": not_leash} for f in forms or [{}]]
        return forms
    values = leash_values(action.leash_kind)
    if values is None:
        return forms
    return [{**f, action.resource[0]: values} for f in forms or [{}]]


_ON_LEASH_ROLES = {(a.service, a.name) for a in CATALOG if a.leash_kind == "role"}


def _deployed(logical_id: str, value: Any) -> Any:
    """A value that names a resource, left out where the resource is not deployed (its Ref would fail)."""
    condition = _RESOURCES.get(logical_id, ("", None))[1]
    return {"Fn::If": [condition, value, {"Ref": "AWS::NoValue"}]} if condition else value


def _of_type(*types: str) -> list[str]:
    return [lid for lid, (kind, _) in _RESOURCES.items() if kind in types]


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


_ARN_HEAD = "arn:${AWS::Partition}"
_HERE = "${AWS::Region}:${AWS::AccountId}"


def leash_values(kind: str) -> list[Any] | None:
    """How a call's parameter names Leash's resources of this kind, as an EventBridge value list built from
    template.yaml's resources at deploy time (None: route the call whatever it names, the handler decides).

    Exact names, ARNs and URLs by Ref and Fn::GetAtt, with the forms a caller may use (a function's name
    anywhere in the parameter, for its ARN and qualifiers; a subscription ARN under the topic's). Rules cannot be named in a rule's own pattern (a
    dependency loop): CloudFormation names them <stack>-<logical ID>-<suffix>, so they are routed by the
    stack's name as a prefix, as are the forwarder rules (<stack>-forward-*); the handler checks the exact
    names. A secret may be given by a bare name, which its ARN's random suffix keeps out of reach: those
    calls are routed whatever the name, and the handler decides.
    """
    functions = _of_type("AWS::Serverless::Function", "AWS::Lambda::Function")
    machines = _of_type("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
    values: dict[str, list[Any] | None] = {
        "rule": [
            {"prefix": _sub("${AWS::StackName}-")},
            {"wildcard": _sub(f"{_ARN_HEAD}:events:{_HERE}:rule/*${{AWS::StackName}}-*")},
        ],
        "event-bus": [{"Ref": b} for b in _of_type("AWS::Events::EventBus")],
        # A name, name:qualifier, or an ARN (full or partial, qualified or not): one wildcard per function holds
        # them all, and five functions' forms written out would outgrow a pattern.
        "function": [_deployed(f, {"wildcard": _sub(f"*${{{f}}}*")}) for f in functions],
        "event-source-mapping": None,
        "topic": [_deployed(t, {"Ref": t}) for t in _of_type("AWS::SNS::Topic")]
        + [_deployed(t, {"prefix": _sub(f"${{{t}}}:")}) for t in _of_type("AWS::SNS::Topic")],
        "queue": [_deployed(q, {"Ref": q}) for q in _of_type("AWS::SQS::Queue")],
        # A name or an ARN: one wildcard per table holds both (four tables' two forms outgrow a pattern).
        "table": [_deployed(t, {"wildcard": _sub(f"*${{{t}}}")}) for t in _of_type("AWS::DynamoDB::Table")],
        "state-machine": [_deployed(m, {"Ref": m}) for m in machines]
        + [
            _deployed(m, {"prefix": _sub(f"{_ARN_HEAD}:states:{_HERE}:execution:${{{m}.Name}}:")})
            for m in machines
        ],
        "release-workflow": [{"Ref": m} for m in machines if m == "ReleaseStateMachine"],
        "key": [v for k in _of_type("AWS::KMS::Key") for v in ({"Ref": k}, {"Fn::GetAtt": [k, "Arn"]})],
        # Leash has a score of alarms (one per function, queue and workflow): their exact names would outgrow a
        # pattern. CloudFormation names them <stack>-<logical ID>-<suffix>; the handler checks the exact names.
        "alarm": [{"prefix": _sub("${AWS::StackName}-")}],
        "secret": [
            *(
                {"Fn::If": [condition, {"Ref": p}, {"Ref": "AWS::NoValue"}]}
                for p, condition in SLACK_SECRETS.items()
            ),
            {"anything-but": {"prefix": "arn:"}},
        ],
        "log-group": [_deployed(g, {"Ref": g}) for g in _of_type("AWS::Logs::LogGroup")],
        "stack": [
            {"Ref": "AWS::StackName"},
            {"prefix": _sub(f"{_ARN_HEAD}:cloudformation:{_HERE}:stack/${{AWS::StackName}}/")},
        ],
        "stack-set": [
            _sub("${AWS::StackName}-forwarders"),
            {"prefix": _sub("${AWS::StackName}-forwarders:")},
        ],
        "role": [_sub(n) for n in leash_role_names()],
        "new-role": [{"prefix": _sub("${ResourcePrefix}-")}],
    }
    return values[kind]


def _call_clauses(actions: Iterable[CatalogAction]) -> list[dict[str, Any]]:
    """Group actions by service into `{eventSource, eventName[, requestParameters]}` clauses; calls of one
    service routed in the same form share a clause (the Lambda calls that name one of Leash's functions)."""
    plain: dict[str, list[str]] = {}
    formed: dict[tuple[str, str], tuple[dict[str, Any], list[str]]] = {}
    for a in actions:
        forms = routing_forms(a)
        for form in forms:
            key = (a.event_source, json.dumps(form, sort_keys=True))
            formed.setdefault(key, (form, []))[1].append(a.name)
        if not forms:
            plain.setdefault(a.event_source, []).append(a.name)
    plain_clauses = [{"eventSource": [src], "eventName": sorted(set(names))} for src, names in plain.items()]
    clauses = [
        {"eventSource": [src], "eventName": sorted(set(names)), "requestParameters": form}
        for (src, _), (form, names) in formed.items()
    ]
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


def _fits(detail: dict[str, Any], actions: list[CatalogAction]) -> bool:
    pattern = _pattern({a.service for a in actions}, detail, _call_clauses(actions))
    return pattern_size(pattern) <= _PACK_LIMIT


def _packed(
    prefix: str,
    description: str,
    detail: dict[str, Any],
    actions: list[CatalogAction],
    family_of: Callable[[CatalogAction], str] = lambda a: FAMILIES[a.service],
) -> list[Rule]:
    """One rule per family, split into numbered parts when a pattern would outgrow the quota: between
    services, and within a service, call by call, when one service alone would outgrow it."""
    by_family: dict[str, list[CatalogAction]] = {}
    for a in actions:
        by_family.setdefault(family_of(a), []).append(a)
    rules: list[Rule] = []
    for family, members in by_family.items():
        parts: list[list[CatalogAction]] = [[]]
        for service in dict.fromkeys(a.service for a in members):
            group = [a for a in members if a.service == service]
            for unit in [group] if _fits(detail, group) else [[a] for a in group]:
                if parts[-1] and not _fits(detail, parts[-1] + unit):
                    parts.append(unit)
                else:
                    parts[-1] = parts[-1] + unit
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
        [a for a in CATALOG if not a.protection and not a.leash_kind],
    )
    rules += tamper_rules("Tamper", [a for a in CATALOG if a.leash_kind and not a.protection])
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
    rules = _rules(
        "Reapply",
        "ReapplyAgent",
        "calls that strip a protection",
        [a for a in CATALOG if a.protection and not a.leash_kind],
    )
    return rules + tamper_rules("ReapplyTamper", [a for a in CATALOG if a.leash_kind and a.protection])


def tamper_rules(prefix: str, actions: list[CatalogAction]) -> list[Rule]:
    """Calls on Leash's own resources, by anyone but Leash and AWS services (tampering is critical for anyone),
    packed by size alone: services share a rule until it would outgrow the quota."""
    return _packed(
        prefix,
        "Leash: tampering with Leash's own resources by anyone but Leash and AWS services",
        {"errorCode": SUCCEEDED, "userIdentity": ANYONE},
        actions,
        family_of=lambda a: "",
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
_SIZING_STACK = Deployment(
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
        "SlackWebhookSecretArn": "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:"
        "leash-security-prod/slack-incoming-webhook-url-AbCdEf",
        "SlackSigningSecretArn": "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:"
        "leash-security-prod/slack-app-signing-secret-AbCdEf",
        "SlackBotTokenSecretArn": "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:"
        "leash-security-prod/slack-app-bot-token-AbCdEf",
    },
    partition="aws-us-gov",
    region="us-gov-west-1",
    stack_name="leash-security-production-us-gov-west",
    conditions=dict.fromkeys(
        [
            *(f"Has{s.parameter}" for s in AGENT_SIGNALS if s.parameter),
            *(condition for _, condition in _RESOURCES.values() if condition),
            *SLACK_SECRETS.values(),
        ],
        True,
    ),
)
# Every resource under CloudFormation's generated name (<stack>-<logical ID>-<suffix>, up to 64 characters):
# longer than the explicit names the template gives some of them.
_SIZING_REFS, _SIZING_ATTRIBUTES = offline_resources(
    {"Resources": {lid: {"Type": kind} for lid, (kind, _) in _RESOURCES.items()}}, _SIZING_STACK
)
_SIZING = replace(_SIZING_STACK, resources=_SIZING_REFS, attributes=_SIZING_ATTRIBUTES)


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
