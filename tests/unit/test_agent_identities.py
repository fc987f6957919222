"""The agent rules of template.yaml and classify_actor agree on who is an agent, for every identity type.

A seeded generator builds CloudTrail `userIdentity` blocks of every `type` (Root, IAMUser, AssumedRole
with and without a path and a sourceIdentity, Identity Center permission-set roles, service-linked
roles, Leash's own sessions, FederatedUser, AWSService, AWSAccount, IdentityCenterUser, Directory,
Unknown, AWS acting on its own), in this account and another, with and without the MCP markers, and
deploys the agent parameters in random combinations. For each, the rules EventBridge would run route
an agent-only call exactly when the handler, configured by the same parameters through the template,
finds an agent signal; and the classifier calls it an agent exactly then, unless it ranks the caller
first as root, an AWS service, another account, Leash itself or an exempt principal.
"""

from __future__ import annotations

import copy
import random
from collections import Counter

import pytest
from identity_forms import ACCOUNT, FORMS, OTHER_ACCOUNT

from leash.actors import classify_actor
from leash.agents import AGENT_SIGNALS, agent_signals
from leash.model import ActorKind
from leash.settings import ActorConfig
from leash_cli.template import (
    TEMPLATE,
    Router,
    deployment_for,
    eventbridge_rules,
    function_environment,
    load_template,
)

SEED = 14
CONFIGURATIONS = 100
IDENTITIES_PER_CONFIGURATION = 60
AGENT_RULE = "AgentSensitiveIdentityIam"  # iam:CreateRole is routed for agents only
RANKED_BEFORE_AGENTS = {
    ActorKind.ROOT,
    ActorKind.AWS_SERVICE,
    ActorKind.EXTERNAL,
    ActorKind.LEASH,
    ActorKind.EXEMPT,
}

ROLES = ["ai-agent-deploy", "ai-agent-readonly", "copilot-runner", "platform-admin", "agent-runner", "dev"]
USERS = ["ci-agent-bot", "ai-agent-keys", "alice", "agent-smith", "bob"]
SESSIONS = [
    "agent-claude-42",
    "alice@example.com",
    "sess_a8f3b21c",
    "botocore-session-1732300000",
    "ai-agent-x",
]
PREFIXES = ["", "", "ai-agent-", "agent-", "ci-", "copilot", "AWSReservedSSO_Agent", "bot-"]


@pytest.fixture(scope="module")
def template():
    return load_template()


@pytest.fixture(scope="module")
def iam_template(template):
    """The template with only the rules an IAM call can match (EventBridge skips the others by source too):
    routing an IAM call is unchanged, and a router per deployment compiles a fifth of the patterns."""
    trimmed = copy.deepcopy(template)
    for resource in trimmed["Resources"].values():
        properties = resource.get("Properties", {})
        pattern = properties.get("EventPattern", {})
        if "aws.iam" not in pattern.get("source", ["aws.iam"]):
            properties.pop("EventPattern")
        events = properties.get("Events") or {}
        for name in [
            n
            for n, e in events.items()
            if "aws.iam" not in e["Properties"].get("Pattern", {}).get("source", ["aws.iam"])
        ]:
            del events[name]
    return trimmed


def _role_session(rng: random.Random, account: str, name: str, path: str = "/") -> dict:
    session = rng.choice(SESSIONS)
    identity = {
        "type": "AssumedRole",
        "principalId": f"AROA5EXAMPLEROLE0001:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
        "accountId": account,
        "accessKeyId": "ASIA5EXAMPLEKEY00001",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROA5EXAMPLEROLE0001",
                "arn": f"arn:aws:iam::{account}:role{path}{name}",
                "accountId": account,
                "userName": name,
            },
            "attributes": {"creationDate": "2026-11-22T20:58:12Z", "mfaAuthenticated": "false"},
        },
    }
    if rng.random() < 0.4:
        identity["sessionContext"]["sourceIdentity"] = rng.choice(["bot-jordan", "jordan@example.com"])
    return identity


def identity(rng: random.Random) -> dict:
    """One userIdentity of a random type, named from pools that the random prefixes do and do not match."""
    account = rng.choice([ACCOUNT, ACCOUNT, OTHER_ACCOUNT])
    kind = rng.choice(
        [
            "role",
            "role",
            "role path",
            "sso",
            "service-linked",
            "leash",
            "user",
            "user",
            "federated",
            "documented",
        ]
    )
    if kind == "role":
        return _role_session(rng, account, rng.choice(ROLES))
    if kind == "role path":
        return _role_session(rng, account, rng.choice(ROLES), "/agents/team-a/")
    if kind == "sso":
        name = rng.choice(
            ["AWSReservedSSO_AgentAccess_4f2a9c1e7b3d5a60", "AWSReservedSSO_AdministratorAccess_9b8c"]
        )
        return _role_session(rng, account, name, "/aws-reserved/sso.amazonaws.com/")
    if kind == "service-linked":
        return _role_session(
            rng, account, "AWSServiceRoleForAutoScaling", "/aws-service-role/autoscaling.amazonaws.com/"
        )
    if kind == "leash":
        return _role_session(rng, account, "leash-notify-us-east-1")
    if kind == "user":
        name = rng.choice(USERS)
        return {
            "type": "IAMUser",
            "principalId": "AIDA5EXAMPLEUSER0001",
            "arn": f"arn:aws:iam::{account}:user/{name}",
            "accountId": account,
            "accessKeyId": "AKIA5EXAMPLEKEY00001",
            "userName": name,
        }
    if kind == "federated":  # GetFederationToken by an IAM user: the issuer is that user
        user, name = rng.choice(USERS), rng.choice(["Bob", "agent-session"])
        return {
            "type": "FederatedUser",
            "principalId": f"{account}:{name}",
            "arn": f"arn:aws:sts::{account}:federated-user/{name}",
            "accountId": account,
            "accessKeyId": "ASIA5EXAMPLEKEY00002",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "IAMUser",
                    "principalId": "AIDA5EXAMPLEUSER0001",
                    "arn": f"arn:aws:iam::{account}:user/{user}",
                    "accountId": account,
                    "userName": user,
                },
                "attributes": {"creationDate": "2026-11-22T20:58:12Z", "mfaAuthenticated": "false"},
            },
        }
    return dict(rng.choice(list(FORMS.values()))[0])  # Root, AWSService, AWSAccount, IdentityCenterUser, ...


def parameters(rng: random.Random) -> dict[str, str]:
    """A random deployment of the agent parameters (each off half the time)."""
    return {
        "AgentRoleNames": ",".join(rng.sample(ROLES, rng.choice([0, 0, 1, 2]))),
        "AgentRoleNamePrefix": rng.choice(PREFIXES),
        "AgentSessionNamePrefix": rng.choice(PREFIXES),
        "AgentSourceIdentityPrefix": rng.choice(["", "", "bot-"]),
        "AgentUserNames": ",".join(rng.sample(USERS, rng.choice([0, 0, 1, 2]))),
        "AgentUserNamePrefix": rng.choice(PREFIXES),
        "ExemptPrincipalArns": rng.choice(["", f"arn:aws:iam::{ACCOUNT}:role/ai-agent-readonly"]),
    }


def create_role_call(user_identity: dict, additional_event_data: dict | None) -> dict:
    detail = {
        "eventVersion": "1.10",
        "userIdentity": user_identity,
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateRole",
        "awsRegion": "us-east-1",
        "requestParameters": {"roleName": "new-role"},
        "eventType": "AwsApiCall",
        "recipientAccountId": user_identity.get("accountId", ACCOUNT),
        "eventID": "e-1",
    }
    if additional_event_data is not None:
        detail["additionalEventData"] = additional_event_data
    return {
        "version": "0",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam",
        "account": ACCOUNT,  # the deployment's account: records of another account are forwarded to it
        "region": "us-east-1",
        "detail": detail,
    }


def test_rules_and_classifier_agree_on_every_identity_type(template, iam_template):
    rng = random.Random(SEED)
    seen: Counter[tuple[str, bool]] = Counter()
    for _ in range(CONFIGURATIONS):
        values = parameters(rng)
        router = Router(eventbridge_rules(iam_template, deployment_for(template, values, account=ACCOUNT)))
        # What the deployed notify function reads, from the same parameters through the template.
        config = ActorConfig.from_env(
            function_environment(template, ["NotifyFunction"], values, account=ACCOUNT)
        )
        for _ in range(IDENTITIES_PER_CONFIGURATION):
            caller = identity(rng)
            extra = rng.choice([None, None, None, {"CalledViaAWSMCP": "aws-mcp.amazonaws.com"}])
            if rng.random() < 0.05 and caller.get("type") == "AssumedRole":
                caller["invokedBy"] = "aws-mcp.amazonaws.com"
            routed = {r.name for r in router.route(create_role_call(caller, extra))}
            signals = agent_signals(caller, config, extra)
            actor = classify_actor(caller, config, additional_event_data=extra)
            why = (values, caller, extra, signals, actor.kind)
            # The agent-only rule and the call-volume rule see the same callers as agents.
            assert (AGENT_RULE in routed) is ("AgentCallsRule" in routed), why
            # The rules route exactly the callers the handler finds an agent signal in ...
            assert (AGENT_RULE in routed) is bool(signals), why
            # ... and the classifier calls them agents, unless it ranks them first as someone else.
            if actor.kind not in RANKED_BEFORE_AGENTS:
                assert (actor.kind is ActorKind.AGENT) is (AGENT_RULE in routed), why
                assert actor.signals == signals, why
            seen[(str(caller.get("type")), AGENT_RULE in routed)] += 1
    # The generator reached every type, and the agent types both as agents and as not.
    types = {t for t, _ in seen}
    assert types >= {"Root", "IAMUser", "AssumedRole", "FederatedUser", "AWSService", "AWSAccount",
                     "IdentityCenterUser", "Directory", "Unknown", "None"}  # fmt: skip
    for agent_type in ("IAMUser", "AssumedRole", "FederatedUser"):
        assert seen[(agent_type, True)] and seen[(agent_type, False)], agent_type


def test_every_signal_is_a_documented_parameter_the_functions_read(template):
    """Each parameter exists, has its Has<Parameter> condition, reaches the functions, and is in the README."""
    readme = (TEMPLATE.parent / "README.md").read_text()
    for signal in AGENT_SIGNALS:
        if not signal.parameter:
            continue
        spec = template["Parameters"][signal.parameter]
        assert spec["Default"] == "" or signal.parameter == "AgentRoleNamePrefix"
        condition = template["Conditions"][f"Has{signal.parameter}"]
        value = "agent-x,agent-y" if signal.match == "names" else "agent-"
        deployment = deployment_for(template, {signal.parameter: value})
        assert deployment.resolve(condition) is True
        assert deployment_for(template, {signal.parameter: ""}).resolve(condition) is False
        env = function_environment(template, ["NotifyFunction"], {signal.parameter: value})
        read = getattr(ActorConfig.from_env(env), signal.setting)
        assert read == (frozenset(value.split(",")) if signal.match == "names" else value)
        assert f"`{signal.parameter}`" in readme


def _routed_and_kind(template, values, caller):
    router = Router(eventbridge_rules(template, deployment_for(template, values, account=ACCOUNT)))
    config = ActorConfig.from_env(function_environment(template, ["NotifyFunction"], values))
    routed = AGENT_RULE in {r.name for r in router.route(create_role_call(caller, None))}
    return routed, classify_actor(caller, config)


def test_an_agent_on_iam_user_keys_is_an_agent_to_rules_and_handler(template):
    caller = {
        "type": "IAMUser",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/ci-agent-bot",
        "userName": "ci-agent-bot",
    }
    assert _routed_and_kind(template, {}, caller)[0] is False
    routed, actor = _routed_and_kind(template, {"AgentUserNames": "ci-agent-bot"}, caller)
    assert (
        routed
        and actor.kind is ActorKind.AGENT
        and actor.signals == ("user ci-agent-bot is a named agent user",)
    )
    routed, actor = _routed_and_kind(template, {"AgentUserNamePrefix": "ci-agent-"}, caller)
    assert routed and actor.signals == ("user name starts with ci-agent-",)


def test_a_federated_session_is_judged_by_the_user_who_minted_it(template):
    """Issue #14: an IAM user named like the role prefix used to be routed as an agent, then dropped as human."""
    caller = FORMS["FederatedUser"][0] | {}
    caller["sessionContext"] = {
        "sessionIssuer": {**caller["sessionContext"]["sessionIssuer"], "userName": "ai-agent-ops"}
    }
    routed, actor = _routed_and_kind(template, {"AgentRoleNamePrefix": "ai-agent-"}, caller)
    assert (routed, actor.kind) == (False, ActorKind.HUMAN)  # a role prefix says nothing of users
    routed, actor = _routed_and_kind(template, {"AgentUserNamePrefix": "ai-agent-"}, caller)
    assert (routed, actor.kind) == (True, ActorKind.AGENT)
    assert actor.signals == ("federated session of a user whose name starts with ai-agent-",)


def test_a_session_name_prefix_matches_in_every_account(template):
    """Issue #14: the session clause was tied to the deployment's account; the classifier never was."""
    for account in (ACCOUNT, OTHER_ACCOUNT):
        caller = {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{account}:assumed-role/platform-admin/agent-claude-42",
            "accountId": account,
            "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "platform-admin"}},
        }
        routed, actor = _routed_and_kind(template, {"AgentSessionNamePrefix": "agent-"}, caller)
        assert (routed, actor.kind) == (True, ActorKind.AGENT), account


def test_no_rule_names_the_deployment_account(template):
    """Every rule resolves to the same pattern in any account: a replay of many accounts needs one router.

    But the tamper rules: they name Leash's own resources (ARNs, URLs), which live in the deployment's account.
    """
    values = {"AgentSessionNamePrefix": "agent-", "AgentUserNames": "ci-agent-bot"}
    here = eventbridge_rules(template, deployment_for(template, values, account=ACCOUNT))
    there = eventbridge_rules(template, deployment_for(template, values, account=OTHER_ACCOUNT))
    anywhere = [r.name for r in here if "Tamper" not in r.name]
    assert anywhere and [r.name for r in here] == [r.name for r in there]
    assert [r.pattern for r in here if r.name in anywhere] == [r.pattern for r in there if r.name in anywhere]
