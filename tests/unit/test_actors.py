"""Actor classification per SPEC, from real-shaped userIdentity blocks."""

from __future__ import annotations

import pytest
from conftest import load_event
from identity_forms import FORMS, OTHER_ACCOUNT

from leash.actors import ActorConfig, ActorKind, RoleTagCache, classify_actor

CONFIG = ActorConfig(
    agent_role_names=frozenset({"copilot-runner"}),
    agent_role_prefix="ai-agent-",
    agent_session_prefix="agent-",
    agent_source_identity_prefix="bot-",
    exempt_arns=frozenset({"arn:aws:iam::111122223333:role/breakglass-admin"}),
    leash_role_ids=frozenset({"AROALEASHNOTIFYROLE01"}),
)


def role(name, session="s", source_identity=None, path="", role_id="AROAEXAMPLEROLEID0001"):
    ident = {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::111122223333:assumed-role/{name}/{session}",
        "accountId": "111122223333",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "userName": name,
                "arn": f"arn:aws:iam::111122223333:role/{path}{name}",
            }
        },
    }
    if source_identity:
        ident["sessionContext"]["sourceIdentity"] = source_identity
    return ident


@pytest.mark.parametrize(
    ("identity", "kind", "signal"),
    [
        (role("ai-agent-deploy"), ActorKind.AGENT, "role name starts with ai-agent-"),
        (role("copilot-runner"), ActorKind.AGENT, "named agent role"),
        (role("dev", session="agent-claude-1"), ActorKind.AGENT, "session name starts with agent-"),
        (role("dev", source_identity="bot-jordan"), ActorKind.AGENT, "source identity starts with bot-"),
        (role("dev"), ActorKind.HUMAN, None),
        (role("leash-notify-us-east-1", role_id="AROALEASHNOTIFYROLE01"), ActorKind.LEASH, None),
        # Leash is known by its roles' IDs, never by a name: a look-alike role is whoever it is (#16).
        (role("leash-backdoor"), ActorKind.HUMAN, None),
        (role("leash-notify-us-east-1"), ActorKind.HUMAN, None),  # deleted and created again: a new ID
        (
            role("leash-backdoor", session="agent-claude-1"),
            ActorKind.AGENT,
            "session name starts with agent-",
        ),
        (
            role("breakglass-admin", path="admins/"),
            ActorKind.EXEMPT,
            None,
        ),  # exempt list written without the path
        (
            role("AWSServiceRoleForAutoScaling", path="aws-service-role/autoscaling.amazonaws.com/"),
            ActorKind.AWS_SERVICE,
            None,
        ),
        ({"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}, ActorKind.AWS_SERVICE, None),
        (
            {"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"},
            ActorKind.ROOT,
            None,
        ),
        (
            {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob", "userName": "bob"},
            ActorKind.HUMAN,
            None,
        ),
    ],
)
def test_classification(identity, kind, signal):
    actor = classify_actor(identity, CONFIG)
    assert actor.kind is kind
    if signal:
        assert any(signal in s for s in actor.signals)


@pytest.mark.parametrize("name", sorted(FORMS))
def test_every_documented_identity_form_is_classified_and_named(name):
    """Identities without an ARN never crash, are never lockable, and have a principal to count and record."""
    from leash.actors import ActorCache

    identity, kind, principal, _ = FORMS[name]
    actor = classify_actor(identity, CONFIG)
    assert actor.kind is kind
    assert (actor.role_arn or actor.arn) == principal  # what spike counters and the ledger key on
    if not identity.get("arn"):
        assert not actor.lockable
    assert ActorCache(CONFIG)(identity) == actor


def test_another_account_is_named_by_its_account_and_principal():
    actor = classify_actor(FORMS["AWSAccount"][0], CONFIG)
    assert actor.label == f"external account {OTHER_ACCOUNT}"
    assert actor.display == f"external account {OTHER_ACCOUNT}, principal AIDA6EXAMPLEOTHERACCT"
    assert actor.to_dict()["principalId"] == "AIDA6EXAMPLEOTHERACCT"


def test_exempt_beats_agent_signals():
    cfg = ActorConfig(
        agent_role_prefix="ai-agent-", exempt_arns=frozenset({"arn:aws:iam::111122223333:role/ai-agent-ci"})
    )
    assert classify_actor(role("ai-agent-ci"), cfg).kind is ActorKind.EXEMPT


def test_mcp_marker_in_additional_event_data_marks_an_agent():
    actor = classify_actor(
        role("developer"), CONFIG, additional_event_data={"CalledViaAWSMCP": "aws-mcp.amazonaws.com"}
    )
    assert actor.kind is ActorKind.AGENT and actor.signals == ("called through the AWS MCP server",)


def test_display_names_the_human_behind_the_agent_session():
    call = load_event("rds-delete-db-instance-skip-final-snapshot-by-agent")["detail"]
    actor = classify_actor(call["userIdentity"], CONFIG)
    assert (
        actor.display
        == "agent ai-agent-deploy for jordan@example.com (source identity), session sess_a8f3b21c"
    )


def test_from_env_reads_template_variables():
    cfg = ActorConfig.from_env(
        {
            "LEASH_AGENT_ROLE_NAMES": "a, b,",
            "LEASH_EXEMPT_ARNS": "",
            "LEASH_ROLE_PREFIX": "guard",
            "LEASH_ROLE_IDS": "AROA1,AROA2",
        }
    )
    assert (
        cfg.agent_role_names == {"a", "b"}
        and cfg.leash_role_ids == {"AROA1", "AROA2"}
        and cfg.exempt_arns == frozenset()
        and cfg.leash_role_prefix == "guard-"
    )


class CountingIam:
    def __init__(self, tags=None, fail=False):
        self.calls, self.tags, self.fail = 0, tags or [], fail

    def get_paginator(self, name):
        assert name == "list_role_tags"
        iam = self

        class Paginator:
            def paginate(self, RoleName):
                iam.calls += 1
                if iam.fail:
                    raise RuntimeError("AccessDenied")
                return [{"Tags": iam.tags}]

        return Paginator()


def test_role_tag_lookup_is_cached_per_ttl():
    now = [0.0]
    iam = CountingIam([{"Key": "Usage", "Value": "Agent"}])
    cache = RoleTagCache(lambda: iam, ttl_seconds=300, clock=lambda: now[0])
    assert cache("bot") == {"Usage": "Agent"} and cache("bot") == {"Usage": "Agent"}
    assert iam.calls == 1
    now[0] = 301
    cache("bot")
    assert iam.calls == 2


def test_role_tag_lookup_failure_classifies_as_human_not_crash():
    cache = RoleTagCache(lambda: CountingIam(fail=True))
    actor = classify_actor(role("data-bot"), ActorConfig(), tag_lookup=cache)
    assert actor.kind is ActorKind.HUMAN and cache.errors == 1


def test_actor_cache_classifies_like_classify_actor_once_per_identity(monkeypatch):
    import json

    from conftest import EVENTS

    from leash import actors
    from leash.actors import ActorCache

    cache = ActorCache(CONFIG)
    details = [json.loads(p.read_text())["detail"] for p in sorted(EVENTS.glob("*.json"))]
    details = [d for d in details if isinstance(d.get("userIdentity"), dict)]
    for detail in details:  # every sample's identity, MCP marker included
        extra = detail.get("additionalEventData")
        assert cache(detail["userIdentity"], extra) == classify_actor(
            detail["userIdentity"], CONFIG, additional_event_data=extra
        )
    calls = []
    monkeypatch.setattr(actors, "classify_actor", lambda *a, **k: calls.append(1) or classify_actor(*a, **k))
    fresh = ActorCache(CONFIG)
    for _ in range(3):
        assert fresh(role("ai-agent-deploy", "one")).session_name == "one"
        assert fresh(role("ai-agent-deploy", "two")).session_name == "two"  # another session: another actor
    assert fresh(role("x"), {"CalledViaAWSMCP": True}).kind is ActorKind.AGENT
    assert fresh(role("x")).kind is ActorKind.HUMAN
    assert len(calls) == 4
    odd = {"type": "IAMUser", "arn": ["not", "a", "string"]}  # unhashable: classified, not cached
    assert fresh(odd) == classify_actor(odd, CONFIG) and len(calls) == 5
