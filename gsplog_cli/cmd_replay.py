"""``gsp replay`` / ``gsp-replay``: replay a session log or a live stream."""

from __future__ import annotations

import os
import warnings
from typing import Any

import click

from gsplog_cli.links import UnknownLinks, links_option, load_links, recorded_script
from gsplog_cli.numbers import POSITIVE, finite
from gsplog_cli.scene_limit import limits_for, max_scene_option
from gsplog_cli.signals import sigterm_as_ctrl_c

__all__ = ["replay", "ReplayError"]


class ReplayError(click.ClickException):
    """A bad log, source, backend or option: one line on stderr, exit code 2."""

    exit_code = 2


@click.command("replay", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source")
@click.option("-b", "--backend", default="matplotlib", show_default=True, help="matplotlib, datoviz or null.")
@click.option(
    "-o",
    "--output",
    default=None,
    help="out.png (last frame or --frame N), a folder/ (frame_000001.png...), or movie.mp4 / .gif.",
)
@click.option("--frame", type=int, default=None, help="Render only frame N (frames count from 1).")
@click.option("--from", "start", default=None,
              help="Start at seconds (2.5), a frame (#12), a marker (@label: the first of that label, with a "
                   "warning when it repeats; @label#2: the second) or a sequence number (seq:40).")
@click.option("--to", "stop", default=None,
              help="Stop at seconds, a frame (#N, drawn), a marker (@label, @label#2) or seq:N (before it).")
@click.option("--speed", type=POSITIVE, callback=finite, default=None,
              help="Play at the recorded pace times X; with a video output, its frame rate times X.")
@click.option("--realtime/--fast", "realtime", default=None,
              help="Play at the recorded pace, or as fast as possible [default: recorded pace in a window, fast otherwise].")
@click.option("--loop", is_flag=True, help="Start again at the end (windows and headless replays).")
@click.option("--size", default=None, help="Override the canvas size, WIDTHxHEIGHT pixels.")
@click.option("--fps", type=POSITIVE, callback=finite, default=None,
              help="Video frame rate [default: the rate the animator declared, else 1 / the median interval of "
                   "the recorded frames, clamped to 1-120, and to 50 for a GIF: browsers show faster GIF frames for "
                   "100 ms]. The summary line says which was used.")
@click.option("--follow", is_flag=True, help="Keep reading a log that is still being written.")
@click.option(
    "--timeout",
    type=POSITIVE,
    callback=finite,
    default=None,
    help="Give up after S seconds without new data (or without the file, before it is created): with --follow "
    "[default: 10], or from a tcp:// source [default: 30].",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
@click.option("--snapshot", default=None, help="tcp:// source: its snapshot endpoint [default: its port + 1].")
@click.option("--curve-secret", type=click.Path(exists=True, dir_okay=False),
              help="tcp:// source of a CURVE session: this client's secret key file.")
@click.option("--server-key", type=click.Path(exists=True, dir_okay=False),
              help="tcp:// source of a CURVE session: the publisher's public key file.")
@click.option("--window/--no-window", default=None, help="Show a window (default: when a display exists and no -o).")
@links_option
@max_scene_option
def replay(
    source: str,
    backend: str,
    output: str | None,
    frame: int | None,
    start: str | None,
    stop: str | None,
    speed: float | None,
    realtime: bool | None,
    loop: bool,
    size: str | None,
    fps: float | None,
    follow: bool,
    timeout: float | None,
    progress: bool | None,
    snapshot: str | None,
    curve_secret: str | None,
    server_key: str | None,
    window: bool | None,
    links: tuple[str, ...],
    max_scene_gib: float | None,
) -> None:
    """Replay SOURCE (a .gsplog file or a tcp:// live endpoint) into a backend.

    In a window: space pauses, right/left arrows step a frame, q quits.

    Exit status: 0; 2 for a bad log, source or option (nothing drawn, or a replay stopped by a
    command it cannot apply); 1 when what was drawn is written but incomplete: a followed log
    that did not end, a live session whose publisher restarted (a new session came before its
    END: the replay shows one session) or went silent before its END, or commands skipped
    because their transform link type is not registered here (--links imports the module that
    registers it); 130 or 143 when stopped by Ctrl-C or SIGTERM (a video cut short is removed).
    """
    from player import replay as run_replay
    from player.replay import FrameOutOfRange
    from player.sources import LIVE_GONE_AFTER_S, UnterminatedLogWarning, is_live_endpoint
    from sessions.errors import CommandError, LogFormatError, SkippedCommandWarning
    from sessions.reader import FOLLOW_TIMEOUT_S

    limits = limits_for(max_scene_gib)
    load_links(links, ReplayError)
    live_options: dict[str, Any] = {}
    if snapshot is not None or curve_secret is not None or server_key is not None:
        if not is_live_endpoint(source):
            raise click.UsageError("--snapshot, --curve-secret and --server-key are for tcp:// sources")
        from gsplog_cli.cmd_live import client_security

        live_options = {"snapshot_endpoint": snapshot, "security": client_security(curve_secret, server_key)}
    caught: list[warnings.WarningMessage] = []
    unknown_links = UnknownLinks()
    try:
        with sigterm_as_ctrl_c(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnterminatedLogWarning)
            warnings.simplefilter("always", SkippedCommandWarning)
            result = run_replay(
                source,
                backend,
                output,
                speed=speed,
                realtime=realtime,
                start=start,
                stop=stop,
                frame=frame,
                loop=loop,
                size=size,
                follow=follow,
                progress=progress,
                fps=fps,
                window=window,
                follow_timeout_s=timeout,
                limits=limits,
                live_options=live_options,
                refuse_no_output=True,
            )
    except FrameOutOfRange as error:
        raise ReplayError(f"{source}: no frame matched --frame {error.frame} (the session has {error.total} frames)") from None
    except LogFormatError as error:
        # damage inside the log (not a log that is no log at all): the intact chunks can be kept
        hint = "; `gsp verify` lists what is intact, `gsp repair` keeps it" if error.chunk_index is not None else ""
        raise ReplayError(_one_line(error) + hint) from None
    except (CommandError, ValueError, OSError) as error:  # OSError: an output that cannot be written
        # A command that fails after one holding an unknown link was skipped (a chain's link
        # removed that was never added) says why first.
        _show_warnings(caught, unknown_links)
        if unknown_links:
            click.echo(f"Error: {unknown_links.message(source, recorded_script(source))}", err=True)
        raise ReplayError(_error_line(source, error)) from None
    _show_warnings(caught, unknown_links)
    if is_live_endpoint(source) and result.commands == 0:
        waited = LIVE_GONE_AFTER_S if timeout is None else timeout
        raise ReplayError(
            f"{source}: no session arrived in {waited:g} s (is its publisher running on that port? "
            "--timeout S waits longer)"
        )
    selected = " ".join(f"{name} {value}" for name, value in (("--frame", frame), ("--from", start), ("--to", stop))
                        if value is not None)
    if result.frames == 0 and selected:
        total = result.frames_in_log if result.frames_in_log is not None else result.frames_seen
        raise ReplayError(f"{source}: no frame matched {selected} (the session has {total} frames)")
    if result.frames == 0 and output is not None:
        raise ReplayError(f"{source}: the session has no rendered frame, nothing written to {output}")
    if result.frames == 0 and result.window and not result.quit_early:
        raise ReplayError(f"{source}: the session has no rendered frame, nothing to show in a window")
    where = _outputs_summary([str(p) for p in result.outputs])
    if result.frame_rate is not None and result.outputs:  # a video: which rate, and why that one
        where += f" at {result.frame_rate.describe()}"
    click.echo(
        f"{result.frames} frame(s) replayed with {backend} in {result.elapsed_s:.2f} s -> {where}",
        err=True,
    )
    failures = []
    if unknown_links:  # the picture lacks what those links made: `gsp-replay ... && publish` stops here
        failures.append(unknown_links.message(source, recorded_script(source)))
    if result.live_lost is not None:  # as `gsp node`: a session that did not end is no clean success
        written = _outputs_summary([str(p) for p in result.outputs]) if result.outputs else None
        failures.append(_live_lost_line(source, result, written))
    elif result.unfinished:  # as `gsp node` whose publisher went silent: `gsp-replay ... && next` stops
        waited = FOLLOW_TIMEOUT_S if timeout is None else timeout
        failures.append(
            f"{source}: the log did not end (nothing new for {waited:g} s and no footer: its recorder was "
            "killed, or the file was replaced or cut); what arrived was drawn"
        )
    for failure in failures[:-1]:
        click.echo(f"Error: {failure}", err=True)
    if failures:
        raise click.ClickException(failures[-1])


def _live_lost_line(source: str, result: Any, written: str | None) -> str:
    """Why a live replay's session is incomplete (its publisher restarted or went silent before
    the session's END), naming the session, how far it got, and what the outputs hold."""
    session = result.live_session or "?"
    held = f"; {written} holds it up to update {result.live_last_update}, not its end" if written else ""
    return (f"{source}: session {session} did not end: {result.live_lost}; what arrived, up to update "
            f"{result.live_last_update}, was drawn{held}; `gsp node --keep-going` follows the sessions after it")


def _show_warnings(caught: list[warnings.WarningMessage], unknown_links: UnknownLinks) -> None:
    """Each warning once, as a ``warning: ...`` line; those about commands skipped for a link
    type not registered here go to ``unknown_links`` instead (one error line says it all)."""
    shown: set[str] = set()
    for warning in caught:
        if unknown_links.add(warning.message):
            continue
        text = _one_line(warning.message)
        if text not in shown:  # a chunk read twice (the last frame found, then drawn) warns twice
            shown.add(text)
            click.echo(f"warning: {text}", err=True)


def _error_line(source: str, error: BaseException) -> str:
    """The error that stopped the replay of ``source``, in one line; a command that could not be
    applied is named with the log's file, and one naming an object no earlier command created
    with where the log lost it (the ``repaired`` metadata of a log `gsp repair` wrote)."""
    from sessions.errors import CommandError, UnknownObjectError

    text = _one_line(error)
    if not isinstance(error, CommandError) or not os.path.isfile(source):
        return text
    if not text.startswith(f"{source}:"):
        text = f"{source}: {text}"
    if isinstance(error, UnknownObjectError):
        text += _missing_object_hint(source)
    return text


def _missing_object_hint(source: str) -> str:
    """Why a log names an object none of its earlier commands creates: what its repair lost,
    when `gsp repair` wrote it, else a part missing; and `gsp verify`, which lists them all."""
    from gsplog_cli.cmd_sessions import lost_text, repaired_metadata

    verify = "`gsp verify` lists every command naming an object the log does not create"
    repaired = repaired_metadata(source)
    if repaired is None:
        return f": no earlier command of the log creates it: the part of the log that did is missing ({verify})"
    lost = [d for d in repaired.get("lost", []) if isinstance(d, dict)]
    what = f"lost {lost_text(lost)}" if lost else "lost part of it"
    return (f": no earlier command of the log creates it: the log was repaired from {repaired.get('from')}, which "
            f"{what}; the command creating it was most likely there ({verify})")


def _one_line(error: BaseException | str) -> str:
    text = str(error) or type(error).__name__
    return " ".join(text.split())


def _outputs_summary(paths: list[str]) -> str:
    """The files written, in one short line: a folder of 10 000 frames is not listed name by name."""
    if not paths:
        return "no output"
    if len(paths) <= 3:
        return ", ".join(paths)
    return f"{paths[0]} ... {paths[-1]} ({len(paths)} files)"
