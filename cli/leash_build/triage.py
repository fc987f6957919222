"""The catalog, complete by construction: every risky operation in botocore's models is decided.

For each service an agent can destroy, blind or expose (the services of `triage.yaml`), every
operation of botocore's service model whose name starts with a risky verb (`RISKY_VERBS`) must be
either in the catalog (leash/catalog.py, matched by CloudTrail eventSource and eventName) or
triaged in `triage.yaml` with a reason from `REASONS`. tests/unit/test_triage.py fails otherwise,
so a boto3 upgrade that adds a `Delete*` API is a failing test to decide, not a blind spot.

    python -m leash_build.triage --draft          # the undecided operations, as YAML to paste and review
    python -m leash_build.triage --docs docs/coverage.md   # per service: watched, reapplied, ignored (make docs)

Build-time only: the Lambda layer never reads this module or its YAML.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import botocore.session
import yaml

from leash.catalog import CATALOG, CatalogAction

TRIAGE_FILE = Path(__file__).with_name("triage.yaml")

RISKY_VERBS: dict[str, re.Pattern[str]] = {
    # What can be lost: the resource, its data, or the work in flight. Release gives an address back for
    # good; Reset wipes a setting or a credential; Schedule*Deletion is a deletion with a delay.
    "destroys": re.compile(
        r"^(Batch)?(Delete|Terminate|Purge|Remove|Deregister|Cancel|Abort|Reset|Release|Schedule\w*Deletion)"
    ),
    # What stops watching, protecting or serving: a detector, a recorder, a rule, a member account,
    # an association (a WAF, a log config, a firewall rule group) or a subscription.
    "disables": re.compile(
        r"^(Batch)?(Disable|Stop|Detach|Revoke|Disassociate|Deactivate|Leave|Suspend|Unsubscribe|Unassign"
        r"|Unlink|Unshare|Unregister|Unmonitor|Reject|Decline)"
    ),
    # Who else can use a resource: resource policies, ACLs, grants, shared snapshots and images
    # (Modify*Attribute), permissions added for another principal, public URLs.
    "exposes": re.compile(
        r"^(Share|Authorize|Grant|Enable\w*Sharing)"
        r"|^(Batch)?(Add|Create|Put|Set|Modify|Update|Associate)\w*"
        r"(Permission|Permissions|Policy|Policies|Acl|Grant|Share|Sharing|Attribute|Attributes)$"
        r"|^(Create|Update)\w*Url(Config)?$"
    ),
    # New ways in: console passwords, access keys, service credentials, tokens and presigned URLs,
    # uploaded keys and certificates, assumed roles.
    "mints credentials": re.compile(
        r"^(Create|Get|Update|Reset|Set|AdminSet|Upload|Generate|Assume)\w*"
        r"(AccessKey|LoginProfile|Token|Credential|Credentials|Password|PasswordData|Presigned\w*Url"
        r"|ApiKey|PublicKey|SigningCertificate)$"
        r"|^AssumeRole"
    ),
    # A protection weakened without being switched off: a log narrowed or retained for less,
    # encryption, versioning, object lock, public access blocks, deletion and termination protection.
    "weakens": re.compile(
        r"^(Put|Update|Modify|Set)\w*"
        r"(Logging|LoggingConfiguration|Retention|RetentionPolicy|EventSelectors|InsightSelectors"
        r"|PublicAccessBlock|Protection|Encryption|LockConfiguration|Versioning)$"
    ),
}
"""Verbs of an operation name that destroy, disable, expose, mint credentials or weaken a protection.

The set is wide on purpose (a false positive costs one triage line, a miss is a blind spot) and
anchored at the start of the name, where AWS puts the verb. Verbs that create or read are left out
(Create*, Describe*, List*, Get*), except where the created or read thing is a credential or a
grant to someone else, and Put/Update/Modify only count when the thing set is a policy, an
attribute that says who can use a resource, a log setting or a protection.
"""

REASONS: dict[str, str] = {
    "tag-metadata": "tags, names or descriptions only",
    "reversible-config": "a setting that can be put back as it was; no data lost, nothing exposed, no log narrowed",
    "recreatable": "deletes a definition that holds no data and is recreated from code",
    "in-flight-work": "cancels or stops a job, task, build or session; nothing stored is lost",
    "data-event": "data-plane call (a CloudTrail data event, not routed by management-event rules); "
    "its volume is the spike detector's business",
    "safer": "narrows access, revokes a grant or restores a protection: the account ends up safer",
    "routine-credential": "short-lived credentials every client obtains; alerting would fire on every session",
    "housekeeping": "clears a record of past work (a finding, an invitation, a notification, a report)",
    "covered-by": "watched through another cataloged call (named after the colon)",
    "read-only-despite-verb": "reads or validates; changes nothing despite its verb",
    "out-of-scope": "acts outside what Leash watches (another eventSource, Outposts, a legacy platform)",
}
"""The named reasons an operation may be left out of the catalog; every triage line starts with one."""


@dataclass(frozen=True)
class Decision:
    reason: str  # a REASONS key, or "covered-by:<Operation>"
    why: str  # free text, one line

    @property
    def reason_class(self) -> str:
        return self.reason.split(":", 1)[0]

    @classmethod
    def parse(cls, text: str) -> Decision:
        reason, _, why = str(text).partition(" - ")
        return cls(reason.strip(), why.strip())

    def __str__(self) -> str:
        return f"{self.reason} - {self.why}" if self.why else self.reason


@dataclass(frozen=True)
class ServiceTriage:
    """One botocore service model: its CloudTrail eventSource prefix and its triaged operations."""

    botocore: str  # botocore's service model name, e.g. "elbv2"
    title: str
    event_source: str  # CloudTrail eventSource host prefix, as leash.catalog's `service`
    event_names: dict[str, str]  # operation -> CloudTrail eventName (or "source:eventName") when they differ
    ops: dict[str, Decision]

    def call_of(self, operation: str) -> tuple[str, str]:
        """The (eventSource prefix, eventName) CloudTrail records for this operation."""
        name = self.event_names.get(operation, operation)
        source, _, event = name.rpartition(":")
        return (source or self.event_source), event


@cache
def load() -> dict[str, ServiceTriage]:
    data = yaml.safe_load(TRIAGE_FILE.read_text())
    return {
        name: ServiceTriage(
            botocore=name,
            title=entry["title"],
            event_source=entry["event_source"],
            event_names=dict(entry.get("event_names") or {}),
            ops={op: Decision.parse(text) for op, text in (entry.get("ops") or {}).items()},
        )
        for name, entry in data["services"].items()
    }


@cache
def operations(service: str) -> tuple[str, ...]:
    """Every operation of botocore's newest model of the service."""
    return tuple(botocore.session.get_session().get_service_model(service).operation_names)


def risky(operation: str) -> str | None:
    """The class of risky verb the operation's name starts with, or None."""
    for verb, pattern in RISKY_VERBS.items():
        if pattern.search(operation):
            return verb
    return None


def _catalog_index() -> dict[tuple[str, str], list[CatalogAction]]:
    index: dict[tuple[str, str], list[CatalogAction]] = {}
    for action in CATALOG:
        index.setdefault((action.service, action.name), []).append(action)
    return index


def cataloged(service: ServiceTriage, operation: str) -> list[CatalogAction]:
    """The catalog rows that watch this operation (any of its forms)."""
    return _catalog_index().get(service.call_of(operation), [])


@dataclass(frozen=True)
class Problems:
    undecided: dict[str, list[str]]  # risky, neither cataloged nor triaged
    unknown: dict[str, list[str]]  # triaged, but botocore's model has no such operation
    both: dict[str, list[str]]  # triaged, yet in the catalog: the triage line is stale
    bad_reasons: dict[str, list[str]]  # reason not in REASONS, or covered-by naming nothing cataloged
    uncatalogable: list[str]  # catalog rows no triaged service's operation records


def problems() -> Problems:
    triage = load()
    undecided: dict[str, list[str]] = {}
    unknown: dict[str, list[str]] = {}
    both: dict[str, list[str]] = {}
    bad: dict[str, list[str]] = {}
    recorded: set[tuple[str, str]] = set()
    for name, service in triage.items():
        ops = operations(name)
        recorded |= {service.call_of(op) for op in ops}
        for op in ops:
            if risky(op) and not cataloged(service, op) and op not in service.ops:
                undecided.setdefault(name, []).append(op)
        for op, decision in service.ops.items():
            if op not in ops:
                unknown.setdefault(name, []).append(op)
            elif cataloged(service, op):
                both.setdefault(name, []).append(op)
            if decision.reason_class not in REASONS or (
                not decision.why and decision.reason_class != "covered-by"
            ):
                bad.setdefault(name, []).append(f"{op}: {decision}")
            elif decision.reason_class == "covered-by":
                target = decision.reason.partition(":")[2]
                if not target or not _covered(triage, service, target):
                    bad.setdefault(name, []).append(f"{op}: {decision} (names no cataloged call)")
    uncatalogable = sorted({a.action for a in CATALOG if (a.service, a.name) not in recorded})
    return Problems(undecided, unknown, both, bad, uncatalogable)


def _covered(triage: dict[str, ServiceTriage], service: ServiceTriage, target: str) -> bool:
    """Whether covered-by names a cataloged call: `Operation` of this service or `service.Operation`."""
    other, _, op = target.rpartition(".")
    owner = triage.get(other) if other else service
    return owner is not None and bool(cataloged(owner, op))


def suggest(operation: str) -> str:
    """A first guess at the reason for an undecided operation, for a human to review before committing."""
    rules = (
        (r"Tag|Tags|Description$", "tag-metadata - tags only"),
        (
            r"^(Cancel|Abort|Stop)\w*(Job|Jobs|Task|Build|Run|Session|Execution|Export|Import|Query|Scan|Report)s?$",
            "in-flight-work - stops a running job; nothing stored is lost",
        ),
        (
            r"^(Revoke|Remove)\w*(Permission|Grant|Access|Ingress|Egress|Token|Session)|^(Delete|Remove)\w*(Policy|Permission)",
            "safer - takes access away",
        ),
        (r"^(Reject|Decline)", "safer - refuses a pending request; nothing existing changes"),
        (r"^(Reject|Decline|Delete)\w*Invitation", "housekeeping - an invitation, not a membership"),
        (
            r"^Get\w*(PublicKey|LoginProfile|ApiKey|SigningCertificate)$",
            "read-only-despite-verb - reads metadata",
        ),
        (r"^(Disassociate|Detach|Unassign|Unlink|Remove)", "reversible-config - re-associated in one call"),
        (r"^AssumeRole|^Get\w*Token", "routine-credential - every session does this"),
        (r"^(Delete|Deregister)", "recreatable - definition only, recreated from code"),
        (r"^Cancel", "in-flight-work - cancels a pending request; nothing stored is lost"),
        (r"^(Disable|Deactivate|Stop|Reset|Modify|Update|Set)", "reversible-config - set back in one call"),
    )
    for pattern, text in rules:
        if re.search(pattern, operation):
            return text
    return "reversible-config - REVIEW"


def draft() -> str:
    """The undecided operations as YAML lines under each service's `ops:`, with suggested reasons."""
    out = []
    for name, ops in problems().undecided.items():
        out.append(f"  {name}:\n    ops:")
        out += [f"      {op}: {suggest(op)}" for op in ops]
    return "\n".join(out) + "\n" if out else "# every risky operation is decided\n"


@dataclass(frozen=True)
class Row:
    operation: str
    verb: str | None
    actions: tuple[CatalogAction, ...]
    decision: Decision | None


def rows(service: ServiceTriage) -> Iterator[Row]:
    """Each operation of the service that is risky or cataloged, with what Leash does about it."""
    for op in operations(service.botocore):
        actions = tuple(cataloged(service, op))
        verb = risky(op)
        if verb or actions:
            yield Row(op, verb, actions, service.ops.get(op))


def counts() -> dict[str, tuple[int, int, int]]:
    """Per service: (risky or cataloged operations, cataloged, triaged with a reason)."""
    out = {}
    for name, service in load().items():
        found = list(rows(service))
        out[name] = (len(found), sum(bool(r.actions) for r in found), sum(bool(r.decision) for r in found))
    return out


def markdown() -> str:
    """docs/coverage.md: per service, what Leash watches, reapplies or deliberately ignores."""
    triage = load()
    totals = counts()
    lines = [
        "# Coverage: every risky AWS operation, decided",
        "",
        "Generated from botocore's service models, `layers/leash/leash/catalog.py` and",
        "`cli/leash_build/triage.yaml` by `make docs`; a test fails when it is stale, and another fails when",
        "botocore has a risky operation (it destroys, disables, exposes, mints credentials or weakens a",
        "protection: `leash_build.triage.RISKY_VERBS`) that is neither watched nor ignored with a reason.",
        "",
        "**watched**: Leash alerts (impact in brackets); **reapplied**: Leash also puts the protection back;",
        "**ignored**: deliberately not watched, for the reason given. Reasons:",
        "",
        *[f"- `{k}`: {v}" for k, v in REASONS.items()],
        "",
        "| service | botocore model | eventSource | risky or watched | watched | ignored |",
        "|---|---|---|---|---|---|",
    ]
    for name, service in triage.items():
        n, watched, ignored = totals[name]
        lines.append(
            f"| {service.title} | `{name}` | `{service.event_source}.amazonaws.com` | {n} | {watched} | {ignored} |"
        )
    sums = [sum(t[i] for t in totals.values()) for i in range(3)]
    lines.append(f"| **all** | | | {sums[0]} | {sums[1]} | {sums[2]} |")
    for name, service in triage.items():
        lines += ["", f"## {service.title} (`{name}`)", "", "| operation | verb | Leash |", "|---|---|---|"]
        for row in rows(service):
            lines.append(f"| `{_op_name(service, row.operation)}` | {row.verb or ''} | {_what(row)} |")
    return "\n".join(lines) + "\n"


def _op_name(service: ServiceTriage, operation: str) -> str:
    source, event = service.call_of(operation)
    if (source, event) == (service.event_source, operation):
        return operation
    shown = event if source == service.event_source else f"{source}:{event}"
    return f"{operation}` → `{shown}"


def _what(row: Row) -> str:
    if row.actions:
        parts = []
        for a in row.actions:
            verb = "reapplied" if a.protection else "watched"
            form = a.route_when or a.only_when
            when = " when `" + _compact(form) + "`" if form else ""
            parts.append(f"**{verb}** ({a.impact}){when}: {a.did}")
        return "<br>".join(parts)
    if row.decision:
        return f"ignored: `{row.decision.reason}` {row.decision.why}".rstrip()
    return "**undecided**"


def _compact(form: object) -> str:
    return json.dumps(form, separators=(",", ":")).replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check, draft or document the triage of risky AWS operations."
    )
    parser.add_argument("--draft", action="store_true", help="print the undecided operations as YAML")
    parser.add_argument("--docs", metavar="MARKDOWN", help="write docs/coverage.md")
    args = parser.parse_args(argv)
    if args.draft:
        print(draft(), end="")
        return 0
    if args.docs:
        Path(args.docs).write_text(markdown())
        print(f"{args.docs}: wrote coverage of {len(load())} services")
        return 0
    found = problems()
    for label, value in vars(found).items():
        if value:
            print(f"{label}: {value}")
    return 1 if any(vars(found).values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
