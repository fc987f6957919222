"""template.yaml and the catalog agree, the rules fit EventBridge's quota, and roles are least-privilege."""

from __future__ import annotations

import json

import pytest
from conftest import EVENTS, LONG_PARAMETERS
from identity_forms import FORMS

from leash.catalog import CATALOG
from leash_build.cfn import offline_role_id
from leash_build.patterns import MAX_PATTERN_CHARS, rewrite_template
from leash_cli.template import TEMPLATE, Router, deployment_for, eventbridge_rules, load_template

ACCT = "111122223333"


@pytest.fixture(scope="module")
def template():
    return load_template()


def test_generated_rules_match_the_catalog():
    text = TEMPLATE.read_text()
    assert rewrite_template(text) == text, "template.yaml drifted from leash/catalog.py: run `make patterns`"


def test_every_rule_fits_eventbridge_pattern_quota_with_long_parameters(template):
    deployment = deployment_for(
        template,
        LONG_PARAMETERS,
        account=ACCT,
    )
    for rule in eventbridge_rules(template, deployment):
        size = len(json.dumps(rule.pattern, separators=(",", ":")))
        assert size <= MAX_PATTERN_CHARS, f"{rule.name} is {size} characters"


GUARDRAIL = f"arn:aws:iam::{ACCT}:policy/agent-guardrail-deny"
BOUNDARY = f"arn:aws:iam::{ACCT}:policy/agent-boundary"


@pytest.fixture(scope="module")
def router(template):
    """The template's rules with the guardrail parameters set, so their forms can match."""
    return Router(
        eventbridge_rules(
            template,
            deployment_for(
                template,
                {"GuardrailPolicyArns": GUARDRAIL, "AgentPermissionsBoundaryArn": BOUNDARY},
                account=ACCT,
            ),
        )
    )


def identity(kind: str) -> dict:
    names = {"agent": "ai-agent-deploy", "human": "platform-admin", "leash": "leash-notify-us-east-1"}
    name = names[kind]
    # Leash's sessions are known by the role's ID (the offline stand-in the router resolves GetAtt to).
    role_id = offline_role_id("NotifyRole") if kind == "leash" else "AROAEXAMPLEOTHERROLE1"
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:s1",
        "arn": f"arn:aws:sts::{ACCT}:assumed-role/{name}/s1",
        "accountId": ACCT,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCT}:role/{name}", "userName": name}
        },
    }


def example(form: dict, negate: bool = False) -> dict:
    """requestParameters that satisfy a routing form (or, negated, its harmless twin)."""
    out = {}
    for key, sub in form.items():
        if key == "$or":
            out.update(example(sub[0], negate))
        elif isinstance(sub, dict):
            if "Ref" in sub:
                out[key] = "arn:aws:iam::aws:policy/ReadOnlyAccess" if negate else GUARDRAIL
            else:
                out[key] = example(sub, negate)
        else:
            first = sub[0]
            if isinstance(first, bool):
                out[key] = (not first) if negate else first
            elif isinstance(first, str):
                out[key] = "Enabled" if negate else first
            elif first == {"exists": True}:
                if not negate:
                    out[key] = "db.r6g.4xlarge"
            elif first == {"exists": False}:
                if negate:
                    out[key] = True
            elif "anything-but" in first:
                out[key] = BOUNDARY if negate else "arn:aws:iam::aws:policy/AdministratorAccess"
    return out


# The catalog's rows about anyone's resources; tampering with Leash's own has its table
# (tests/functional/test_tampering.py), whose events name Leash's resources.
UNTAMPERED = [a for a in CATALOG if not a.leash_kind]


def call(action, who="agent", negate=False, **detail):
    form = action.route_when or action.only_when or {}
    event = {
        "version": "0",
        "detail-type": "AWS API Call via CloudTrail",
        "source": f"aws.{action.service}",
        "account": ACCT,
        "region": "us-east-1",
        "detail": {
            "eventSource": action.event_source,
            "eventName": action.name,
            "awsRegion": "us-east-1",
            "userIdentity": identity(who),
            # A role's calls always name the role (the reapply rules leave Leash's own roles out by name).
            "requestParameters": {
                **({"roleName": "ai-agent-deploy"} if "roleName" in action.resource else {}),
                **example(form, negate),
            },
            "eventID": "e-1",
        },
    }
    event["detail"].update(detail)
    return event


def handlers(routed):
    """The rules that invoke a handler directly (the spike rules feed a queue: tests/functional/test_spikes.py)."""
    return [r for r in routed if r.function != "SpikeQueue"]


@pytest.mark.parametrize("action", UNTAMPERED, ids=lambda a: a.action)
def test_each_catalog_action_reaches_its_function_when_it_matters(router, action):
    wanted = "ReapplyFunction" if action.protection else "NotifyFunction"
    agent_rules = router.route(call(action))
    assert {r.function for r in handlers(agent_rules)} == {wanted}
    assert "AgentCallsRule" in {r.name for r in agent_rules}  # every agent call is counted for volume
    human_rules = router.route(call(action, who="human"))
    assert bool(human_rules) is (not action.routed_for_agents_only)


@pytest.mark.parametrize("action", UNTAMPERED, ids=lambda a: a.action)
def test_leash_own_and_failed_calls_never_invoke_a_handler(router, action):
    assert router.route(call(action, who="leash")) == []
    denied = router.route(call(action, errorCode="AccessDenied"))
    assert handlers(denied) == [] and "DeniedCallsRule" in {r.name for r in denied}


WATCHED_BY_ANYONE = (
    "kms:ScheduleKeyDeletion",
    "s3:DeleteBucket",
    "iam:AttachRolePolicy",
    "s3:PutBucketPolicy",
)


@pytest.mark.parametrize("name", sorted(FORMS))
def test_every_identity_but_aws_services_reaches_the_handlers(router, name):
    """Identities without an ARN (another account, Identity Center users) too: the handler decides."""
    identity, _, _, routed = FORMS[name]
    for action in [a for a in CATALOG if a.action in WATCHED_BY_ANYONE]:
        event = call(action)
        event["detail"]["userIdentity"] = identity
        assert bool(handlers(router.route(event))) is routed, action.action
        denied = call(action, errorCode="AccessDenied")
        denied["detail"]["userIdentity"] = identity
        assert ("DeniedCallsRule" in {r.name for r in router.route(denied)}) is routed


# DeleteSecret's two forms (forced, recovery window) cover every DeleteSecret by design; a call whose
# plain form is cataloged too (a snapshot shared with one account is sensitive, with everyone destructive)
# has no harmless form either.
PLAIN = {a.action for a in UNTAMPERED if not (a.only_when or a.route_when)}
CONDITIONAL = [
    a
    for a in UNTAMPERED
    if (a.only_when or a.route_when) and a.action != "secretsmanager:DeleteSecret" and a.action not in PLAIN
]


@pytest.mark.parametrize("action", CONDITIONAL, ids=lambda a: a.action)
def test_harmless_form_of_each_conditional_call_invokes_nothing(router, action):
    harmless = call(action, negate=True)
    assert handlers(router.route(harmless)) == [], harmless["detail"]["requestParameters"]


INGRESS_SAMPLES = (
    "ec2-authorize-security-group-ingress-by-agent",  # nested ipPermissions, 0.0.0.0/0
    "ec2-authorize-security-group-ingress-flat-cidr-by-agent",  # flat top-level cidrIp
    "ec2-authorize-security-group-ingress-ipv6-by-agent",  # nested, ::/0
    "ec2-authorize-security-group-ingress-private-range-by-agent",  # flat, 10.0.0.0/8
)


@pytest.mark.parametrize("name", INGRESS_SAMPLES)
def test_security_group_ingress_is_routed_in_every_shape_for_agents_only(router, name):
    """The rule routes every AuthorizeSecurityGroupIngress by an agent, whatever its shape or range: every one
    is a sensitive alert, and only the code can tell a /0 range (leash.ingress). A human's is not routed."""
    (authorize,) = [a for a in CATALOG if a.action == "ec2:AuthorizeSecurityGroupIngress"]
    params = json.loads((EVENTS / f"{name}.json").read_text())["detail"]["requestParameters"]
    event = call(authorize)
    event["detail"]["requestParameters"] = params
    assert [r.function for r in handlers(router.route(event))] == ["ReapplyFunction"]
    human = call(authorize, who="human")
    human["detail"]["requestParameters"] = params
    assert handlers(router.route(human)) == []


def test_guardduty_detector_enabled_again_is_not_an_alert(router):
    (update,) = [a for a in CATALOG if a.action == "guardduty:UpdateDetector"]
    event = call(update)
    event["detail"]["requestParameters"] = {"detectorId": "d1", "enable": True}
    assert handlers(router.route(event)) == []


def test_agent_signals_follow_the_deploy_parameters(template):
    (create,) = [
        a for a in CATALOG if a.action == "iam:CreateRole" and not a.leash_kind
    ]  # routed for agents only
    event = call(create, who="human")
    event["detail"]["userIdentity"]["arn"] = (
        f"arn:aws:sts::{ACCT}:assumed-role/platform-admin/agent-claude-42"
    )
    event["detail"]["userIdentity"]["sessionContext"]["sourceIdentity"] = "bot-jordan"

    def routed(**overrides):
        rules = Router(eventbridge_rules(template, deployment_for(template, overrides))).route(event)
        return [r.name for r in rules]

    assert routed() == []
    assert routed(AgentSessionNamePrefix="agent-") == ["AgentSensitiveIdentityIam", "AgentCallsRule"]
    assert routed(AgentSourceIdentityPrefix="bot-") == ["AgentSensitiveIdentityIam", "AgentCallsRule"]
    assert routed(AgentRoleNames="ci-runner,platform-admin") == [
        "AgentSensitiveIdentityIam",
        "AgentCallsRule",
    ]
    assert routed(AgentRoleNamePrefix="") == []


def _statements(template):
    for logical_id, res in template["Resources"].items():
        props = res.get("Properties", {})
        for policy in props.get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                yield logical_id, st


def test_no_allow_on_every_action(template):
    for logical_id, st in _statements(template):
        st = st["Fn::If"][1] if "Fn::If" in st else st
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if st["Effect"] == "Allow":
            assert "*" not in actions and all(not a.endswith(":*") for a in actions), (logical_id, actions)


def test_workflow_roles_cannot_touch_leash_or_exempt_principals(template):
    for role in ("LockdownRole", "ReleaseRole"):
        statements = [
            st["Fn::If"][1] if "Fn::If" in st else st
            for _, st in _statements({"Resources": {role: template["Resources"][role]}})
        ]
        writes = {
            a
            for st in statements
            if st["Effect"] == "Allow"
            and not st["Sid"].startswith(("Read", "Ledger", "Notify", "UseAlertsKey", "DeliverLogs"))
            for a in st["Action"]
        }
        denies = [st for st in statements if st["Effect"] == "Deny"]
        assert {d["Sid"] for d in denies} == {"NeverTouchLeashRoles", "NeverTouchExemptPrincipals"}
        for deny in denies:
            assert set(deny["Action"]) == writes, role


def test_asl_substitutions_are_all_provided_by_the_template(template):
    import re

    for logical_id in ("LockdownStateMachine", "ReleaseStateMachine"):
        props = template["Resources"][logical_id]["Properties"]
        text = (TEMPLATE.parent / props["DefinitionUri"]).read_text()
        used = set(re.findall(r"\$\{(\w+)\}", text))
        assert used == set(props["DefinitionSubstitutions"]), logical_id


def test_functions_run_python313_on_arm64_with_the_layer(template):
    fn = template["Globals"]["Function"]
    assert fn["Runtime"] == "python3.13" and fn["Architectures"] == ["arm64"]
    layer = template["Resources"]["LeashLayer"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    # The layer's Makefile installs wheels for Lambda's python3.13 on arm64, whichever python3 runs pip,
    # and compiles bytecode only with python3.13 (a cold start ignores another version's .pyc).
    makefile = (TEMPLATE.parent / "layers" / "leash" / "Makefile").read_text()
    assert "build-LeashLayer:" in makefile and "foreach p,python3.13 python3," in makefile
    for option in ("--only-binary=:all:", "--implementation cp", "--python-version 3.13",
                   "--platform manylinux2014_aarch64"):  # fmt: skip
        assert option in makefile, option
    recipe = makefile[makefile.index("build-LeashLayer:") :]
    compile_step = recipe.index("-m compileall -q -f --invalidation-mode unchecked-hash")
    assert "ifeq ($(PYTHON_VERSION),3.13)" in recipe[:compile_step]


def _functions(template):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def test_functions_build_without_python313_by_copying_their_handler(template, tmp_path):
    """`sam build` needs no python3.13 on PATH: each function's Makefile copies app.py, nothing else."""
    import subprocess

    assert len(_functions(template)) == 7
    for logical_id, function in _functions(template).items():
        assert function["Metadata"] == {"BuildMethod": "makefile"}, logical_id
        code = TEMPLATE.parent / function["Properties"]["CodeUri"]
        artifacts = tmp_path / logical_id
        artifacts.mkdir()
        subprocess.run(["make", "--no-print-directory", "-s", f"build-{logical_id}", f"ARTIFACTS_DIR={artifacts}"],
                       cwd=code, check=True, capture_output=True)  # fmt: skip
        assert [p.name for p in artifacts.iterdir()] == ["app.py"], logical_id
        assert (artifacts / "app.py").read_bytes() == (code / "app.py").read_bytes()


def test_every_leash_role_carries_the_prefix_the_patterns_exclude(template):
    roles = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Role"}
    assert roles
    for logical_id, role in roles.items():
        assert role["Properties"]["RoleName"]["Fn::Sub"].startswith("${ResourcePrefix}-"), logical_id


def test_catalog_docs_are_generated_from_the_catalog():
    from leash_build.docs import markdown

    assert (TEMPLATE.parent / "docs" / "catalog.md").read_text() == markdown(), "run `make docs`"


def test_reapply_role_grants_exactly_what_the_protections_declare(template):
    from leash.protections import required_permissions

    policy = next(
        p
        for p in template["Resources"]["ReapplyRole"]["Properties"]["Policies"]
        if p["PolicyName"] == "reapply-protections"
    )
    granted = set()
    for st in policy["PolicyDocument"]["Statement"]:
        st = st["Fn::If"][1] if "Fn::If" in st else st
        granted |= set(st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    assert granted == required_permissions()


def test_reconcile_role_puts_protections_back_with_exactly_the_reapply_roles_grants(template):
    """The reconciler runs the reapply function's logic: the same permissions, word for word, no more."""

    def protections(role):
        policies = template["Resources"][role]["Properties"]["Policies"]
        return next(p for p in policies if p["PolicyName"] == "reapply-protections")

    assert protections("ReconcileRole") == protections("ReapplyRole")


def test_the_reconciler_is_deployed_only_with_a_trail_bucket(template):
    reconciler = [
        k for k in template["Resources"] if k.startswith("Reconcile") or k == "MalformedLogFilesAlarm"
    ]
    assert len(reconciler) == 11  # function, role, log group, 2 queues, queue policy, 5 alarms
    for logical_id in reconciler:
        assert template["Resources"][logical_id].get("Condition") == "HasTrailBucket", logical_id


def test_every_protection_is_reachable_from_the_catalog():
    from leash.protections import PROTECTIONS

    assert {a.protection for a in CATALOG if a.protection} == set(PROTECTIONS)


def test_readme_documents_every_parameter_and_protection(template):
    from leash.protections import PROTECTIONS

    readme = (TEMPLATE.parent / "README.md").read_text()
    for name in template["Parameters"]:
        assert f"`{name}`" in readme, f"README does not document the {name} parameter"
    for name in PROTECTIONS:
        assert f"`{name}`" in readme, f"README does not list the {name} protection"


def test_leash_is_every_role_of_the_template_by_role_id(template):
    """#16: Leash's principals come from one place, every AWS::IAM::Role, and each consumer names them exactly."""
    from leash_build.patterns import LEASH_ROLES, identity_blocks

    roles = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    assert LEASH_ROLES == roles
    env = template["Globals"]["Function"]["Environment"]["Variables"]["LEASH_ROLE_IDS"]
    assert env == identity_blocks()["LeashRoleIds"]["LEASH_ROLE_IDS"]
    assert all(json.dumps({"Fn::GetAtt": [r, "RoleId"]}) in json.dumps(env) for r in roles)
    bus = template["Resources"]["LeashEventBusPolicy"]["Properties"]["Statement"]["Condition"]
    assert bus == identity_blocks()["LeashEventBusPolicy"]
    assert all(f"${{{r}.RoleId}}:*" in json.dumps(bus) for r in roles)
    for machine in ("LockdownStateMachine", "ReleaseStateMachine"):
        names = template["Resources"][machine]["Properties"]["DefinitionSubstitutions"]["LeashRoleNames"]
        assert names["Fn::Sub"].split(",") == [
            template["Resources"][r]["Properties"]["RoleName"]["Fn::Sub"] for r in roles
        ]
    # Nothing is Leash by a name prefix any more: not the rules, the bus, the workflows nor their roles.
    text = TEMPLATE.read_text()
    assert "assumed-role/${ResourcePrefix}-*" not in text and "role/${ResourcePrefix}-*" not in text
    for asl in ("lockdown", "release"):
        assert "${ResourcePrefix}" not in (TEMPLATE.parent / "statemachines" / f"{asl}.asl.json").read_text()


def test_every_generated_rule_fits_the_quota_with_long_names_of_leashs_own_resources():
    """The packer's own sizing (a long stack name, every resource under a long generated name): a rule that
    names Leash's resources must fit whatever the stack is called."""
    from leash_build.patterns import RULES_BY_FUNCTION, RULES_BY_QUEUE, pattern_size

    for rules in (*RULES_BY_FUNCTION.values(), *RULES_BY_QUEUE.values()):
        for rule in rules():
            assert pattern_size(rule.pattern) <= MAX_PATTERN_CHARS, rule.name


def test_every_parameter_is_in_a_console_group(template):
    """The console (and `sam deploy --guided`'s reader of the template) shows each parameter under a label."""
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"])
