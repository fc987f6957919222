"""Every environment variable a Leash function reads, read and validated in one place.

template.yaml sets these from the deploy parameters. Each reader returns a typed, frozen
settings object; a bad value raises SettingsError naming the variable, the value and the fix,
so a broken deploy fails at the function's start with words instead of a traceback deep inside.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from leash.model import ActorKind

Env = Mapping[str, str]


class SettingsError(ValueError):
    """An environment variable is missing or holds a value Leash cannot use; the message names it."""


# --- how a value is read ----------------------------------------------------------------------


def required(env: Env, name: str) -> str:
    """A variable the function cannot work without (a table name, a topic ARN)."""
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set: template.yaml sets it on the function; redeploy the stack")
    return value


def text(env: Env, name: str, default: str = "") -> str:
    return env.get(name, default).strip()


def names(env: Env, name: str) -> frozenset[str]:
    """A comma-separated list ("a, b,") as a set, blanks dropped (CloudFormation joins lists with commas)."""
    return frozenset(v.strip() for v in env.get(name, "").split(",") if v.strip())


def whole_number(env: Env, name: str, default: int, *, minimum: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum}")
    return value


def choice(env: Env, name: str, choices: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip() or default
    if value not in choices:
        raise SettingsError(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


# --- who is who ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActorConfig:
    """The deploy-time signals that tell an agent, Leash itself and exempt principals apart."""

    agent_role_names: frozenset[str] = frozenset()
    agent_role_prefix: str = ""
    agent_session_prefix: str = ""
    agent_source_identity_prefix: str = ""
    agent_user_names: frozenset[str] = frozenset()
    agent_user_prefix: str = ""
    agent_tag_key: str = "Usage"
    agent_tag_value: str = "Agent"
    exempt_arns: frozenset[str] = frozenset()
    # This stack's own roles by role ID (LEASH_ROLE_IDS: every AWS::IAM::Role of template.yaml), never by name.
    leash_role_ids: frozenset[str] = frozenset()
    # ResourcePrefix + "-": only to notice a role made to look like Leash's (tampering), never to trust one.
    leash_role_prefix: str = "leash-"

    @classmethod
    def from_env(cls, env: Env) -> ActorConfig:
        """Read the LEASH_* variables that template.yaml sets on every function."""
        return cls(
            agent_role_names=names(env, "LEASH_AGENT_ROLE_NAMES"),
            agent_role_prefix=text(env, "LEASH_AGENT_ROLE_PREFIX"),
            agent_session_prefix=text(env, "LEASH_AGENT_SESSION_PREFIX"),
            agent_source_identity_prefix=text(env, "LEASH_AGENT_SOURCE_IDENTITY_PREFIX"),
            agent_user_names=names(env, "LEASH_AGENT_USER_NAMES"),
            agent_user_prefix=text(env, "LEASH_AGENT_USER_PREFIX"),
            exempt_arns=names(env, "LEASH_EXEMPT_ARNS"),
            leash_role_ids=names(env, "LEASH_ROLE_IDS"),
            leash_role_prefix=(text(env, "LEASH_ROLE_PREFIX") or "leash") + "-",
        )


# --- automatic lockdowns ------------------------------------------------------------------------

LOCKDOWN_MODES: dict[str, frozenset[ActorKind]] = {
    "off": frozenset(),
    "agents": frozenset({ActorKind.AGENT}),
    "non-exempt": frozenset({ActorKind.AGENT, ActorKind.HUMAN}),
}


@dataclass(frozen=True, slots=True)
class LockdownSettings:
    """Who gets locked down automatically (AutoLockdown parameter), and where Leash's requests go."""

    mode: str = "agents"
    stack_name: str = ""
    event_bus: str = ""
    secret_arns: frozenset[str] = frozenset()  # the Slack secrets Leash was given: tampering with them counts

    @property
    def kinds(self) -> frozenset[ActorKind]:
        return LOCKDOWN_MODES[self.mode]

    @classmethod
    def from_env(cls, env: Env) -> LockdownSettings:
        return cls(
            choice(env, "LEASH_AUTO_LOCKDOWN", tuple(LOCKDOWN_MODES), "agents"),
            text(env, "LEASH_STACK_NAME"),
            text(env, "LEASH_EVENT_BUS"),
            names(env, "LEASH_SECRET_ARNS"),
        )


# --- reapply ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReapplySettings:
    """Deploy-time settings of the reapply function."""

    guardrail_policy_arns: frozenset[str] = frozenset()
    permissions_boundary_arn: str = ""
    alert_only: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, env: Env, known_protections: frozenset[str] | None = None) -> ReapplySettings:
        alert_only = names(env, "LEASH_ALERT_ONLY_PROTECTIONS")
        unknown = sorted(alert_only - known_protections) if known_protections is not None else []
        if unknown:
            raise SettingsError(f"{ALERT_ONLY_RULE} (LEASH_ALERT_ONLY_PROTECTIONS has {', '.join(unknown)})")
        return cls(
            names(env, "LEASH_GUARDRAIL_POLICY_ARNS"), text(env, "LEASH_PERMISSIONS_BOUNDARY_ARN"), alert_only
        )


# --- spikes -------------------------------------------------------------------------------------


# The one wording of each rule, for the template (a Rules AssertDescription, a ConstraintDescription)
# and the functions' refusal at start alike.
ALERT_ONLY_RULE = (
    "AlertOnlyProtections names a protection Leash does not have: use the names in docs/catalog.md "
    "(e.g. s3-versioning,config-recorder), comma separated."
)
MAX_THRESHOLD = 999_999
THRESHOLDS_RULE = f"must be warning,critical: two whole numbers with 0 < warning <= critical <= {MAX_THRESHOLD} (e.g. 10,50)"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Warning and critical counts per window, for one counter and one kind of principal."""

    warning: int
    critical: int

    @classmethod
    def parse(cls, text: str, name: str = "thresholds") -> Thresholds:
        try:
            warning, critical = (int(v) for v in text.split(","))
        except ValueError:
            raise SettingsError(f"{name}={text!r} {THRESHOLDS_RULE}") from None
        if not 0 < warning <= critical <= MAX_THRESHOLD:
            raise SettingsError(f"{name}={text!r} {THRESHOLDS_RULE}")
        return cls(warning, critical)


@dataclass(frozen=True, slots=True)
class SpikeConfig:
    window_seconds: int = 300
    denied_agent: Thresholds = Thresholds(10, 50)
    denied_human: Thresholds = Thresholds(30, 200)
    denied_other: Thresholds = Thresholds(50, 500)
    calls_agent: Thresholds = Thresholds(500, 2000)

    @classmethod
    def from_env(cls, env: Env) -> SpikeConfig:
        def thresholds(name: str, default: str) -> Thresholds:
            return Thresholds.parse(env.get(name, "").strip() or default, name)

        return cls(
            window_seconds=whole_number(env, "LEASH_SPIKE_WINDOW_MINUTES", 5) * 60,
            denied_agent=thresholds("LEASH_DENIED_THRESHOLDS_AGENT", "10,50"),
            denied_human=thresholds("LEASH_DENIED_THRESHOLDS_HUMAN", "30,200"),
            denied_other=thresholds("LEASH_DENIED_THRESHOLDS_OTHER", "50,500"),
            calls_agent=thresholds("LEASH_AGENT_CALL_THRESHOLDS", "500,2000"),
        )


# --- Slack --------------------------------------------------------------------------------------


def slack_buttons(env: Env) -> bool:
    """Whether Slack alerts carry buttons: only when the interaction endpoint is deployed (template.yaml sets
    LEASH_SLACK_BUTTONS=on when SlackSigningSecretArn is set); a button nobody receives would only fail."""
    return choice(env, "LEASH_SLACK_BUTTONS", ("on", "off"), "off") == "on"


@dataclass(frozen=True, slots=True)
class SlackUsers:
    """Slack user IDs allowed per button (deploy parameters)."""

    lockdown: frozenset[str] = frozenset()
    release: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, env: Env) -> SlackUsers:
        return cls(names(env, "LEASH_SLACK_LOCKDOWN_USERS"), names(env, "LEASH_SLACK_RELEASE_USERS"))


@dataclass(frozen=True, slots=True)
class SlackWebhook:
    """Where alerts are posted (SlackWebhookSecretArn; empty: no Slack) and where what fails is parked."""

    secret_arn: str = ""
    dead_letter_queue_url: str = ""

    @classmethod
    def from_env(cls, env: Env) -> SlackWebhook:
        arn = text(env, "SLACK_WEBHOOK_SECRET_ARN")
        # Without Slack nothing is ever parked; with it, an alert that cannot be posted must have a place.
        queue = (
            required(env, "SLACK_DEAD_LETTER_QUEUE_URL") if arn else text(env, "SLACK_DEAD_LETTER_QUEUE_URL")
        )
        return cls(arn, queue)


# --- incidents ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentSettings:
    """Where incidents live and when one ends (QuietMinutes): set on every function that publishes alerts."""

    table: str = ""  # empty: alerts are published without an incident (a function the template gives none)
    quiet_seconds: int = 30 * 60

    @classmethod
    def from_env(cls, env: Env) -> IncidentSettings:
        return cls(text(env, "LEASH_INCIDENT_TABLE"), whole_number(env, "LEASH_QUIET_MINUTES", 30) * 60)
