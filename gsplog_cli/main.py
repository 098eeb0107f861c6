"""Entry points: the ``gsp`` group and ``gsp-replay``.

Subcommands are imported only when invoked, so ``gsp --help`` and ``gsp info`` stay fast and
do not load Matplotlib, Datoviz or ZeroMQ.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
from typing import Any, NoReturn

import click

#: The exit status of a command whose reader went away (``gsp dump log | head -1``): 128 +
#: SIGPIPE, what a shell reports for ``cat``, ``yes``, ... ended by the closed pipe.
BROKEN_PIPE_EXIT = 141

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
    "verify": "Check every checksum, the index and the object references of a session log.",
    "repair": "Rewrite a damaged or unterminated log, keeping its intact chunks.",
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

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OSError as error:
            if error.errno == errno.EPIPE and _reader_gone():
                quiet_exit()
            if error.errno is None:
                raise  # not a failure of the system (a file, a folder, a disk): shown whole
            # A file or folder that cannot be written or read, a full disk, ... that no command
            # reported itself: one line, exit status 1, not a traceback.
            raise click.ClickException(os_error_line(error)) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def os_error_line(error: OSError) -> str:
    """``<filename>: <why>`` (``<why>`` alone when the error names no file)."""
    why = error.strerror or str(error)
    if error.filename is None:
        return why
    if error.filename2 is not None:
        return f"{error.filename} -> {error.filename2}: {why}"
    return f"{error.filename}: {why}"


def _reader_gone() -> bool:
    """Whether stdout or stderr is a pipe (or socket) whose reader closed it."""
    import select

    for stream in (sys.stdout, sys.stderr):
        try:
            poller = select.poll()
            poller.register(stream.fileno(), select.POLLOUT)
            if any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0)):
                return True
        except (AttributeError, OSError, ValueError):  # not a real file (click's test runner)
            continue
    return False


def quiet_exit() -> NoReturn:
    """End a command whose output pipe was closed by its reader, as Unix tools end: without a
    word, exit status :data:`BROKEN_PIPE_EXIT`. Output still buffered would meet the closed pipe
    again when Python exits (and print a traceback): stdout and stderr now lead to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (AttributeError, OSError, ValueError):  # not a real file (click's test runner)
            pass
    os.close(devnull)
    raise click.exceptions.Exit(BROKEN_PIPE_EXIT)


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
