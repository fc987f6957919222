"""docs/catalog.md, generated from the catalog and the protections (`make docs`); a test fails when it is stale."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from leash.catalog import CATALOG, CLASSES
from leash.model import FAMILIES, Impact
from leash.protections import PROTECTIONS


def markdown() -> str:
    """docs/catalog.md, generated: what Leash watches and how bad each call is (`make docs`)."""
    lines = [
        "# What Leash watches",
        "",
        "Generated from `layers/leash/leash/catalog.py` by `make docs`; a test fails when it is stale.",
        "",
        "Severity = impact x who: **irreversible** and **cover-up** calls are *critical* from anyone;",
        "**destructive** calls are *high* from an agent, *medium* from a human, *low* from an exempt principal;",
        "**sensitive** calls are alerted only for agents (*medium*). Another account (`AWSAccount`) is rated",
        "like an agent. Root is always *critical*; Leash's own roles and AWS service-linked roles never alert.",
        "Sensitive calls marked *any caller* are routed for everyone, so that the handler can read a role's",
        "`Usage=Agent` tag; the others only for the identities the rules can tell are agents.",
        "",
        "## Impact classes",
        "",
        "A kind of damage is rated once, whichever service the call belongs to: a row of a class takes the",
        "class's impact and automatic lockdown (a test fails when a row of a class says otherwise, and when a",
        "row named like a log source or a backup has no class).",
        "",
        "| class | impact | agent locked down | what belongs to it |",
        "|---|---|---|---|",
        *(f"| {c.name} | {c.impact} | {'yes' if c.lockdown else 'no'} | {c.means} |" for c in CLASSES),
        "",
        "## Calls",
        "",
        "| family | action | impact | class | worse when | alert says |",
        "|---|---|---|---|---|---|",
    ]
    for a in sorted(CATALOG, key=lambda a: (FAMILIES[a.service], a.impact is Impact.SENSITIVE, a.action)):
        if a.protection:
            continue
        worse = "; ".join(f"{e.because} → {e.impact}" for e in a.escalations)
        only = f" (only when `{_pattern_text(a.only_when)}`)" if a.only_when else ""
        if a.impact is Impact.SENSITIVE and not a.routed_for_agents_only:
            only += " *any caller*"
        cls = a.impact_class.name if a.impact_class else ""
        lines.append(
            f"| {FAMILIES[a.service]} | `{a.action}`{only} | {a.impact} | {cls} | {worse} | {a.did} … |"
        )
    lines += _protections_markdown()
    return "\n".join(lines) + "\n"


def _protections_markdown() -> list[str]:
    lines = [
        "",
        "# Protections Leash puts back",
        "",
        "A call that strips one of these goes to the reapply function: it puts the protection back in the",
        "event's own region (unless the caller is exempt, or the protection is in `AlertOnlyProtections`),",
        "records the action in the ledger and sends one alert that says what it did.",
        "",
        "| protection | stripped by | put back with | remediated for | default mode |",
        "|---|---|---|---|---|",
    ]
    for name, p in PROTECTIONS.items():
        triggers = []
        for a in CATALOG:
            if a.protection == name:
                form = a.route_when or a.only_when
                when = f" when `{_pattern_text(form)}`" if form else ""
                triggers.append(f"`{a.action}`{when} ({a.impact})")
        who = ", ".join(sorted(str(k) for k in p.remediates))
        lines.append(
            f"| `{name}` ({p.title}) | {'<br>'.join(triggers)} | {', '.join(f'`{x}`' for x in p.permissions)} "
            f"| {who} | {p.default_mode} |"
        )
    return lines


def _pattern_text(pattern: Mapping[str, Any]) -> str:
    return json.dumps(dict(pattern), separators=(",", ":"))
