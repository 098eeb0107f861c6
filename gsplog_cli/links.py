"""``--links`` for the commands that replay (``gsp-replay``, ``gsp node``), and what they say
about commands skipped because their transform link type is not registered."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

__all__ = ["links_option", "ignored_links_option", "load_links", "UnknownLinks", "noting_unknown_links",
           "recorded_script"]

LINKS_HELP = ("Import this module first (a module name, or the path of a .py file): the session's "
              "transform links of types registered there (@register_link) are then rebuilt. This RUNS that "
              "code (a script's `if __name__ == \"__main__\":` part excepted): give only code you trust. "
              "Repeatable.")


def links_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--links", "links", multiple=True, metavar="MODULE|FILE.py", help=LINKS_HELP)(function)


def ignored_links_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--links`` where nothing runs a chain (``gsp serve``, ``gsp relay``): their scenes keep
    transform links as recorded, so the option, which they once needed, is accepted, said to be
    unneeded, and imports nothing (it would run the module's code for no use). Hidden."""

    def say_unneeded(context: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
        if value:
            click.echo(f"note: gsp {context.info_name} keeps transform links as recorded and needs no --links "
                       "(ignored); the nodes that draw need it", err=True)
        return value

    return click.option("--links", "links", multiple=True, hidden=True, expose_value=False,
                        callback=say_unneeded)(function)


def load_links(specs: tuple[str, ...], error: type[click.ClickException] = click.ClickException) -> None:
    """Import the ``--links`` modules (``player.links.import_link_modules``); a module that
    cannot be imported is one line (``error``); one that registers no link type is a warning."""
    if not specs:
        return
    from player.links import LinkModuleError, import_link_modules

    try:
        modules = import_link_modules(specs)
    except LinkModuleError as failure:
        raise error(" ".join(str(failure).split())) from None
    for done in modules:
        if not done.registered:
            click.echo(f"warning: --links {done.spec} registered no transform link type (none with "
                       "@register_link, or they were registered already)", err=True)


class UnknownLinks:
    """The commands skipped because their transform link type is not registered here
    (``sessions.errors.SkippedCommandWarning`` with a ``link_type``), by link type: unlike a value
    of a newer protocol, such a link is most often the user's own, and the frames drawn without
    it are wrong."""

    def __init__(self) -> None:
        self.seqs: dict[str, dict[int, str]] = {}  # link type -> seq -> the op of that command

    def add(self, warning: Warning | str) -> bool:
        """Note ``warning`` if it says a command was skipped for an unknown link type (True)."""
        from sessions.errors import SkippedCommandWarning

        if not isinstance(warning, SkippedCommandWarning) or warning.link_type is None:
            return False
        self.seqs.setdefault(warning.link_type, {})[warning.seq] = warning.op
        return True

    def __bool__(self) -> bool:
        return bool(self.seqs)

    def counts(self) -> dict[str, int]:
        """Link type -> commands skipped."""
        return {name: len(seqs) for name, seqs in sorted(self.seqs.items())}

    def message(self, source: str, script: str | None = None) -> str:
        """One line: what was skipped, why the picture is wrong, and ``--links`` (naming the
        recorded ``script`` when the log says which it was)."""
        parts = []
        for name, seqs in sorted(self.seqs.items()):
            plural = "s" if len(seqs) > 1 else ""
            parts.append(f"{len(seqs)} command{plural} holding a transform link of type {name!r} ({_seqs_by_op(seqs)})")
        names = " and ".join(repr(name) for name in sorted(self.seqs))
        one = len(self.seqs) == 1
        types, verb, it = (f"link type {names}", "is", "it") if one else (f"link types {names}", "are", "them")
        classes = "The class" if one else "Their classes"
        where = (f"the recorded script {script} or a module it imports" if script
                 else "the recorded script or a module it imports")
        suggestion = f"--links {script}" if script and script.endswith(".py") else "--links MODULE_OR_FILE.py"
        return (f"{source}: skipped {'; '.join(parts)}: {types} {verb} not registered here, so what was drawn "
                f"lacks {it}. {classes} (@register_link) {verb} in {where}: give {suggestion} to import {it} first "
                "(that runs its code)")


def _seqs_by_op(seqs: dict[int, str], shown: int = 3) -> str:
    """The first ``shown`` seqs, each under its own op: ``seq 5, 9, ...: TransformChain.add``, or
    ``seq 7, 44: TransformChain.add; seq 43: TransformChain.remove`` when the ops differ."""
    first = sorted(seqs)[:shown]
    more = len(seqs) > len(first)
    groups: dict[str, list[int]] = {}
    for seq in first:
        groups.setdefault(seqs[seq], []).append(seq)
    if len(set(seqs.values())) == 1:  # one op for all: "..." stands for more of the same
        ((op, listed),) = groups.items()
        return f"seq {', '.join(map(str, listed))}{', ...' if more else ''}: {op}"
    return "; ".join(f"seq {', '.join(map(str, listed))}: {op}" for op, listed in groups.items()) + ("; ..." if more else "")


def recorded_script(source: str) -> str | None:
    """The script a log was recorded from (``gsp record`` writes its name in the header's user
    metadata), None when it does not say or is no file."""
    from sessions.tools import _header_metadata

    try:
        user = _header_metadata(source).get("user")
    except Exception:
        return None
    script = user.get("script") if isinstance(user, dict) else None
    return script if isinstance(script, str) and script else None


@contextmanager
def noting_unknown_links(unknown: UnknownLinks, say: Callable[[str], None]) -> Iterator[None]:
    """While it lasts (a long-running command: ``gsp node``, ``gsp serve``, ``gsp relay``), the
    warnings about commands skipped for a link type not registered here are noted in ``unknown``
    and the first of each type is said (``say(line)``, a log line), naming ``--links``; other
    warnings are shown as before."""
    from sessions.errors import SkippedCommandWarning

    with warnings.catch_warnings():  # restores showwarning and the filters at the end
        warnings.simplefilter("always", SkippedCommandWarning)
        shown = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
            link_type = getattr(message, "link_type", None)
            first = link_type is not None and link_type not in unknown.seqs
            if not unknown.add(message):
                shown(message, category, filename, lineno, file, line)
            elif first:
                say(f"{' '.join(str(message).split())}; --links MODULE_OR_FILE.py imports the module that "
                    "registers it (running its code)")

        warnings.showwarning = show
        yield
