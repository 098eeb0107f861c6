"""``gsp record``: run an unmodified script under the recorder."""

from __future__ import annotations

import os
import runpy
import sys
import threading
import traceback
from typing import Any

import click

from gsplog_cli.numbers import NON_NEGATIVE, POSITIVE, finite

__all__ = ["record", "run_script", "parse_meta"]


def parse_meta(items: tuple[str, ...]) -> dict[str, str]:
    """``("k=v", ...)`` -> ``{"k": "v"}``; a clear error for an item without ``=``."""
    meta: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {item!r}", param_hint="--meta")
        meta[key] = value
    return meta


def run_script(path: str, argv: list[str]) -> int:
    """Run ``path`` as ``__main__`` with ``sys.argv = [path, *argv]`` (``runpy`` makes
    ``sys.argv[0]`` absolute, as ``__file__``); return its exit code.

    The script's folder goes first on ``sys.path`` (as ``python script.py`` does). An uncaught
    exception is printed as ``python script.py`` prints it (from the script's first frame, without
    this runner's) and gives exit code 1.
    """
    old_argv, old_path = sys.argv, list(sys.path)
    sys.argv = [path, *argv]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    threads_before = set(threading.enumerate())
    try:
        # An absolute path, as Python gives __main__'s __file__ (a script may chdir, then use it).
        runpy.run_path(os.path.abspath(path), run_name="__main__")
        code = 0
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except KeyboardInterrupt as interrupt:
        _print_script_error(interrupt, path)
        code = 130
    except BaseException as error:
        _print_script_error(error, path)
        code = 1
    finally:
        sys.argv = old_argv
        sys.path[:] = old_path
    return _join_script_threads(threads_before, code)


def _join_script_threads(threads_before: set[threading.Thread], code: int) -> int:
    """Wait for the threads the script started and left running (not daemons), as Python
    waits for them before it exits: their calls are part of the session. Ctrl-C stops the wait."""
    try:
        for thread in threading.enumerate():
            if thread not in threads_before and not thread.daemon and thread is not threading.current_thread():
                thread.join()
    except KeyboardInterrupt:
        return 130
    return code


def _print_script_error(error: BaseException, path: str) -> None:
    """The traceback from the script's outermost frame on: the runner's frames (this module,
    runpy) say nothing about the script. A script that does not compile has no frame of its own:
    Python shows only the error then, and so does this."""
    names = {path, os.path.abspath(path)}  # runpy compiles the script under the path it was given
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename not in names:
        tb = tb.tb_next
    if tb is None and not isinstance(error, SyntaxError):
        tb = error.__traceback__  # raised before the script ran: the whole story
    traceback.print_exception(type(error), error, tb)


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message") prints the message and exits with 1
    return 1


def _check_script_and_output(script: str, output: str | None) -> None:
    """Refuse what would destroy an input: a session log given as the script (its default
    output is the log itself), or an output that is the script."""
    from sessions.fileformat import FILE_MAGIC

    with open(script, "rb") as file:
        if file.read(len(FILE_MAGIC)) == FILE_MAGIC:
            raise click.UsageError(f"{script} is a session log, not a script: replay it with `gsp-replay {script}`")
    if output is not None and os.path.exists(output) and os.path.samefile(script, output):
        raise click.UsageError(f"the output {output} is the script itself")


#: gsplog's top-level packages: a module of the same name beside a script hides one or the other.
OWN_PACKAGES = ("gsp", "recorder", "player", "sessions", "transports", "gsplog_cli")


def shadowing_modules(script: str) -> list[tuple[str, str]]:
    """(package name, path) of each module beside ``script`` that has the name of one of
    gsplog's packages (``player.py``, ``sessions/``): the script's folder goes first on
    ``sys.path``, so whichever of the two is imported first hides the other, and the script or
    the recording fails in a puzzling way. None for a script in the folder that holds gsplog's
    packages (a checkout) itself."""
    import gsplog_cli

    folder = os.path.realpath(os.path.dirname(os.path.abspath(script)))
    if folder == os.path.realpath(os.path.dirname(os.path.dirname(os.path.abspath(gsplog_cli.__file__)))):
        return []
    found = []
    for name in OWN_PACKAGES:
        if os.path.exists(os.path.join(folder, f"{name}.py")):
            found.append((name, os.path.join(folder, f"{name}.py")))
        if os.path.exists(os.path.join(folder, name, "__init__.py")):
            found.append((name, os.path.join(folder, name) + os.sep))
    return found


def _configure_gsp(no_render: bool, frames: int | None, duration: float | None, fps: float | None) -> None:
    if no_render:
        from gsp.types.renderer_base import set_rendering_enabled

        set_rendering_enabled(False)
    if frames is not None or duration is not None or fps is not None:
        from gsp.types.animator_base import DEFAULT_FPS, configure_headless

        configure_headless(frames, fps=fps if fps is not None else DEFAULT_FPS, duration_s=duration)


def _publish_options(publish: str | None, snapshot: str | None, curve_secret: str | None, allow: str | None,
                     end_grace: float | None, max_payload: int | None) -> dict[str, Any]:
    """The publisher's options given on the command line (UsageError for one without --publish)."""
    given = {"--snapshot": snapshot, "--curve-secret": curve_secret, "--allow": allow, "--end-grace": end_grace,
             "--max-message": max_payload}
    if publish is None:
        named = [name for name, value in given.items() if value is not None]
        if named:
            raise click.UsageError(f"{', '.join(named)}: only with --publish (they set up the live publisher)")
        return {}
    from gsplog_cli.cmd_live import server_security

    options: dict[str, Any] = {"snapshot_endpoint": snapshot, "security": server_security(curve_secret, allow)}
    if end_grace is not None:
        options["end_grace"] = end_grace
    if max_payload is not None:
        options["max_payload"] = max_payload
    return options


@click.command(
    "record",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Arguments after `--` are passed to the script: gsp record anim.py -o a.gsplog -- --size 100",
)
@click.argument("script", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Session log to write (default: <script name>.gsplog).")
@click.option("--publish", metavar="ENDPOINT", default=None,
              help="Also publish the session live over ZeroMQ (e.g. tcp://127.0.0.1:5555).")
@click.option("--no-render", is_flag=True, help="Record without rendering locally (faster, headless).")
@click.option("--frames", type=click.IntRange(min=1), default=None, help="Stop animators after N frames.")
@click.option("--duration", type=POSITIVE, default=None, callback=finite,
              help="Stop animators after S seconds of animation time.")
@click.option("--fps", type=POSITIVE, default=None, callback=finite,
              help="Frame rate of headless animators.")
@click.option("--flush-interval", "flush_ms", type=POSITIVE, default=None,
              callback=finite,
              help="Longest time (ms) a call waits before it is written [default: 100, or 0.5 "
                   "with --publish, so that nodes see calls within a millisecond].")
@click.option("--wait", type=NON_NEGATIVE, callback=finite, default=0.0,
              help="With --publish: seconds to let nodes connect before the script runs (a node connected "
                   "before the first call gets every chunk: a byte-identical --save copy) [default: 0].")
@click.option("--snapshot", default=None, metavar="ENDPOINT",
              help="With --publish: the snapshot endpoint to bind [default: PUB port + 1].")
@click.option("--curve-secret", type=click.Path(exists=True, dir_okay=False),
              help="With --publish: the server's secret key file (CURVE; with --allow).")
@click.option("--allow", type=click.Path(exists=True, file_okay=False),
              help="With --publish: folder of admitted client keys (CURVE; with --curve-secret).")
@click.option("--end-grace", type=NON_NEGATIVE, callback=finite, default=None,
              help="With --publish: seconds the final state is still served to late nodes (its END "
                   "repeated) after the script ends [default: 1].")
@click.option("--max-message", "max_payload", type=click.IntRange(1024), default=None,
              help="With --publish: largest chunk sent, in bytes [default: 268435456, 256 MiB].")
@click.option("--meta", multiple=True, metavar="KEY=VALUE", help="User metadata for the header (repeatable).")
def record(
    script: str,
    script_args: tuple[str, ...],
    output: str | None,
    publish: str | None,
    no_render: bool,
    frames: int | None,
    duration: float | None,
    fps: float | None,
    flush_ms: float | None,
    wait: float,
    snapshot: str | None,
    curve_secret: str | None,
    allow: str | None,
    end_grace: float | None,
    max_payload: int | None,
    meta: tuple[str, ...],
) -> None:
    """Run SCRIPT unmodified and record every GSP call into a session log.

    The script's exit code is preserved (1 when the script succeeded but the recording stopped
    early, say on a full disk); the log is closed properly even when it fails.
    """
    if frames is not None and duration is not None:
        raise click.UsageError("give --frames or --duration, not both")
    if wait > 0 and publish is None:
        raise click.UsageError("--wait is the time nodes get to connect to --publish: give --publish too")
    publish_options = _publish_options(publish, snapshot, curve_secret, allow, end_grace, max_payload)
    metadata = parse_meta(meta)
    metadata.setdefault("script", os.path.basename(script))
    if output is None and publish is None:
        output = os.path.splitext(os.path.basename(script))[0] + ".gsplog"
    _check_script_and_output(script, output)
    for name, clash in shadowing_modules(script):
        click.echo(f"warning: {clash} has the name of gsplog's `{name}` package: the script and the "
                   f"recorder would each get whichever is imported first; rename it if either fails", err=True)
    _configure_gsp(no_render, frames, duration, fps)

    from recorder import Recorder

    flush_s = None if flush_ms is None else flush_ms / 1000.0  # None: the Recorder's default
    # The wait lets nodes connect before the first call; the session's clock starts after it.
    rec = Recorder(output, publish=publish, metadata=metadata, flush_interval_s=flush_s,
                   wait_s=wait, publish_options=publish_options)
    try:
        rec.start()
    except Exception as error:
        target = str(output or publish)
        into = "" if target in str(error) else f" into {target}"  # most errors name it already
        raise click.ClickException(f"cannot start recording{into}: {error}") from error
    try:
        # SIGTERM while the recorder runs ends the script with 143, the log closed whole.
        code = run_script(script, list(script_args))
    finally:
        rec.stop()
    sys.stdout.flush()
    if code == 0 and rec.error is not None:
        # The script succeeded, the recording did not: `gsp record ... && gsp-replay ...` stops here.
        click.echo(f"Error: the recording stopped early ({rec.error}); the log keeps what was written "
                   "before (gsp verify tells what it holds)", err=True)
        code = 1
    sys.exit(code)
