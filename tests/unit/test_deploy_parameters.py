"""Bad deploy settings fail at `sam deploy`, before anything changes, with a message naming the parameter.

template.yaml's parameter constraints and Rules assertions are evaluated here as CloudFormation
evaluates them before it creates a change set (leash_build.cfn.parameter_problems, which `leash replay
-p` runs too); what CloudFormation cannot express (warning <= critical) is refused by the functions
at start, in the words of leash.settings.
"""

from __future__ import annotations

import random
import re

import pytest

from leash.protections import PROTECTION_NAMES
from leash.settings import THRESHOLDS_RULE
from leash_build.cfn import ordered_pair_pattern, parameter_problems
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
        ({"DeniedThresholdsAgent": "ten,50"}, f"Parameter DeniedThresholdsAgent='ten,50' {THRESHOLDS_RULE}"),
        ({"DeniedThresholdsHuman": "0,10"}, f"Parameter DeniedThresholdsHuman='0,10' {THRESHOLDS_RULE}"),
        ({"DeniedThresholdsAgent": "50,10"}, f"Parameter DeniedThresholdsAgent='50,10' {THRESHOLDS_RULE}"),
        ({"AgentCallThresholds": "2000,500"}, f"Parameter AgentCallThresholds='2000,500' {THRESHOLDS_RULE}"),
        ({"SpikeWindowMinutes": "0"}, "Parameter SpikeWindowMinutes='0' must be at least 1"),
        ({"LogRetentionDays": "10"}, "Parameter LogRetentionDays='10' must be one of"),
        ({"NoSuchParam": "1"}, "Parameter NoSuchParam does not exist in the template"),
        ({"AlertEmail": "oncall"}, "Parameter AlertEmail='oncall' must be an e-mail address"),
    ],
    ids=["typo", "one-of-two-unknown", "mode", "words", "zero", "warning-above-critical", "calls-reversed", "window",
         "retention", "unknown-name", "email"],
)  # fmt: skip
def test_bad_values_are_refused_at_deploy_naming_the_parameter(template, values, refusal):
    (problem,) = parameter_problems(template, values)
    assert problem.startswith(refusal)


THRESHOLD_PARAMETERS = {
    "DeniedThresholdsAgent": "LEASH_DENIED_THRESHOLDS_AGENT",
    "DeniedThresholdsHuman": "LEASH_DENIED_THRESHOLDS_HUMAN",
    "DeniedThresholdsOther": "LEASH_DENIED_THRESHOLDS_OTHER",
    "AgentCallThresholds": "LEASH_AGENT_CALL_THRESHOLDS",
}


def test_warning_above_critical_is_refused_at_deploy_and_by_the_function_in_the_same_words(template):
    from leash.settings import SettingsError, SpikeConfig

    for parameter, variable in THRESHOLD_PARAMETERS.items():
        values = {parameter: "50,10"}
        assert parameter_problems(template, values) == [f"Parameter {parameter}='50,10' {THRESHOLDS_RULE}"]
        with pytest.raises(SettingsError) as refused:  # the value as the template hands it to the function
            SpikeConfig.from_env(function_environment(template, ["SpikeFunction"], values))
        assert str(refused.value) == f"{variable}='50,10' {THRESHOLDS_RULE}"


def test_a_protection_typo_is_refused_at_deploy_and_by_the_function_in_the_same_words(template):
    from leash.settings import ALERT_ONLY_RULE, ReapplySettings, SettingsError

    values = {"AlertOnlyProtections": "s3-versoning"}
    assert parameter_problems(template, values) == [ALERT_ONLY_RULE]
    with pytest.raises(SettingsError) as refused:
        ReapplySettings.from_env(
            function_environment(template, ["ReapplyFunction"], values), PROTECTION_NAMES
        )
    assert str(refused.value).startswith(ALERT_ONLY_RULE)


def test_the_threshold_pattern_accepts_exactly_the_ordered_pairs(template):
    """The template's pattern is the generated one, and it says warning <= critical as the functions do."""
    from leash.settings import SettingsError, Thresholds

    pattern = ordered_pair_pattern()
    for parameter in THRESHOLD_PARAMETERS:
        spec = template["Parameters"][parameter]
        assert (spec["AllowedPattern"], spec["ConstraintDescription"]) == (pattern, THRESHOLDS_RULE)
    matches = re.compile(pattern).fullmatch
    rnd = random.Random(13)
    pairs = [(w, c) for w in range(1, 130) for c in range(1, 130)]
    pairs += [
        (rnd.randint(1, 10 ** rnd.randint(1, 6) - 1), rnd.randint(1, 10 ** rnd.randint(1, 6) - 1))
        for _ in range(20_000)
    ]
    pairs += [(w, w) for w in (9, 99, 100, 999_999)] + [(999_998, 999_999), (999_999, 999_998)]
    for warning, critical in pairs:
        value = f"{warning},{critical}"
        try:
            Thresholds.parse(value)
            accepted = True
        except SettingsError:
            accepted = False
        assert bool(matches(value)) is accepted is (warning <= critical), value
    for bad in ("0,5", "05,10", "5,05", "1,1000000", "10,", ",10", "10,50,", " 10,50", "1e3,2e3"):
        assert not matches(bad), bad
