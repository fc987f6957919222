"""Bad deploy settings fail at `sam deploy`, before anything changes, with a message naming the parameter.

template.yaml's parameter constraints and Rules assertions are evaluated here as CloudFormation
evaluates them before it creates a change set (leash_build.cfn.parameter_problems, which `leash replay
-p` runs too); what CloudFormation cannot express (warning <= critical) is refused by the functions
at start, in the words of leash.settings.
"""

from __future__ import annotations

import pytest

from leash.protections import PROTECTION_NAMES
from leash_build.cfn import parameter_problems
from leash_cli.template import function_environment, load_template


@pytest.fixture(scope="module")
def template():
    return load_template()


def test_the_rule_knows_every_protection_and_nothing_else(template):
    (assertion,) = template["Rules"]["AlertOnlyProtectionsAreKnown"]["Assertions"]
    _, allowed = assertion["Assert"]["Fn::EachMemberIn"]
    assert set(allowed) == PROTECTION_NAMES | {""}, "template.yaml's Rules drifted from leash/protections.py"


def test_the_defaults_and_a_sensible_configuration_pass(template):
    assert parameter_problems(template, {}) == []
    assert parameter_problems(template, {
        "AlertOnlyProtections": "s3-versioning,config-recorder", "AutoLockdown": "non-exempt",
        "DeniedThresholdsAgent": "5,20", "SpikeWindowMinutes": "10", "AgentRoleNames": "ai-agent-a,ai-agent-b",
    }) == []  # fmt: skip


@pytest.mark.parametrize(
    ("values", "refusal"),
    [
        ({"AlertOnlyProtections": "s3-versoning"}, "AlertOnlyProtections names a protection Leash does not have"),
        ({"AlertOnlyProtections": "s3-versioning,nope"}, "AlertOnlyProtections names a protection Leash does not have"),
        ({"AutoLockdown": "bogus"}, "Parameter AutoLockdown='bogus' must be one of 'off', 'agents', 'non-exempt'"),
        ({"DeniedThresholdsAgent": "ten,50"}, "Parameter DeniedThresholdsAgent='ten,50' must be two whole numbers above 0"),
        ({"DeniedThresholdsHuman": "0,10"}, "Parameter DeniedThresholdsHuman='0,10' must be two whole numbers above 0"),
        ({"SpikeWindowMinutes": "0"}, "Parameter SpikeWindowMinutes='0' must be at least 1"),
        ({"LogRetentionDays": "10"}, "Parameter LogRetentionDays='10' must be one of"),
        ({"NoSuchParam": "1"}, "Parameter NoSuchParam does not exist in the template"),
    ],
    ids=["typo", "one-of-two-unknown", "mode", "words", "zero", "window", "retention", "unknown-name"],
)  # fmt: skip
def test_bad_values_are_refused_at_deploy_naming_the_parameter(template, values, refusal):
    (problem,) = parameter_problems(template, values)
    assert problem.startswith(refusal)


def test_warning_above_critical_passes_cloudformation_and_is_refused_by_the_function_at_start(template):
    from leash.settings import SettingsError, SpikeConfig

    values = {"DeniedThresholdsAgent": "50,10"}
    assert parameter_problems(template, values) == []  # no CloudFormation expression compares two numbers
    env = function_environment(template, ["SpikeFunction"], values)
    with pytest.raises(
        SettingsError, match=r"^LEASH_DENIED_THRESHOLDS_AGENT='50,10' needs 0 < warning <= critical"
    ):
        SpikeConfig.from_env(env)
