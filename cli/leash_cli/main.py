"""The `leash` command."""

from __future__ import annotations

import json
import re
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
    region: str | None = typer.Option(
        None,
        "--region",
        help="The region Leash is deployed in (default: samconfig.toml's region, else us-east-1). Calls of "
        "other regions are seen as its forwarders send them: those of WatchedRegions, and the global "
        "services' from us-east-1.",
    ),
) -> None:
    """Backtest Leash on your CloudTrail history: the alerts, protections put back and lockdowns it would make.

    It reads CloudTrail's S3 log files and JSON lines of EventBridge events, matches them against the rules
    of template.yaml with your deploy parameters, decides each eventID once and locks a principal down once,
    as the deployed stack would. It never calls AWS, so roles that are agents only by their Usage=Agent tag
    are not seen as agents: name them with -p AgentRoleNames=....

    Exit status: 0 when everything was read and decided; 1 when some input could not be read (the count is
    printed); 2 for a usage error, or when nothing could be read; 141 when the reader of the output stopped
    reading (as with | head).
    """
    import os
    import sys

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from leash.settings import SettingsError
    from leash_build.cfn import parameter_problems
    from leash_build.regions import WATCHED_REGIONS
    from leash_cli.backtest import Summary
    from leash_cli.replay import Replay, files
    from leash_cli.samconfig import SamConfigError, deploy_parameters, stack_defaults
    from leash_cli.template import TEMPLATE, load_template

    err = Console(stderr=True, soft_wrap=True)

    def refuse(*reasons: str) -> NoReturn:
        for reason in reasons:
            err.print(f"[red]error:[/] {escape(reason)}", highlight=False)
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
    remote = [str(p) for p in paths if str(p).startswith("s3:")]
    if remote:  # a Path keeps one slash of "s3://"
        refuse(
            f"{remote[0].replace('s3:/', 's3://', 1)} is in S3: replay reads local copies, "
            "e.g. aws s3 sync s3://my-trail-bucket/AWSLogs/111122223333/ trail/ and then leash replay trail/"
        )
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
    # WatchedRegions is read even from a template that does not declare it yet (the regions enabled by default).
    declared = WATCHED_REGIONS in template_data.get("Parameters", {})
    refusals = parameter_problems(
        template_data, {k: v for k, v in overrides.items() if declared or k != WATCHED_REGIONS}
    )
    if refusals:
        refuse(*refusals)
    home = region or stack_defaults(samconfig, config_env)[1] or "us-east-1"
    # The home region is checked as CloudFormation checks each of WatchedRegions (the parameter's own pattern).
    region_pattern = template_data.get("Parameters", {}).get(WATCHED_REGIONS, {}).get("AllowedPattern")
    if region_pattern and not re.fullmatch(region_pattern, home):
        refuse(f"--region {home} is not a region code (e.g. us-east-1, eu-west-1)")
    try:
        replayer = Replay(template or TEMPLATE, overrides, account=account, home_region=home)
    except SettingsError as exc:
        refuse(f"{exc} (a deployed function would refuse to start with this value)")
    replayer.on_problem = lambda problem: err.print(
        f"[yellow]unreadable[/] {escape(problem.location)}: {escape(problem.reason)}", highlight=False
    )
    summary = Summary()
    progress = Progress(
        TextColumn("replaying"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
        redirect_stdout=False,  # stdout is the JSON lines, for a pipe or a file
        redirect_stderr=False,
    )
    try:
        _backtest(replayer, inputs, output, progress, summary, err, template_data, None if show_all else top)
    except BrokenPipeError:
        # The reader stopped reading (`| head`): nothing more to say, and no traceback at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(141) from None


def _backtest(replayer, inputs, output, progress, summary, err, template_data, top) -> None:
    import sys

    from rich.console import Console

    from leash_cli.backtest import print_summary
    from leash_cli.template import template_rules

    with progress:
        task = progress.add_task("replaying", total=sum(p.stat().st_size for p in inputs))
        for decision in replayer.run(inputs, on_bytes=lambda n: progress.advance(task, n)):
            if output is Format.JSONL:
                sys.stdout.write(decision.to_json() + "\n")
            else:
                summary.add(decision)
    sys.stdout.flush()
    report = replayer.report
    if report.readable_files == 0:
        err.print(
            "[red]error:[/] nothing could be read: "
            f"of {report.files:,} files, {report.unreadable_files:,} are unreadable "
            f"and {sum(report.companions.values()):,} are CloudTrail digest or Insights files",
            highlight=False,
        )
        raise typer.Exit(2)
    if output is Format.TABLE:
        descriptions = {rule.name: rule.description for rule in template_rules(template_data)}
        print_summary(report, summary, Console(), descriptions, top=top, traffic=replayer.traffic)
    if report.problem_count:
        err.print(
            f"{report.problem_count:,} unreadable: {report.unreadable_files:,} whole files, "
            f"{report.problem_count - report.unreadable_files:,} records (listed above)",
            highlight=False,
        )
        raise typer.Exit(1)


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
    from rich.markup import escape

    Console(stderr=True).print(f"[red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
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
    from rich.markup import escape

    from leash_cli.responder import Interrupted, ResponderError, run_workflow

    err = Console(stderr=True, highlight=False)
    aws = None
    try:
        aws, stack = _stack(stack_name, region, profile)
        who = aws.identify()
        arn = stack.lockdown_arn if workflow == "lockdown" else stack.release_arn
        with err.status(escape(f"{workflow} of {principal} running in {stack.name} ({stack.region})...")):
            outcome = run_workflow(
                aws,
                arn,
                {"principal": principal, "reason": reason, "requestedBy": who, "trigger": "cli"},
                on_started=lambda execution: err.print(
                    f"started {execution}", style="dim", markup=False, soft_wrap=True
                ),
            )
    except ResponderError as exc:
        raise _fail(str(exc)) from exc
    except Interrupted as stop:
        err.print(stop.explain(workflow, aws.profile if aws else profile), soft_wrap=True, markup=False)
        if as_json:
            sys.stdout.write(json.dumps(stop.to_json(principal, workflow), indent=2) + "\n")
        raise typer.Exit(130) from None
    if as_json:
        sys.stdout.write(json.dumps(outcome.to_json(principal, workflow), indent=2) + "\n")
    else:
        out = Console(highlight=False)
        style = "green" if outcome.status == "SUCCEEDED" else "red"
        out.print(outcome.headline, style=style, soft_wrap=True, markup=False)
        if outcome.detail:
            out.print(outcome.detail, soft_wrap=True, markup=False)
        out.print(f"execution {outcome.execution_arn}", style="dim", soft_wrap=True, markup=False)
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


@app.command(short_help="Lock a principal down now and wait for the outcome.")
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


@app.command(short_help="Release a lockdown and wait for the outcome.")
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


@app.command(short_help="List the newest records of the audit ledger.")
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


@app.command(short_help="Print an SCP that lets only the deployers change Leash's resources.")
def scp(
    deployer: list[str] = typer.Option(
        ...,
        "--deployer",
        help="A principal ARN allowed to change Leash: the role that runs sam deploy (or CloudFormation's "
        "service role), the break-glass role. Repeat it for more; wildcards as in ArnLike.",
    ),
    account: str = typer.Option(..., help="The account ID Leash is deployed in."),
    stack_name: str | None = typer.Option(
        None, "--stack-name", help="Default: samconfig.toml's, else 'leash'."
    ),
    region: str | None = typer.Option(None, "--region", help="Default: samconfig.toml's, else us-east-1."),
    samconfig: Path = typer.Option(Path("samconfig.toml"), help="Read the deploy parameters from this file."),
    config_env: str = typer.Option("default", "--config-env", help="The samconfig.toml environment to read."),
    parameter: list[str] = typer.Option(
        [], "--parameter", "-p", help="A deploy parameter as Key=Value; it overrides samconfig.toml."
    ),
    pretty: bool = typer.Option(False, "--pretty", help="Indent the JSON (an SCP counts the whitespace)."),
) -> None:
    """Print a service control policy that denies changes to Leash's resources except by its deployers.

    Its one Deny statement covers the stack, functions, rules, bus, topic, queues, tables, log groups,
    state machines, alarms, the Slack webhook secret and every role named like Leash's; CloudFormation
    acting for a deployer is allowed. Attach it in AWS Organizations, or put the statement into your
    agents' permissions boundary. It is built offline from template.yaml and the deploy parameters.
    """
    from leash_cli.guard import SCP_CHARACTERS, protection_policy, render
    from leash_cli.samconfig import SamConfigError, deploy_parameters, stack_defaults
    from leash_cli.template import TEMPLATE, load_template

    try:
        overrides = deploy_parameters(samconfig, config_env) if samconfig.exists() else {}
        default_stack, default_region = (
            stack_defaults(samconfig, config_env) if samconfig.exists() else (None, None)
        )
    except SamConfigError as exc:
        raise _fail(str(exc)) from exc
    for item in parameter:
        key, sep, value = item.partition("=")
        if not sep:
            raise _fail(f"--parameter {item!r} is not Key=Value")
        overrides[key] = value
    policy = protection_policy(
        load_template(TEMPLATE),
        overrides,
        account=account,
        region=region or default_region or "us-east-1",
        stack_name=stack_name or default_stack or "leash",
        deployers=deployer,
    )
    text = render(policy, pretty=pretty)
    typer.echo(text)
    if len(render(policy)) > SCP_CHARACTERS:
        raise _fail(f"the policy has {len(render(policy))} characters, over an SCP's {SCP_CHARACTERS}")


@app.command(short_help="List the EventBridge rules Leash deploys.")
def rules() -> None:
    """List every EventBridge rule template.yaml deploys: what it watches and where it sends it."""
    from rich.console import Console
    from rich.padding import Padding
    from rich.text import Text

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
            console.print(f"  {rule.name}", style="cyan", markup=False)
            console.print(Padding(Text(rule.description.removeprefix("Leash: ")), (0, 0, 0, 4)))


if __name__ == "__main__":
    app()
