"""The backtest's summary: per principal, what it did to which resource and what Leash would do; per rule.

Built from the stream of `Decision`s (never held in memory: one summary per principal), printed by
`leash replay` in table mode.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from leash.incidents import SlackTraffic
from leash.model import Severity
from leash_cli.replay import Decision, Report

RANK = {str(s): i for i, s in enumerate(Severity)}  # critical first


@dataclass
class Principal:
    """One principal's part of the history: an agent role's sessions together, a human as one identity."""

    principal: str
    label: str = ""
    humans: set[str] = field(default_factory=set)  # the people behind its sessions (source identity)
    severities: Counter = field(default_factory=Counter)
    calls: Counter = field(default_factory=Counter)  # (call, resource, severity) -> alerts
    protections: Counter = field(default_factory=Counter)
    locked: bool = False
    not_repeated: int = 0

    def add(self, decision: Decision) -> None:
        self.label = self.label or decision.actor_label
        if decision.human_behind:
            self.humans.add(decision.human_behind)
        if decision.severity is None:
            return
        self.severities[decision.severity] += 1
        self.calls[(decision.call, decision.resource, decision.severity)] += 1
        self.protections.update(decision.would_reapply)
        self.locked = self.locked or decision.lockdown == "requested"
        self.not_repeated += decision.lockdown == "not-repeated"

    @property
    def rank(self) -> tuple[int, ...]:
        """Sort key: locked first, then by their worst alerts, then by how many."""
        return (
            -self.locked,
            *(-self.severities[str(s)] for s in Severity),
        )


class Summary:
    """Folds decisions into per-principal summaries as they stream by."""

    def __init__(self) -> None:
        self.principals: dict[str, Principal] = {}

    def add(self, decision: Decision) -> None:
        if decision.status != "would-alert":
            return
        key = decision.principal or decision.actor_arn or "(unknown principal)"
        self.principals.setdefault(key, Principal(key)).add(decision)


def print_summary(
    report: Report,
    summary: Summary,
    console: Console,
    descriptions: Mapping[str, str],
    top: int | None = 10,
    traffic: SlackTraffic | None = None,
) -> None:
    """The table a security engineer reads: totals, per principal (top N), protections, per rule."""
    console.print(_headline(report), highlight=False)
    alerts = sum(report.severities.values())
    if not alerts:
        console.print("Leash would have sent no alert.")
    else:
        locked = len(report.lockdowns)
        console.print(
            f"Leash would have sent {alerts:,} alerts ({_severities(report.severities)}), put back "
            f"{sum(report.protections.values()):,} protections and locked down {locked:,} "
            f"principal{'' if locked == 1 else 's'}.",
            highlight=False,
        )
    if traffic is not None and traffic.alerts:
        console.print(slack_traffic_line(traffic), highlight=False)
    principals = sorted(summary.principals.values(), key=lambda p: p.rank)
    shown = principals if top is None else principals[:top]
    if principals:
        more = "" if len(shown) == len(principals) else f"; the {len(shown)} worst shown, --all shows all"
        console.print(f"\n[bold]Per principal[/], worst first ({len(principals)}{more})", highlight=False)
    for p in shown:
        console.print(_principal(p, None if top is None else 6))
        console.print()
    if report.protections:
        table = Table(title="Protections Leash would have put back", title_justify="left", box=box.SIMPLE)
        table.add_column("protection", no_wrap=True)
        table.add_column("times", justify="right")
        table.add_column("what Leash does")
        for name, n in report.protections.most_common():
            table.add_row(name, f"{n:,}", Text(report.fixes.get(name, "")))
        console.print(table)
    if report.rules:
        table = Table(title="Per rule", title_justify="left", box=box.SIMPLE)
        table.add_column("rule", no_wrap=True)
        table.add_column("matched", justify="right")
        table.add_column("watches")
        for rule, n in report.rules.most_common():
            table.add_row(rule, f"{n:,}", Text(descriptions.get(rule, "").removeprefix("Leash: ")))
        console.print(table)


def slack_traffic_line(traffic: SlackTraffic) -> str:
    """What Slack and the pager would have received: incidents, not one message per alert."""
    pages = ", ".join(f"{n:,} {s}" for s, n in traffic.pages.items() if n) or "none"
    return (
        f"In Slack: {traffic.incidents:,} incident{'s' if traffic.incidents != 1 else ''}, "
        f"{traffic.top_level:,} top-level posts ({traffic.parents:,} incident messages, "
        f"{traffic.broadcasts:,} critical broadcasts) and {traffic.replies:,} thread replies with a bot token; "
        f"{traffic.webhook_posts + traffic.alone + traffic.digests:,} posts with the webhook alone "
        f"({traffic.webhook_posts:,} first or critical alerts, {traffic.digests:,} digests). "
        f"Pages (critical and high): {pages}."
    )


def _severities(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{counts[str(s)]:,} {s}" for s in Severity if counts.get(str(s)))


def _headline(report: Report) -> str:
    files = f"{report.readable_files:,} file{'s' if report.readable_files != 1 else ''}"
    line = f"{report.read:,} calls read from {files}; {report.matched:,} matched Leash's rules"
    notes = []
    if report.duplicates:
        notes.append(f"{report.duplicates:,} repeated eventIDs decided once")
    for kind, n in sorted(report.companions.items()):
        notes.append(f"{n:,} CloudTrail {kind} file{'s' if n != 1 else ''} skipped")
    if report.problem_count:
        notes.append(f"{report.problem_count:,} unreadable, listed on stderr")
    if report.unseen:
        regions = ", ".join(f"{region} ×{n:,}" for region, n in sorted(report.unseen.items()))
        notes.append(
            f"{sum(report.unseen.values()):,} calls in regions WatchedRegions leaves out not seen: {regions}"
        )
    return line + (f" ({'; '.join(notes)})." if notes else ".")


def _principal(p: Principal, limit: int | None) -> Table:
    who = p.label or p.principal
    if p.humans:
        who += ", by " + ", ".join(sorted(p.humans)[:3]) + (" and others" if len(p.humans) > 3 else "")
    alerts = sum(p.severities.values())
    would = []
    if p.protections:
        n = sum(p.protections.values())
        would.append(f"put back {n} protection{'s' if n != 1 else ''}")
    if p.locked:
        again = f" ({p.not_repeated} later requests not repeated)" if p.not_repeated else ""
        would.append(f"lock it down once{again}")
    table = Table(
        title=f"[bold]{escape(who)}[/]: {alerts} alert{'s' if alerts != 1 else ''} ({_severities(p.severities)})",
        title_justify="left",
        caption=("Leash would " + " and ".join(would)) if would else None,
        caption_justify="left",
        box=box.SIMPLE,
        show_header=False,
        pad_edge=False,
    )
    table.add_column("severity", no_wrap=True)
    table.add_column("call", no_wrap=True, max_width=30)
    table.add_column("resource", overflow="fold")
    table.add_column("alerts", justify="right", no_wrap=True)
    ordered = sorted(p.calls.items(), key=lambda item: (RANK[item[0][2]], -item[1]))
    for (name, resource, severity), n in ordered if limit is None else ordered[:limit]:
        table.add_row(severity, Text(name), Text(short_resource(resource)), f"×{n}" if n > 1 else "")
    if limit is not None and len(ordered) > limit:
        table.add_row("", f"… {len(ordered) - limit} more (--all)", "", "")
    return table


def short_resource(resource: str) -> str:
    """An ARN's resource part (trail/main-trail, key/1234…), which is what a reader recognises."""
    if resource.startswith("arn:") and resource.count(":") >= 5:
        return resource.split(":", 5)[5]
    return resource
