"""One alert as data: who, what, where, how bad, and what Leash already did. Renderers put it into words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from leash.model import ActionKind, LeashAction, Severity

# The SNS message attribute (value "true") of a second-path alert its sender already posted to Slack:
# the Slack forwarder's subscription filters it out and the forwarder skips it, so Slack gets it once.
POSTED_TO_SLACK = "posted_to_slack"


@dataclass(frozen=True, slots=True)
class Alert:
    """What the on-call engineer reads: who, what, where, how bad, and what Leash already did."""

    severity: Severity
    title: str  # "agent ai-agent-deploy deleted DB instance prod-db"
    actor: Mapping[str, Any]  # Actor.to_dict()
    action: str  # "rds:DeleteDBInstance"
    resource: str
    account: str
    region: str
    time: str  # ISO-8601 UTC, as CloudTrail wrote it
    event_id: str
    reasons: tuple[str, ...] = ()  # why this severity
    leash_did: tuple[LeashAction, ...] = ()  # what Leash already did about it
    source_ip: str | None = None
    user_agent: str | None = None
    kind: str = "api-call"  # api-call | spike | workflow | alarm | message | health | heartbeat
    notice: str = ""  # for kind "workflow": what the workflow did (lockdown-applied, released, ...)
    # Tampering with Leash and failed health checks: also sent straight to Slack by the sender, a second path
    # that does not depend on the alerts topic (which may be what was tampered with).
    second_path: bool = False
    # Read from the trail's log file by the reconciler this many seconds after the call: EventBridge never
    # delivered it (leash.reconcile). None: delivered by EventBridge as usual.
    caught_late_seconds: int | None = None
    impact: str = ""  # for kind "api-call": the catalog's Impact of the call (leash.model.Impact)
    regions: tuple[str, ...] = ()  # for kind "spike": the regions the counted calls came from
    schema: int = field(default=2)

    @property
    def console_url(self) -> str:
        """The call's CloudTrail event in the console of the call's region; none for an alert about no one call
        (a spike names the regions of its calls, a workflow notice has no CloudTrail event)."""
        if self.kind != "api-call":
            return ""
        return (
            f"https://{self.region}.console.aws.amazon.com/cloudtrailv2/home"
            f"?region={self.region}#/events/{self.event_id}"
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = str(self.severity)
        data["actor"] = dict(self.actor)
        data["reasons"] = list(self.reasons)
        data["regions"] = list(self.regions)
        data["leash_did"] = [action.to_dict() for action in self.leash_did]
        data["console_url"] = self.console_url
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["severity"] = Severity(fields["severity"])
        fields["reasons"] = tuple(fields.get("reasons") or ())
        fields["regions"] = tuple(fields.get("regions") or ())
        fields["leash_did"] = tuple(_action(a) for a in fields.get("leash_did") or ())
        return cls(**fields)


def _action(data: Any) -> LeashAction:
    """One "What Leash did" entry; an alert of schema 1 (before a deploy) holds a sentence, kept as a note."""
    if isinstance(data, Mapping):
        return LeashAction.from_dict(data)
    return LeashAction(ActionKind.NOTE, reason=str(data))
