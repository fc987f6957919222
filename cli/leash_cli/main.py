"""The `leash` command."""

from __future__ import annotations

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
    """Play the sample CloudTrail events through Leash's real rules and handlers on an emulated account.

    Runs entirely in-process on moto: no AWS account, no credentials, nothing leaves this machine.
    """
    from rich.console import Console

    from leash_cli.demo import print_demo, run_demo

    print_demo(run_demo(), Console())


@app.command()
def rules() -> None:
    """List the EventBridge rules template.yaml deploys, with what each watches."""
    from rich.console import Console
    from rich.table import Table

    from leash.patterns import notify_rules

    table = Table(title="Leash EventBridge rules (generated from leash/catalog.py)")
    table.add_column("rule")
    table.add_column("watches")
    for rule in notify_rules():
        table.add_row(rule.name, rule.description)
    Console().print(table)


if __name__ == "__main__":
    app()
