"""The `leash` command."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(
    help="Leash keeps AI coding agents on a leash in your AWS account.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Leash keeps AI coding agents on a leash in your AWS account."""


@app.command()
def demo() -> None:
    """An AI agent's incident on an emulated account, caught by Leash's real rules, handlers and lockdown.

    The agent strips protections, opens a security group to the world, deletes a bucket, stops
    CloudTrail and probes its fence; each call becomes the CloudTrail event AWS would deliver. Runs
    entirely in-process on moto: no AWS account, no credentials, nothing leaves this machine.
    """
    from rich.console import Console

    from leash_cli.demo import print_demo, run_demo

    print_demo(run_demo(), Console())


@app.command()
def replay(
    paths: list[Path] = typer.Argument(
        ...,
        help="CloudTrail log files (.json, .json.gz), directories of them, "
        "or JSON lines of EventBridge events.",
    ),
    output: str = typer.Option(
        "table", "--format", help="table (a summary) or jsonl (one line per matched event)."
    ),
    template: Path | None = typer.Option(
        None, help="The Leash template whose rules to apply (default: the template.yaml this leash ships)."
    ),
    samconfig: Path = typer.Option(
        Path("samconfig.toml"), help="Deploy parameters from this samconfig.toml."
    ),
    config_env: str = typer.Option(
        "default", "--config-env", help="The samconfig.toml environment to read, as sam deploy --config-env."
    ),
    parameter: list[str] = typer.Option(
        [], "--parameter", "-p", help="A deploy parameter, Key=Value (repeatable; overrides samconfig.toml)."
    ),
    account: str = typer.Option("123456789012", help="The account ID the history comes from."),
) -> None:
    """What Leash would have done with your CloudTrail history: alerts, protections put back, lockdowns.

    Reads CloudTrail's S3 log files and JSON lines of EventBridge events, matches them against the rules
    of template.yaml with your deploy parameters, and never calls AWS: roles that are agents only by
    their Usage=Agent tag are not seen as agents (name them with -p AgentRoleNames=...).
    """
    import sys

    from rich.console import Console
    from rich.progress import Progress

    from leash.settings import SettingsError
    from leash_build.cfn import parameter_problems
    from leash_cli.replay import Replay, files
    from leash_cli.samconfig import SamConfigError, deploy_parameters
    from leash_cli.template import TEMPLATE, load_template

    if output not in ("table", "jsonl"):
        raise typer.BadParameter("--format must be table or jsonl")
    try:
        overrides = deploy_parameters(samconfig, config_env)
    except SamConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    for item in parameter:
        if "=" not in item:
            raise typer.BadParameter(f"--parameter takes Key=Value, not {item!r}")
        key, value = item.split("=", 1)
        overrides[key] = value
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise typer.BadParameter(f"no such file or directory: {', '.join(missing)}")
    err = Console(stderr=True)
    # The parameters as CloudFormation would check them, then as the functions check their settings
    # at start: a value either refuses is refused here, in the same words, before anything is read.
    refusals = parameter_problems(load_template(template or TEMPLATE), overrides)
    replayer = None
    if not refusals:
        try:
            replayer = Replay(template or TEMPLATE, overrides, account=account)
        except SettingsError as exc:
            refusals = [f"{exc} (a deployed function would refuse to start with this value)"]
    if replayer is None:
        for refusal in refusals:
            err.print(f"[red]error:[/] {refusal}", soft_wrap=True)
        raise typer.Exit(2)
    inputs = list(files(paths))
    with Progress(console=err, transient=True, disable=output == "jsonl" or len(inputs) < 20) as progress:
        task = progress.add_task("replaying", total=len(inputs))
        for decision in replayer.run(paths, on_file=lambda _file: progress.advance(task)):
            if output == "jsonl":
                sys.stdout.write(decision.to_json() + "\n")
    spikes = replayer.finish_spikes()
    if output == "jsonl":
        for alert in spikes:
            sys.stdout.write(
                json.dumps(
                    {
                        "eventID": alert.event_id,
                        "eventName": alert.action,
                        "rules": ["DeniedCallsRule"],
                        "severity": str(alert.severity),
                        "plannedActions": [alert.title],
                    }
                )
                + "\n"
            )
    else:
        print_report(replayer.report, spikes, Console())
    for problem in replayer.report.problems:
        err.print(f"[yellow]skipped[/] {problem.location}: {problem.reason}")


def print_report(report, spikes, console) -> None:
    from rich.table import Table

    console.print(
        f"{report.read:,} calls read, {report.matched:,} matched Leash's rules, "
        f"{len(report.problems)} skipped (see stderr)."
    )
    for title, counts in (
        ("Matched, per rule", report.rules),
        ("Alerts, by severity", report.severities),
        ("Protections Leash would have put back", report.protections),
        ("Lockdowns Leash would have started", report.lockdowns),
    ):
        table = Table(title=title, title_justify="left")
        table.add_column("what")
        table.add_column("count", justify="right")
        for key, n in counts.most_common():
            table.add_row(str(key), f"{n:,}")
        if not counts:
            table.add_row("(none)", "0")
        console.print(table)
    for alert in spikes:
        console.print(f"[bold]{alert.severity.upper()}[/] {alert.title}")


def _stack(stack_name: str | None, region: str | None):
    import boto3

    from leash_cli.responder import find_stack
    from leash_cli.samconfig import stack_defaults

    default_name, default_region = stack_defaults(Path("samconfig.toml"))
    session = boto3.Session(region_name=region or default_region)
    return session, find_stack(session, stack_name or default_name or "leash")


def _respond(workflow: str, principal: str, reason: str, stack_name: str | None, region: str | None) -> None:
    from rich.console import Console

    from leash_cli.responder import ResponderError, run_workflow

    console = Console()
    try:
        session, stack = _stack(stack_name, region)
        who = session.client("sts").get_caller_identity()["Arn"]
        arn = stack.lockdown_arn if workflow == "lockdown" else stack.release_arn
        with console.status(f"{workflow} of {principal} running in {stack.name} ({stack.region})..."):
            outcome = run_workflow(
                session, arn, {"principal": principal, "reason": reason, "requestedBy": who, "trigger": "cli"}
            )
    except ResponderError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    style = "green" if outcome.status == "SUCCEEDED" else "red"
    console.print(f"[{style}]{outcome.headline}[/]")
    if outcome.detail:
        console.print(outcome.detail)
    console.print(f"[dim]execution {outcome.execution_arn}[/]")
    if outcome.refused:
        raise typer.Exit(3)
    if outcome.status != "SUCCEEDED":
        raise typer.Exit(1)


STACK = typer.Option(None, "--stack-name", help="The Leash stack (default: samconfig.toml's, else 'leash').")
REGION = typer.Option(None, "--region", help="Its region (default: samconfig.toml's, else your AWS config).")


@app.command()
def lockdown(
    principal: str = typer.Argument(
        ..., help="Role name, role ARN, assumed-role ARN (from the alert) or IAM user ARN."
    ),
    reason: str = typer.Option(..., "--reason", "-r", help="Why: goes into the ledger and the notification."),
    stack_name: str | None = STACK,
    region: str | None = REGION,
) -> None:
    """Lock a principal down now: deny-all, revoke older sessions, deactivate a user's keys. Waits for the outcome."""
    _respond("lockdown", principal, reason, stack_name, region)


@app.command()
def release(
    principal: str = typer.Argument(..., help="The principal that was locked down."),
    reason: str = typer.Option("released by the responder", "--reason", "-r", help="Why: for the ledger."),
    stack_name: str | None = STACK,
    region: str | None = REGION,
) -> None:
    """Release a lockdown: remove the deny-all, reactivate only the keys Leash deactivated."""
    _respond("release", principal, reason, stack_name, region)


@app.command()
def status(
    stack_name: str | None = STACK,
    region: str | None = REGION,
    limit: int = typer.Option(20, help="How many records."),
) -> None:
    """Recent lockdowns, releases and remediations, from the audit ledger."""
    from rich.console import Console
    from rich.table import Table

    from leash_cli.responder import ResponderError, recent_ledger

    console = Console()
    try:
        session, stack = _stack(stack_name, region)
        records = recent_ledger(session, stack.ledger_table, limit)
    except ResponderError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    table = Table(title=f"Leash ledger - {stack.name} ({stack.region})")
    for column in ("time", "what", "outcome", "principal / resource", "by / detail"):
        table.add_column(column, overflow="fold")
    for r in records:
        what = r.get("kind") or r.get("protection") or ""
        who = r.get("requestedBy") or r.get("actor") or ""
        table.add_row(
            str(r.get("time", "")),
            what,
            str(r.get("outcome", "")),
            str(r.get("pk", "")).split("#", 1)[-1] if r.get("kind") else str(r.get("resource", "")),
            f"{who}\n{str(r.get('detail', ''))[:160]}",
        )
    console.print(table if records else "The ledger is empty.")


@app.command()
def rules() -> None:
    """List the EventBridge rules template.yaml deploys, with what each watches."""
    from rich.console import Console
    from rich.table import Table

    from leash_build.patterns import notify_rules

    table = Table(title="Leash EventBridge rules (generated from leash/catalog.py)")
    table.add_column("rule")
    table.add_column("watches")
    for rule in notify_rules():
        table.add_row(rule.name, rule.description)
    Console().print(table)


if __name__ == "__main__":
    app()
