"""Leash's EventBridge matcher against LocalStack's engine on 10,000 generated pattern/event pairs.

LocalStack runs in its own virtual environment (it pins its own boto3): `make test` creates
.venv-localstack; set LEASH_LOCALSTACK_PYTHON to use another one.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from pattern_pairs import pairs

from leash.eventpattern import InvalidEventPattern
from leash.matchgen import compile_fast

ROOT = Path(__file__).resolve().parents[2]
ORACLE_PYTHON = Path(os.environ.get("LEASH_LOCALSTACK_PYTHON", ROOT / ".venv-localstack" / "bin" / "python"))


def localstack_verdicts(cases):
    if not ORACLE_PYTHON.exists():
        pytest.skip(f"LocalStack's engine is not installed at {ORACLE_PYTHON}: run `make test`")
    out = subprocess.run(
        [str(ORACLE_PYTHON), str(ROOT / "scripts" / "localstack_oracle.py")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)["verdicts"]


def ours(pattern, event, **options):
    try:
        return compile_fast(pattern, **options)(event)
    except InvalidEventPattern as exc:
        return f"invalid: {exc}"


def test_matcher_agrees_with_localstack_on_10000_pairs():
    cases = pairs(10_000)
    theirs = localstack_verdicts(cases)
    disagreements, wildcard_reading, matched, invalid = [], 0, 0, 0
    for (pattern, event), verdict in zip(cases, theirs, strict=True):
        mine = ours(pattern, event)
        if isinstance(verdict, str) or isinstance(mine, str):
            invalid += 1
            if isinstance(verdict, str) != isinstance(mine, str):
                disagreements.append((pattern, event, mine, verdict))
            continue
        matched += verdict
        if mine != verdict:
            # The one documented divergence: LocalStack reads `*` as one or more characters, AWS as zero or more.
            if ours(pattern, event, star_matches_empty=False) == verdict:
                wildcard_reading += 1
            else:
                disagreements.append((pattern, event, mine, verdict))
    print(
        f"\n10,000 pairs: {matched} match, {invalid} invalid patterns, {wildcard_reading} differ only in the "
        f"wildcard reading, {len(disagreements)} disagreements"
    )
    assert disagreements == [], json.dumps(disagreements[:3], indent=1)
    assert 1_000 < matched < 9_000 and invalid < 2_000  # the pairs exercise both outcomes
    assert wildcard_reading < 200


def test_matcher_agrees_with_localstack_on_the_rules_identity_clause():
    """The clause every "anyone" rule carries (one array of `anything-but` prefix and `exists: false`, and
    `anything-but` on the type) on every documented userIdentity form, Leash's own sessions, and odd values."""
    from identity_forms import ACCOUNT, FORMS

    from leash_build.cfn import Deployment, offline_role_id
    from leash_build.patterns import ANYONE

    clause = Deployment(
        parameters={"ResourcePrefix": "leash"},
        account=ACCOUNT,
        conditions={"HasSlackInteractivity": True, "HasTrailBucket": True},
    ).resolve(ANYONE)
    leash = {
        "type": "AssumedRole",
        "principalId": f"{offline_role_id('NotifyRole')}:s",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/leash-notify/s",
    }
    identities = [form for form, *_ in FORMS.values()] + [
        leash,
        {**leash, "principalId": None},
        {"type": "AWSAccount", "arn": None, "accountId": "444455556666"},
        {"type": ["AWSAccount"], "accountId": "444455556666"},
        {"type": "AWSService", "arn": f"arn:aws:iam::{ACCOUNT}:role/x"},
        {},
    ]
    cases = [
        ({"detail": {"userIdentity": clause}}, {"source": "aws.kms", "detail-type": "x", "detail": detail})
        for identity in identities
        for detail in ({"userIdentity": identity}, {})
    ]
    verdicts = localstack_verdicts(cases)
    assert [ours(p, e) for p, e in cases] == verdicts
    wanted = [routed for *_, routed in FORMS.values()] + [False, True, True, True, False, False]
    assert verdicts[::2] == wanted and not any(verdicts[1::2])


def test_matcher_agrees_with_localstack_on_the_agent_clauses():
    """The agent rules' `$or` (every signal of leash.agents on), branch by branch and whole, on the documented
    identity forms and on agents of each type: the wildcard session clause in two accounts, IAM users and the
    federated sessions they mint, Identity Center roles."""
    from identity_forms import ACCOUNT, FORMS, OTHER_ACCOUNT

    from leash_build.cfn import Deployment
    from leash_build.patterns import agent_clauses

    parameters = {
        "AgentRoleNames": ["copilot-runner"],
        "AgentRoleNamePrefix": "ai-agent-",
        "AgentSessionNamePrefix": "agent-",
        "AgentSourceIdentityPrefix": "bot-",
        "AgentUserNames": ["ci-agent-bot"],
        "AgentUserNamePrefix": "ai-agent-",
    }
    conditions = {f"Has{name}": True for name in parameters}
    clauses = Deployment(parameters=parameters, account=ACCOUNT, conditions=conditions).resolve(
        agent_clauses()
    )

    def issued(kind, name, account=ACCOUNT, session="s1", **context):
        arn = (f"arn:aws:sts::{account}:assumed-role/{name}/{session}" if kind == "Role"
               else f"arn:aws:sts::{account}:federated-user/{session}")  # fmt: skip
        return {
            "type": "AssumedRole" if kind == "Role" else "FederatedUser",
            "arn": arn,
            "accountId": account,
            "sessionContext": {"sessionIssuer": {"type": kind, "userName": name}, **context},
        }

    identities = [form for form, *_ in FORMS.values()] + [
        issued("Role", "platform-admin", session="agent-claude-42"),
        issued("Role", "platform-admin", OTHER_ACCOUNT, session="agent-claude-42"),
        issued("Role", "platform-admin", session="claude-agent-42"),
        issued("Role", "ai-agent-deploy"),
        issued("Role", "copilot-runner", OTHER_ACCOUNT),
        issued("Role", "AWSReservedSSO_AdministratorAccess_4f2a", sourceIdentity="bot-jordan"),
        issued("IAMUser", "ci-agent-bot", session="Bob"),
        issued("IAMUser", "ai-agent-keys", session="Bob"),
        issued("IAMUser", "copilot-runner", session="Bob"),  # a user named like an agent role is no agent
        {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/ci-agent-bot", "userName": "ci-agent-bot"},
        {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/ai-agent-x", "userName": "ai-agent-x"},
        {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/dev/s",
            "userName": "ci-agent-bot",
        },
        {"type": "AssumedRole", "invokedBy": "aws-mcp.amazonaws.com"},
    ]
    patterns = [{"detail": clause} for clause in clauses] + [{"detail": {"$or": clauses}}]
    cases = [
        (pattern, {"source": "aws.iam", "detail-type": "x", "detail": {"userIdentity": identity}})
        for pattern in patterns
        for identity in identities
    ]
    verdicts = localstack_verdicts(cases)
    assert [ours(p, e) for p, e in cases] == verdicts
    whole = verdicts[-len(identities) :]
    assert not any(whole[: len(FORMS)])  # no documented form is an agent with these names
    assert whole[len(FORMS) :] == [
        True,
        True,
        False,
        True,
        True,
        True,
        True,
        True,
        False,
        True,
        True,
        False,
        True,
    ]
