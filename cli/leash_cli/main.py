"""The `leash` command."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import NoReturn

import typer

app = typer.Typer(
    no_args_is_help=True,
    # Click's own help layout: it re-flows each paragraph of a docstring to the terminal's width.
    rich_markup_mode=None,
)


class Format(StrEnum):
    TABLE = "table"
    JSONL = "jsonl"


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"leash {version('leash')}")
        except PackageNotFoundError:
            typer.echo("leash (not installed: run from a checkout)")
        raise typer.Exit()


@app.callback()
def _root(
    _show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print Leash's version and exit."
    ),
) -> None:
    """Leash keeps AI coding agents on a leash in your AWS account.

    Start with `leash demo` (no AWS account needed), backtest your own CloudTrail history with
    `leash replay`, and respond to an incident with `leash lockdown`, `leash release` and `leash status`.
    """


@app.command(short_help="Play an agent incident on an emulated account (no AWS needed).")
def demo() -> None:
    """Play an AI agent's incident on an emulated AWS account, caught by Leash's real rules and handlers.

    The agent strips protections, opens a security group to the world, deletes a bucket, stops
    CloudTrail and probes its fence; each call becomes the CloudTrail event AWS would deliver. It runs
    entirely in-process on moto: no AWS account, no credentials, and nothing leaves this machine.
    """
    from rich.console import Console

    from leash_cli.demo import print_demo, run_demo

    print_demo(run_demo(), Console())


@app.command(short_help="Backtest Leash on your CloudTrail history, offline.")
def replay(
    paths: list[Path] = typer.Argument(
        ...,
        metavar="PATH",
        help="CloudTrail log files (.json or .json.gz), directories of them (an S3 sync of the trail "
        "bucket), or JSON lines of EventBridge events.",
    ),
    output: Format = typer.Option(
        Format.TABLE,
        "--format",
        help="table prints a summary; jsonl prints one JSON line per decision (the schema is in the README).",
    ),
    top: int = typer.Option(10, "--top", min=1, help="How many principals the table shows, worst first."),
    show_all: bool = typer.Option(
        False, "--all", help="Show every principal, and every call of each, in the table."
    ),
    template: Path | None = typer.Option(
        None,
        help="The Leash template whose rules to apply. The default is the template.yaml this leash ships.",
    ),
    samconfig: Path = typer.Option(
        Path("samconfig.toml"), help="Read the deploy parameters from this samconfig.toml."
    ),
    config_env: str = typer.Option(
        "default",
        "--config-env",
        help="The samconfig.toml environment to read, as with sam deploy --config-env.",
    ),
    parameter: list[str] = typer.Option(
        [],
        "--parameter",
        "-p",
        help="A deploy parameter as Key=Value. Repeat it for more; it overrides samconfig.toml.",
    ),
    account: str = typer.Option("123456789012", help="The account ID the history comes from."),
) -> None:
    """Backtest Leash on your CloudTrail history: the alerts, protections put back and lockdowns it would make.

    It reads CloudTrail's S3 log files and JSON lines of EventBridge events, matches them against the rules
    of template.yaml with your deploy parameters, decides each eventID once and locks a principal down once,
    as the deployed stack would. It never calls AWS, so roles that are agents only by their Usage=Agent tag
    are not seen as agents: name them with -p AgentRoleNames=....

    Exit status: 0 when everything was read and decided; 1 when some input could not be read (the count is
    printed); 2 for a usage error, or when nothing could be read.
    """
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from leash.settings import SettingsError
    from leash_build.cfn import parameter_problems
    from leash_cli.backtest import Summary, print_summary
    from leash_cli.replay import Replay, files
    from leash_cli.samconfig import SamConfigError, deploy_parameters
    from leash_cli.template import TEMPLATE, load_template, template_rules

    err = Console(stderr=True, soft_wrap=True)

    def refuse(*reasons: str) -> NoReturn:
        for reason in reasons:
            err.print(f"[red]error:[/] {reason}", highlight=False)
        raise typer.Exit(2)

    try:
        overrides = deploy_parameters(samconfig, config_env)
    except SamConfigError as exc:
        refuse(str(exc))
    for item in parameter:
        if "=" not in item:
            refuse(f"--parameter takes Key=Value, not {item!r}")
        key, value = item.split("=", 1)
        overrides[key] = value
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        refuse(f"no such file or directory: {', '.join(missing)}")
    inputs = list(files(paths))
    if not inputs:
        refuse(
            f"no CloudTrail log files or JSON lines under {', '.join(map(str, paths))} "
            "(looked for .json, .json.gz, .jsonl, .jsonl.gz and .ndjson)"
        )
    template_data = load_template(template or TEMPLATE)
    # The parameters as CloudFormation would check them, then as the functions check their settings
    # at start: a value either refuses is refused here, in the same words, before anything is read.
    refusals = parameter_problems(template_data, overrides)
    if refusals:
        refuse(*refusals)
    try:
        replayer = Replay(template or TEMPLATE, overrides, account=account)
    except SettingsError as exc:
        refuse(f"{exc} (a deployed function would refuse to start with this value)")
    replayer.on_problem = lambda problem: err.print(
        f"[yellow]unreadable[/] {problem.location}: {problem.reason}", highlight=False, markup=True
    )
    summary = Summary()
    total = sum(p.stat().st_size for p in inputs)
    progress = Progress(
        TextColumn("replaying"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with progress:
        task = progress.add_task("replaying", total=total)
        for decision in replayer.run(inputs, on_bytes=lambda n: progress.advance(task, n)):
            if output is Format.JSONL:
                sys.stdout.write(decision.to_json() + "\n")
            else:
                summary.add(decision)
    report = replayer.report
    if report.readable_files == 0:
        refuse(
            f"nothing could be read: of {report.files:,} files, {report.unreadable_files:,} are unreadable "
            f"and {sum(report.companions.values()):,} are CloudTrail digest or Insights files"
        )
    if output is Format.TABLE:
        descriptions = {rule.name: rule.description for rule in template_rules(template_data)}
        print_summary(report, summary, Console(), descriptions, top=None if show_all else top)
    if report.problem_count:
        err.print(
            f"{report.problem_count:,} unreadable: {report.unreadable_files:,} whole files, "
            f"{report.problem_count - report.unreadable_files:,} records (listed above)",
            highlight=False,
        )
        raise typer.Exit(1)


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


@app.command(short_help="List the EventBridge rules Leash deploys.")
def rules() -> None:
    """List every EventBridge rule template.yaml deploys: what it watches and where it sends it."""
    from rich.console import Console
    from rich.padding import Padding

    from leash_cli.template import TEMPLATE, load_template, template_rules

    listed = template_rules(load_template(TEMPLATE))
    console = Console(highlight=False)
    console.print(f"Leash deploys {len(listed)} EventBridge rules (generated from leash/catalog.py).")
    for target in dict.fromkeys(rule.target for rule in listed):
        rules = [rule for rule in listed if rule.target == target]
        bus = rules[0].bus
        where = "" if bus == "default" else f", on the {bus} bus"
        console.print(f"\n[bold]{target}[/] ({len(rules)} rule{'s' if len(rules) != 1 else ''}{where})")
        for rule in rules:
            console.print(f"  {rule.name}", style="cyan")
            console.print(Padding(rule.description.removeprefix("Leash: "), (0, 0, 0, 4)))


if __name__ == "__main__":
    app()
