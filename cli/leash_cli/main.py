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


def _stack(stack_name: str | None, region: str | None, profile: str | None):
    """The session (--profile, --region, else samconfig.toml's region, else the AWS config's) and the stack."""
    from leash_cli.responder import ResponderError, connect, find_stack
    from leash_cli.samconfig import SamConfigError, stack_defaults

    try:
        default_name, default_region = stack_defaults(Path("samconfig.toml"))
    except SamConfigError as exc:
        raise ResponderError(str(exc)) from exc
    aws = connect(profile, region or default_region, "--region" if region else "samconfig.toml")
    return aws, find_stack(aws, stack_name or default_name or "leash")


def _fail(message: str) -> typer.Exit:
    """An error for the responder, on stderr in one line (stdout stays empty, even with --json): exit code 2."""
    from rich.console import Console

    Console(stderr=True).print(f"[red]error:[/] {message}", soft_wrap=True, highlight=False)
    return typer.Exit(2)


def _respond(
    workflow: str,
    principal: str,
    reason: str,
    stack_name: str | None,
    region: str | None,
    profile: str | None,
    as_json: bool,
) -> None:
    import sys

    from rich.console import Console

    from leash_cli.responder import Interrupted, ResponderError, run_workflow

    err = Console(stderr=True, highlight=False)
    aws = None
    try:
        aws, stack = _stack(stack_name, region, profile)
        who = aws.identify()
        arn = stack.lockdown_arn if workflow == "lockdown" else stack.release_arn
        with err.status(f"{workflow} of {principal} running in {stack.name} ({stack.region})..."):
            outcome = run_workflow(
                aws,
                arn,
                {"principal": principal, "reason": reason, "requestedBy": who, "trigger": "cli"},
                on_started=lambda execution: err.print(f"[dim]started {execution}[/]", soft_wrap=True),
            )
    except ResponderError as exc:
        raise _fail(str(exc)) from exc
    except Interrupted as stop:
        err.print(stop.explain(workflow, aws.profile if aws else profile), soft_wrap=True)
        if as_json:
            sys.stdout.write(json.dumps(stop.to_json(principal, workflow), indent=2) + "\n")
        raise typer.Exit(130) from None
    if as_json:
        sys.stdout.write(json.dumps(outcome.to_json(principal, workflow), indent=2) + "\n")
    else:
        out = Console(highlight=False)
        style = "green" if outcome.status == "SUCCEEDED" else "red"
        out.print(f"[{style}]{outcome.headline}[/]", soft_wrap=True)
        if outcome.detail:
            out.print(outcome.detail, soft_wrap=True)
        out.print(f"[dim]execution {outcome.execution_arn}[/]", soft_wrap=True)
    if outcome.refused:
        raise typer.Exit(3)
    if outcome.status != "SUCCEEDED":
        raise typer.Exit(1)


STACK = typer.Option(None, "--stack-name", help="The Leash stack (default: samconfig.toml's, else 'leash').")
REGION = typer.Option(None, "--region", help="Its region (default: samconfig.toml's, else your AWS config).")
PROFILE = typer.Option(
    None, "--profile", help="The AWS profile to use (default: AWS_PROFILE, else the default credentials)."
)
JSON = typer.Option(
    False, "--json", help="Print a JSON document on stdout (errors still go to stderr, exit code 2)."
)


@app.command()
def lockdown(
    principal: str = typer.Argument(
        ..., help="Role name, role ARN, assumed-role ARN (from the alert) or IAM user ARN."
    ),
    reason: str = typer.Option(..., "--reason", "-r", help="Why: goes into the ledger and the notification."),
    stack_name: str | None = STACK,
    region: str | None = REGION,
    profile: str | None = PROFILE,
    as_json: bool = JSON,
) -> None:
    """Lock a principal down now: deny-all, revoke older sessions, deactivate a user's keys. Waits for the outcome.

    Exit codes: 0 done, 1 the workflow failed, 2 usage or AWS error, 3 refused, 130 interrupted.
    Ctrl-C stops the waiting, not the workflow: it prints the execution ARN and how to follow it.
    """
    _respond("lockdown", principal, reason, stack_name, region, profile, as_json)


@app.command()
def release(
    principal: str = typer.Argument(..., help="The principal that was locked down."),
    reason: str = typer.Option("released by the responder", "--reason", "-r", help="Why: for the ledger."),
    stack_name: str | None = STACK,
    region: str | None = REGION,
    profile: str | None = PROFILE,
    as_json: bool = JSON,
) -> None:
    """Release a lockdown: remove the deny-all, reactivate only the keys Leash deactivated.

    Exit codes as for lockdown: 0 done, 1 failed, 2 usage or AWS error, 3 refused, 130 interrupted.
    """
    _respond("release", principal, reason, stack_name, region, profile, as_json)


@app.command()
def status(
    stack_name: str | None = STACK,
    region: str | None = REGION,
    profile: str | None = PROFILE,
    limit: int = typer.Option(20, min=1, max=1000, help="How many records, newest first."),
    since: str | None = typer.Option(
        None, "--since", help="Only records since: 30m, 24h, 7d, 2w, or an ISO date or time (UTC by default)."
    ),
    as_json: bool = JSON,
) -> None:
    """Recent lockdowns, releases, remediations and acknowledgements, newest first, from the audit ledger."""
    import sys

    from rich.console import Console

    from leash_cli.responder import ResponderError, ledger_table, plain, recent_ledger, since_time

    try:
        start = since_time(since) if since else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    try:
        aws, stack = _stack(stack_name, region, profile)
        records = recent_ledger(aws, stack.ledger_table, limit, since=start)
    except ResponderError as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        sys.stdout.write(json.dumps([plain(r) for r in records], indent=2, default=str) + "\n")
        return
    window = f" since {start.replace('T', ' ')} UTC" if start else ""
    if not records:
        Console(stderr=True).print(f"No ledger records{window} in {stack.name} ({stack.region}).")
        return
    out = Console()
    out.print(ledger_table(records, f"Leash ledger - {stack.name} ({stack.region}){window}", out.width))


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
