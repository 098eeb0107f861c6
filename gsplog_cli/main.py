"""Entry points: the ``gsp`` group and ``gsp-replay``.

Subcommands are imported only when invoked, so ``gsp --help`` and ``gsp info`` stay fast and
do not load Matplotlib, Datoviz or ZeroMQ.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# subcommand name -> "module:attribute" of the click command implementing it
SUBCOMMANDS: dict[str, str] = {
    "record": "gsplog_cli.cmd_record:record",
    "replay": "gsplog_cli.cmd_replay:replay",
    "info": "gsplog_cli.cmd_sessions:info",
    "dump": "gsplog_cli.cmd_sessions:dump",
    "verify": "gsplog_cli.cmd_sessions:verify",
    "repair": "gsplog_cli.cmd_sessions:repair",
    "trim": "gsplog_cli.cmd_sessions:trim",
    "cat": "gsplog_cli.cmd_sessions:cat",
    "serve": "gsplog_cli.cmd_live:serve",
    "node": "gsplog_cli.cmd_live:node",
    "relay": "gsplog_cli.cmd_live:relay",
    "keys": "gsplog_cli.cmd_live:keys",
}

SHORT_HELP: dict[str, str] = {
    "record": "Run a script and record every GSP call into a session log.",
    "replay": "Replay a session log or live stream into a backend, image, frames or video.",
    "info": "Summarise a session log.",
    "dump": "Print the commands of a session log as JSON lines.",
    "verify": "Check every checksum and the index of a session log.",
    "repair": "Rewrite a damaged or unterminated log, keeping every intact chunk.",
    "trim": "Cut a self-contained log out of a time range.",
    "cat": "Concatenate session logs.",
    "serve": "Publish a recorded session live over ZeroMQ at its recorded pace.",
    "node": "Run a long-lived render node subscribed to a live session.",
    "relay": "Forward a live session to another network tier.",
    "keys": "Generate CURVE key pairs for secure live sessions.",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            return None
        command: click.Command = getattr(module, attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gsplog")
def cli() -> None:
    """gsplog: record GSP visualization sessions and replay them anywhere."""


def replay_entry(args: list[str] | None = None) -> Any:
    """``gsp-replay``: the same command as ``gsp replay``."""
    from gsplog_cli.cmd_replay import replay

    return replay.main(args, prog_name="gsp-replay")


if __name__ == "__main__":  # pragma: no cover
    cli()
