"""One settings module: every variable a function reads, validated with a message that names it."""

from __future__ import annotations

import pytest

from leash.protections import PROTECTION_NAMES
from leash.settings import (
    ActorConfig,
    LockdownSettings,
    ReapplySettings,
    SettingsError,
    SlackUsers,
    SpikeConfig,
    Thresholds,
    required,
    whole_number,
)


def test_template_values_are_read_into_typed_settings():
    env = {
        "LEASH_AGENT_ROLE_NAMES": "a, b,",
        "LEASH_AGENT_ROLE_PREFIX": "ai-agent-",
        "LEASH_AUTO_LOCKDOWN": "non-exempt",
        "LEASH_STACK_NAME": "leash",
        "LEASH_SPIKE_WINDOW_MINUTES": "10",
        "LEASH_DENIED_THRESHOLDS_AGENT": "5,20",
        "LEASH_ALERT_ONLY_PROTECTIONS": "s3-versioning",
        "LEASH_SLACK_LOCKDOWN_USERS": "U1,U2",
    }
    assert ActorConfig.from_env(env).agent_role_names == frozenset({"a", "b"})
    assert LockdownSettings.from_env(env).kinds == {"agent", "human"}
    spikes = SpikeConfig.from_env(env)
    assert (spikes.window_seconds, spikes.denied_agent, spikes.denied_human) == (
        600,
        Thresholds(5, 20),
        Thresholds(30, 200),
    )
    assert ReapplySettings.from_env(env, PROTECTION_NAMES).alert_only == {"s3-versioning"}
    assert SlackUsers.from_env(env) == SlackUsers(frozenset({"U1", "U2"}), frozenset())
    assert SpikeConfig.from_env({}) == SpikeConfig()  # every default is the template's


@pytest.mark.parametrize(
    ("read", "env", "message"),
    [
        (SpikeConfig.from_env, {"LEASH_DENIED_THRESHOLDS_AGENT": "50,10"},
         "LEASH_DENIED_THRESHOLDS_AGENT='50,10' must be warning,critical: two whole numbers with 0 < warning <= critical"),
        (SpikeConfig.from_env, {"LEASH_AGENT_CALL_THRESHOLDS": "lots"},
         "LEASH_AGENT_CALL_THRESHOLDS='lots' must be warning,critical: two whole numbers"),
        (SpikeConfig.from_env, {"LEASH_SPIKE_WINDOW_MINUTES": "0"}, "LEASH_SPIKE_WINDOW_MINUTES='0' must be at least 1"),
        (LockdownSettings.from_env, {"LEASH_AUTO_LOCKDOWN": "bogus"},
         "LEASH_AUTO_LOCKDOWN='bogus' must be one of off, agents, non-exempt"),
        (lambda env: ReapplySettings.from_env(env, PROTECTION_NAMES), {"LEASH_ALERT_ONLY_PROTECTIONS": "s3-versoning"},
         "AlertOnlyProtections names a protection Leash does not have: use the names in docs/catalog.md"),
        (lambda env: required(env, "SPIKE_TABLE"), {}, "SPIKE_TABLE is not set"),
        (lambda env: whole_number(env, "LEDGER_RETENTION_DAYS", 365), {"LEDGER_RETENTION_DAYS": "a year"},
         "LEDGER_RETENTION_DAYS='a year' is not a whole number"),
    ],
    ids=["warning-above-critical", "not-numbers", "zero-window", "unknown-mode", "typo-in-protection", "missing",
         "not-a-number"],
)  # fmt: skip
def test_a_bad_value_is_refused_naming_the_variable_and_the_value(read, env, message):
    with pytest.raises(SettingsError) as refused:
        read(env)
    assert str(refused.value).startswith(message)


def test_a_function_with_a_bad_setting_fails_at_start_with_the_same_words(monkeypatch):
    """What a deploy with DeniedThresholdsAgent=50,10 gives: the spikes function refuses to start, saying why."""
    from conftest import load_handler

    for key, value in {
        "SPIKE_TABLE": "t",
        "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:1:a",
        "LEASH_EVENT_BUS": "b",
        "LEASH_DENIED_THRESHOLDS_AGENT": "50,10",
    }.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(
        SettingsError,
        match="LEASH_DENIED_THRESHOLDS_AGENT='50,10' must be warning,critical: two whole numbers",
    ):
        load_handler("spikes")


def test_a_typo_in_alert_only_protections_is_ignored_loudly_and_the_protection_stays_remediated(
    monkeypatch, caplog
):
    """Fail safe: a function that could not start would put nothing back; this one says why and remediates."""
    from conftest import load_handler

    for key, value in {
        "IDEMPOTENCY_TABLE": "t",
        "LEDGER_TABLE": "l",
        "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:1:a",
        "LEASH_EVENT_BUS": "b",
        "LEASH_ALERT_ONLY_PROTECTIONS": "s3-versoning,kms-key-enabled",
    }.items():
        monkeypatch.setenv(key, value)
    handler = load_handler("reapply")
    assert "s3-versioning" not in handler.reapplier._settings.alert_only  # the misspelt one is remediated
    assert "kms-key-enabled" in handler.reapplier._settings.alert_only
    assert "(LEASH_ALERT_ONLY_PROTECTIONS has s3-versoning)" in caplog.text
