"""Who made a call: agent, human, AWS service, Leash itself, an exempt principal, or root."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leash.agents import MCP_MARKER, agent_signals
from leash.model import ActorKind, permission_set_of
from leash.settings import ActorConfig


@dataclass(frozen=True, slots=True)
class Actor:
    """The principal behind a call, classified, with what the event says about the human behind it."""

    kind: ActorKind
    arn: str
    name: str  # role name, user name, "root", or the service principal
    identity_type: str  # CloudTrail userIdentity.type
    account: str = ""
    role_arn: str | None = None  # the IAM role behind an assumed-role session
    session_name: str | None = None
    source_identity: str | None = None
    signals: tuple[str, ...] = field(default=())  # why Leash calls it an agent
    principal_id: str | None = None  # userIdentity.principalId of an identity without an ARN
    on_behalf_of: str | None = None  # the IAM Identity Center user ID of an identity-enhanced session

    @property
    def permission_set(self) -> str | None:
        """The IAM Identity Center permission set whose AWS-managed role made the call, else None."""
        return permission_set_of(self.role_arn or "") if self.identity_type == "AssumedRole" else None

    @property
    def person(self) -> str | None:
        """The human behind the session, as the event names them: the source identity, the Identity Center
        user name (an SSO role's session name), or the Identity Center user ID (onBehalfOf)."""
        if self.source_identity:
            return self.source_identity
        if self.permission_set and self.session_name:
            return self.session_name
        return self.on_behalf_of

    @property
    def label(self) -> str:
        """Kind and name, as an alert's title starts: "agent ai-agent-deploy", "root user",
        "human alice@example.com (via SSO permission set AdministratorAccess)"."""
        if self.kind is ActorKind.ROOT:
            return "root user"
        if self.kind is ActorKind.EXTERNAL:
            return f"external account {self.name}"
        if self.permission_set:  # the role is shared by everyone given the set: name the person
            return f"{self.kind} {self.person or self.name} (via SSO permission set {self.permission_set})"
        return f"{self.kind} {self.name}"

    @property
    def display(self) -> str:
        """One line for an alert: "agent ai-agent-deploy for jordan (source identity), session sess_a8f3b21c"."""
        parts = [self.label]
        named = {self.name, self.person if self.permission_set else None}  # already in the label
        if self.source_identity and self.source_identity not in named:
            parts[0] += f" for {self.source_identity} (source identity)"
        for value, words in (
            (self.on_behalf_of, "for Identity Center user {}"),
            (self.session_name, "session {}"),
            (self.principal_id, "principal {}"),
        ):
            if value and value not in named | {self.source_identity}:
                parts.append(words.format(value))
                named.add(value)
        return ", ".join(parts)

    @property
    def lockable(self) -> bool:
        """Whether a lockdown of this principal makes sense (Leash refuses the others). Not an Identity Center
        permission set's role: AWS manages it (IAM refuses to change it) and every user of the set shares it."""
        return (
            self.kind in (ActorKind.AGENT, ActorKind.HUMAN)
            and self.identity_type in ("AssumedRole", "IAMUser")
            and not self.permission_set
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "arn": self.arn,
            "name": self.name,
            "identityType": self.identity_type,
            "account": self.account,
            "roleArn": self.role_arn,
            "sessionName": self.session_name,
            "sourceIdentity": self.source_identity,
            "signals": list(self.signals),
            "principalId": self.principal_id,
            "onBehalfOf": self.on_behalf_of,
            "permissionSet": self.permission_set,
            "person": self.person,
            "lockable": self.lockable,
            "label": self.label,
            "display": self.display,
        }


TagLookup = Callable[[str], Mapping[str, str] | None]
"""Role name -> its tags (None when they could not be read)."""


class RoleTagCache:
    """`iam:ListRoleTags` with a per-container cache, so a busy agent costs one IAM call per TTL."""

    def __init__(
        self,
        iam_client: Callable[[], Any],
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._new_client = iam_client  # a factory: the client is built on the first lookup, not at cold start
        self._iam: Any = None
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, Mapping[str, str] | None]] = {}
        self.errors = 0

    def __call__(self, role_name: str) -> Mapping[str, str] | None:
        now = self._clock()
        hit = self._cache.get(role_name)
        if hit and now - hit[0] < self._ttl:
            return hit[1]
        tags: Mapping[str, str] | None
        try:
            self._iam = self._iam or self._new_client()
            pages = self._iam.get_paginator("list_role_tags").paginate(RoleName=role_name)
            tags = {t["Key"]: t["Value"] for page in pages for t in page.get("Tags", [])}
        except Exception:  # noqa: BLE001 - an unreadable tag must not lose the alert
            self.errors += 1
            tags = None
        self._cache[role_name] = (now, tags)
        return tags


def _role_name_from_arn(arn: str) -> str:
    # arn:aws:iam::123:role/path/to/name -> name ; arn:aws:sts::123:assumed-role/name/session -> name
    resource = arn.split(":", 5)[-1]
    if resource.startswith("assumed-role/"):
        return resource.split("/")[1]
    return resource.rsplit("/", 1)[-1]


def _session_from_arn(arn: str) -> str | None:
    resource = arn.split(":", 5)[-1]
    if resource.startswith("assumed-role/") and resource.count("/") >= 2:
        return resource.split("/", 2)[2]
    return None


def _text(mapping: Mapping[str, Any], key: str) -> str:
    """A text field of a userIdentity; anything else (a number, a list: not CloudTrail) reads as absent."""
    value = mapping.get(key)
    return value if isinstance(value, str) else ""


def _object(mapping: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = mapping.get(key)
    return value if isinstance(value, Mapping) else {}


def classify_actor(
    identity: Mapping[str, Any],
    config: ActorConfig,
    *,
    additional_event_data: Mapping[str, Any] | None = None,
    tag_lookup: TagLookup | None = None,
) -> Actor:
    """Classify a CloudTrail `userIdentity` per SPEC: root, aws-service, external, leash, exempt, agent or human.

    An identity without an ARN is named by what it has: another account (`AWSAccount`) by its account
    ID, which is also the principal Leash counts and records; others by their principalId. Total on any
    mapping: a field of the wrong type reads as absent, never as an exception.
    """
    identity_type = _text(identity, "type") or "Unknown"
    arn = _text(identity, "arn")
    account = _text(identity, "accountId")
    invoked_by = _text(identity, "invokedBy")
    principal_id = None if arn else (_principal_id(identity) or None)
    context = _object(identity, "sessionContext")
    issuer = _object(context, "sessionIssuer")
    source_identity = _text(context, "sourceIdentity") or None
    role_arn = (_text(issuer, "arn") or None) if issuer.get("type") == "Role" else None

    def actor(kind: ActorKind, name: str, signals: tuple[str, ...] = ()) -> Actor:
        return Actor(
            kind=kind,
            arn=arn or _principal_without_arn(identity_type, identity),
            name=name,
            identity_type=identity_type,
            account=account,
            role_arn=role_arn,
            session_name=_session_from_arn(arn) if identity_type == "AssumedRole" else None,
            source_identity=source_identity,
            signals=signals,
            principal_id=principal_id,
            on_behalf_of=_text(_object(identity, "onBehalfOf"), "userId") or None,
        )

    if identity_type == "Root":
        return actor(ActorKind.ROOT, "root")
    # AWS acting on its own ("invokedBy": "AWS Internal", no type, no ARN) is a service too.
    internal = not _text(identity, "type") and not arn and invoked_by
    if identity_type == "AWSService" or internal or (role_arn and ":role/aws-service-role/" in role_arn):
        return actor(ActorKind.AWS_SERVICE, invoked_by or _role_name_from_arn(role_arn or arn))
    if identity_type == "AWSAccount":  # a caller from another account, let in by a resource policy
        return actor(ActorKind.EXTERNAL, account or principal_id or "(unknown)")

    if identity_type == "AssumedRole":
        name = _text(issuer, "userName") or _role_name_from_arn(arn)
    elif identity_type == "IAMUser":
        name = _text(identity, "userName") or _role_name_from_arn(arn)
    elif arn:
        name = _role_name_from_arn(arn)
    else:  # Identity Center users, directory users, Unknown: whatever names them
        name = _text(identity, "userName") or principal_id or identity_type

    if is_leash_session(identity, config):
        return actor(ActorKind.LEASH, name)
    if config.exempt_arns & {arn, role_arn, role_arn and _strip_role_path(role_arn)}:
        return actor(ActorKind.EXEMPT, name)

    signals = agent_signals(identity, config, additional_event_data)
    if not signals and tag_lookup and identity_type == "AssumedRole":
        tags = tag_lookup(name)
        if tags and tags.get(config.agent_tag_key) == config.agent_tag_value:
            signals = (f"role tag {config.agent_tag_key}={config.agent_tag_value}",)
    if signals:
        return actor(ActorKind.AGENT, name, signals)
    return actor(ActorKind.HUMAN, name)


def is_leash_session(identity: Mapping[str, Any], config: ActorConfig) -> bool:
    """A session of one of this stack's roles, by role ID ("AROA...:session"), as the rules' exclusion reads it:
    a role with a Leash-like name, or a Leash role deleted and created again, has another ID."""
    role_id, colon, _session = _text(identity, "principalId").partition(":")
    return bool(colon) and role_id in config.leash_role_ids


def _principal_id(identity: Mapping[str, Any]) -> str:
    """The most specific id of an identity without an ARN (principalId, or the Identity Center user)."""
    return _text(identity, "principalId") or _text(_object(identity, "onBehalfOf"), "userId")


def _principal_without_arn(identity_type: str, identity: Mapping[str, Any]) -> str:
    """Whom Leash counts and records for an identity without an ARN (spike counters, ledger, alerts)."""
    if identity_type == "AWSAccount":  # one principal per other account: its callers probe as one
        return _text(identity, "accountId") or _principal_id(identity)
    return _text(identity, "invokedBy") or _principal_id(identity) or _text(identity, "accountId")


def _strip_role_path(role_arn: str) -> str:
    """arn:aws:iam::1:role/path/name -> arn:aws:iam::1:role/name (exempt lists are often written without paths)."""
    head, _, resource = role_arn.partition(":role/")
    return f"{head}:role/{resource.rsplit('/', 1)[-1]}"


def is_agent_role(role_name: str, config: ActorConfig, tag_lookup: TagLookup | None = None) -> bool:
    """Whether a role (the target of a call, not the caller) is an agent role: by name, prefix or Usage tag."""
    if not role_name:
        return False
    if role_name in config.agent_role_names:
        return True
    if config.agent_role_prefix and role_name.startswith(config.agent_role_prefix):
        return True
    tags = tag_lookup(role_name) if tag_lookup else None
    return tags is not None and tags.get(config.agent_tag_key) == config.agent_tag_value


class ActorCache:
    """classify_actor for many calls by few identities (a spike batch, a replay): each identity once.

    The key holds every field classify_actor reads; an identity with unhashable values (malformed)
    is classified without the cache. Scope one cache to one batch when tags can change.
    """

    def __init__(self, config: ActorConfig, tag_lookup: TagLookup | None = None, size: int = 4096):
        self._config = config
        self._tags = tag_lookup
        self._size = size
        self._actors: dict[tuple[Any, ...], Actor] = {}

    def __call__(
        self, identity: Mapping[str, Any], additional_event_data: Mapping[str, Any] | None = None
    ) -> Actor:
        context = identity.get("sessionContext") or {}
        issuer = (context.get("sessionIssuer") or {}) if isinstance(context, Mapping) else None
        if not isinstance(issuer, Mapping):
            return classify_actor(
                identity, self._config, additional_event_data=additional_event_data, tag_lookup=self._tags
            )
        key = (
            identity.get("type"),
            identity.get("arn"),
            identity.get("accountId"),
            identity.get("invokedBy"),
            identity.get("principalId"),
            _principal_id(identity) if not identity.get("arn") else None,
            identity.get("userName"),
            context.get("sourceIdentity"),
            issuer.get("type"),
            issuer.get("arn"),
            issuer.get("userName"),
            MCP_MARKER in (additional_event_data or {}),
        )
        try:
            return self._actors[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value: classify, do not cache
            return classify_actor(
                identity, self._config, additional_event_data=additional_event_data, tag_lookup=self._tags
            )
        if len(self._actors) >= self._size:
            self._actors.clear()
        actor = self._actors[key] = classify_actor(
            identity, self._config, additional_event_data=additional_event_data, tag_lookup=self._tags
        )
        return actor
