"""What makes a caller an agent: the one definition the EventBridge rules and classify_actor share.

Each signal names the field of a CloudTrail record it reads, how it matches (a list of names, a
prefix, or a session-name prefix inside an assumed-role ARN), the identities it applies to, and the
deploy parameter that turns it on. `cli/leash_build/patterns.py` renders each signal into the agent
rules' `$or` (behind the parameter's `Has<Parameter>` condition); `leash.actors` matches the same
fragments, with the configured values, against the record with Leash's EventBridge matcher. So the
rules and the classifier cannot disagree on who is an agent (tests/unit/test_agent_identities.py).

No pattern names an account: an organisation's forwarded events and a multi-account replay are
judged by the same rules in every account. The role tag `Usage=Agent` is not a field of the record;
the handler looks it up (leash.actors), and rules cannot.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from leash.eventpattern import compile_pattern
from leash.settings import ActorConfig

MCP_MARKER = "CalledViaAWSMCP"  # additionalEventData key (SPEC)
MCP_INVOKED_BY = "aws-mcp.amazonaws.com"  # userIdentity.invokedBy of calls through the AWS MCP Server

# An assumed-role session's ARN, whatever its partition and account: arn:aws:sts::1:assumed-role/role/session.
SESSION_ARN_WILDCARD = "arn:*:sts::*:assumed-role/*/{}*"

Path = tuple[str, ...]
ISSUER: Path = ("userIdentity", "sessionContext", "sessionIssuer")


@dataclass(frozen=True, slots=True)
class AgentSignal:
    """One way a CloudTrail record shows an agent.

    `path` is the field it reads (from the record's top: `userIdentity`, `additionalEventData`),
    `match` how: `names` (exact, one of a list), `prefix`, `session-prefix` (the session name in an
    assumed-role ARN starts with the value) or `fixed` (the `value` given here, no parameter).
    `requires` pins other fields to one value (the identity's type), so a signal applies only to the
    identities it names. `because` is the reason the alert gives ({value}: the field, {setting}: the
    configured value).
    """

    path: Path
    match: Literal["names", "prefix", "session-prefix", "fixed"]
    because: str
    parameter: str = ""  # the deploy parameter (template.yaml) that turns it on; empty: always on
    setting: str = ""  # the ActorConfig field the functions read it into (LEASH_* variable)
    requires: tuple[tuple[Path, str], ...] = ()
    value: Any = None  # the matcher of a `fixed` signal

    def clause(self, setting: Any) -> dict[str, Any]:
        """The signal as an event-pattern fragment of a CloudTrail record, for this configured value."""
        if self.match == "names":
            leaf: Any = sorted(setting) if isinstance(setting, frozenset | set) else setting
        elif self.match == "prefix":
            leaf = [{"prefix": setting}]
        elif self.match == "session-prefix":
            leaf = [
                {"wildcard": SESSION_ARN_WILDCARD.format(setting) if isinstance(setting, str) else setting}
            ]
        else:
            leaf = self.value
        fragment: dict[str, Any] = {}
        for path, value in ((self.path, leaf), *((p, [v]) for p, v in self.requires)):
            node = fragment
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
        return fragment

    def template_clause(self) -> dict[str, Any]:
        """The fragment as template.yaml writes it: the value is the deploy parameter (long-form intrinsics)."""
        if self.match == "session-prefix":
            return self.clause({"Fn::Sub": SESSION_ARN_WILDCARD.format("${" + self.parameter + "}")})
        if self.match == "fixed":
            return self.clause(None)
        return self.clause({"Ref": self.parameter})

    def configured(self, config: ActorConfig) -> Any:
        """The configured value (a prefix, a set of names), or None when the signal is off."""
        if self.match == "fixed":
            return self.value
        return getattr(config, self.setting) or None


_ROLE: tuple[tuple[Path, str], ...] = (((*ISSUER, "type"), "Role"),)
_FEDERATED: tuple[tuple[Path, str], ...] = (((*ISSUER, "type"), "IAMUser"),)  # GetFederationToken by a user
_USER: tuple[tuple[Path, str], ...] = ((("userIdentity", "type"), "IAMUser"),)

AGENT_SIGNALS: tuple[AgentSignal, ...] = (
    # Role sessions (assumed roles, Identity Center permission sets: AWSReservedSSO_<set>_<id>), by the role.
    AgentSignal((*ISSUER, "userName"), "names", "role {value} is a named agent role",
                "AgentRoleNames", "agent_role_names", _ROLE),
    AgentSignal((*ISSUER, "userName"), "prefix", "role name starts with {setting}",
                "AgentRoleNamePrefix", "agent_role_prefix", _ROLE),
    AgentSignal(("userIdentity", "arn"), "session-prefix", "session name starts with {setting}",
                "AgentSessionNamePrefix", "agent_session_prefix"),
    AgentSignal(("userIdentity", "sessionContext", "sourceIdentity"), "prefix", "source identity starts with {setting}",
                "AgentSourceIdentityPrefix", "agent_source_identity_prefix"),
    # IAM users (long-lived access keys), and the federated sessions they mint, by the user.
    AgentSignal(("userIdentity", "userName"), "names", "user {value} is a named agent user",
                "AgentUserNames", "agent_user_names", _USER),
    AgentSignal(("userIdentity", "userName"), "prefix", "user name starts with {setting}",
                "AgentUserNamePrefix", "agent_user_prefix", _USER),
    AgentSignal((*ISSUER, "userName"), "names", "federated session of agent user {value}",
                "AgentUserNames", "agent_user_names", _FEDERATED),
    AgentSignal((*ISSUER, "userName"), "prefix", "federated session of a user whose name starts with {setting}",
                "AgentUserNamePrefix", "agent_user_prefix", _FEDERATED),
    # Calls through the AWS MCP server, whoever makes them.
    AgentSignal(("additionalEventData", MCP_MARKER), "fixed", "called through the AWS MCP server",
                value=[{"exists": True}]),
    AgentSignal(("userIdentity", "invokedBy"), "fixed", "called through the AWS MCP server",
                value=[MCP_INVOKED_BY]),
)  # fmt: skip


def _field(record: Mapping[str, Any], path: Path) -> Any:
    value: Any = record
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


@functools.lru_cache(maxsize=16)
def _matchers(config: ActorConfig) -> tuple[tuple[AgentSignal, str, Callable[[Any], bool]], ...]:
    """The signals this configuration turns on, each compiled once (a config is hashable and long-lived)."""
    out = []
    for signal in AGENT_SIGNALS:
        setting = signal.configured(config)
        if setting is not None:
            shown = setting if isinstance(setting, str) else ""
            out.append((signal, shown, compile_pattern(signal.clause(setting))))
    return tuple(out)


def agent_signals(
    identity: Mapping[str, Any], config: ActorConfig, additional_event_data: Mapping[str, Any] | None = None
) -> tuple[str, ...]:
    """Why this caller is an agent, by exactly the fragments the agent rules carry; empty: it is not one."""
    record = {"userIdentity": identity, "additionalEventData": additional_event_data or {}}
    reasons: list[str] = []
    for signal, setting, matches in _matchers(config):
        if matches(record):
            value = _field(record, signal.path)
            reason = signal.because.format(value=value if isinstance(value, str) else "", setting=setting)
            if reason not in reasons:
                reasons.append(reason)
    return tuple(reasons)
