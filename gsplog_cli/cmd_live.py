"""``gsp serve``, ``gsp node``, ``gsp relay``, ``gsp keys``: live sessions over ZeroMQ.

Endpoint convention: the snapshot service listens on the PUB port + 1 unless ``--snapshot``
names it (docs/live.md).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gsplog_cli.links import (
    UnknownLinks,
    ignored_links_option,
    links_option,
    load_links,
    noting_unknown_links,
)
from gsplog_cli.numbers import NON_NEGATIVE, POSITIVE, finite
from gsplog_cli.scene_limit import limits_for, max_scene_option
from transports.protocol import DEFAULT_MAX_PAYLOAD, session_id_hex
from transports.security import ClientSecurity, SecurityError, ServerSecurity, generate_keys
from transports.subscriber import DEFAULT_QUEUE_BYTES

if TYPE_CHECKING:
    from sessions.limits import Limits

log = logging.getLogger("gsplog.live")


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


class SignalStop(threading.Event):
    """Set by SIGINT/SIGTERM, so long-running commands close cleanly (session end, footer), and
    remembers which signal came, so the command then exits as a killed one would (128 + signal):
    `gsp node ... && next` does not go on after a Ctrl-C."""

    signum: int | None = None

    def exit_if_signalled(self) -> None:
        if self.signum is not None:
            raise SystemExit(128 + self.signum)


def _stop_on_signals() -> SignalStop:
    stop = SignalStop()

    def handler(signum: int, frame: Any) -> None:
        stop.signum = signum
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def server_security(secret: str | None, allow: str | None) -> ServerSecurity | None:
    if secret is None and allow is None:
        return None
    if secret is None or allow is None:
        raise click.UsageError("CURVE on a server needs both --curve-secret and --allow")
    try:
        return ServerSecurity(secret, allow)
    except SecurityError as error:
        raise click.UsageError(str(error)) from None


def client_security(secret: str | None, server_key: str | None) -> ClientSecurity | None:
    if secret is None and server_key is None:
        return None
    if secret is None or server_key is None:
        raise click.UsageError("CURVE on a client needs both --curve-secret and --server-key")
    try:
        return ClientSecurity(secret, server_key)
    except SecurityError as error:
        raise click.UsageError(str(error)) from None


_verbose = click.option("-v", "--verbose", count=True, help="Log more (-v: info, -vv: debug).")
_max_payload = click.option(
    "--max-message",
    "max_payload",
    type=click.IntRange(1024),
    default=DEFAULT_MAX_PAYLOAD,
    show_default=True,
    help="Largest chunk accepted or sent, in bytes.",
)


def _end_grace(when: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--end-grace``: how long the final state of a session that ended is still served."""
    return click.option(
        "--end-grace", type=NON_NEGATIVE, callback=finite, default=1.0, show_default=True,
        help="Seconds the final state of a session that ended is still served to late nodes (its END repeated) "
             + when)


# ---------------------------------------------------------------------------------------------
# gsp serve
# ---------------------------------------------------------------------------------------------
@click.command()
@click.argument("session", type=click.Path(exists=True, dir_okay=False))
@click.option("--bind", default="tcp://127.0.0.1:5555", show_default=True, help="PUB endpoint to bind.")
@click.option("--snapshot", default=None, help="Snapshot endpoint to bind [default: PUB port + 1].")
@click.option("--speed", type=POSITIVE, callback=finite, default=1.0, show_default=True,
              help="Pace factor (2 = twice as fast).")
@click.option("--loop", is_flag=True, help="Start again at the end (each pass is a new session).")
@click.option("--wait", type=NON_NEGATIVE, callback=finite, default=0.5, show_default=True,
              help="Seconds to let nodes join first.")
@click.option("--curve-secret", type=click.Path(exists=True), help="Server secret key file (CURVE).")
@click.option(
    "--allow", type=click.Path(exists=True, file_okay=False), help="Folder of admitted client keys."
)
@_end_grace("after the session's end, before the next --loop pass or the exit.")
@_max_payload
@ignored_links_option
@_verbose
def serve(
    session: str,
    bind: str,
    snapshot: str | None,
    speed: float,
    loop: bool,
    wait: float,
    curve_secret: str | None,
    allow: str | None,
    end_grace: float,
    max_payload: int,
    verbose: int,
) -> None:
    """Publish a recorded SESSION live over ZeroMQ at its recorded pace.

    Ctrl-C or SIGTERM ends the session cleanly (END to the nodes); the exit status is then 130 or 143.
    Late joiners' snapshots carry the session's transform links as recorded, the user's own
    types included: serving needs no link code (the nodes that draw take --links).
    """
    from sessions import LogFormatError, LogReader
    from transports.serve import serve_log

    _setup_logging(verbose)
    security = server_security(curve_secret, allow)
    stop = _stop_on_signals()
    try:
        with LogReader(session, check_index=True) as reader:
            passes = 0
            while not stop.is_set():
                sent = serve_log(
                    reader,
                    bind,
                    snapshot,
                    speed=speed,
                    stop=stop,
                    wait=wait,
                    security=security,
                    max_payload=max_payload,
                    end_grace=end_grace,
                    on_ready=None if passes else lambda pub, snap: click.echo(
                        f"serving {session} on {pub} (snapshots on {snap})", err=True),
                )
                passes += 1
                click.echo(f"served {sent} chunks of {session} (pass {passes})", err=True)
                if not loop:
                    break
    except (LogFormatError, ValueError, OSError) as error:  # a bad log, endpoint or address
        raise click.ClickException(str(error)) from None
    stop.exit_if_signalled()


# ---------------------------------------------------------------------------------------------
# gsp node
# ---------------------------------------------------------------------------------------------
@click.command()
@click.argument("endpoint")
@click.option("--snapshot", default=None, help="Snapshot endpoint [default: PUB port + 1].")
@click.option("-b", "--backend", default=None, help="Render with this backend (matplotlib, datoviz, null) [default: "
              "matplotlib with -o; else null: commands applied, frames counted, nothing drawn].")
@click.option("-o", "--output", type=click.Path(), default=None, help="PNG (last frame), folder or video.")
@click.option(
    "--save", type=click.Path(dir_okay=False), default=None, help="Write a .gsplog copy of the stream."
)
@click.option("--null", "null", is_flag=True, help="Only apply commands to a scene state (no rendering).")
@click.option(
    "--timeout", type=POSITIVE, callback=finite, default=None,
    help="Give up after this many silent seconds [default: never]."
)
@click.option(
    "--heartbeat-timeout", type=POSITIVE, callback=finite, default=2.0, show_default=True,
    help="Silence before a resync."
)
@click.option("--keep-going", is_flag=True, help="Do not exit at the session end; follow the next one.")
@click.option(
    "--max-queue-mib", type=POSITIVE, callback=finite, default=DEFAULT_QUEUE_BYTES / 2**20, show_default=True,
    help="Updates that may wait for this node, in MiB; past it the node skips to the newest state."
)
@click.option("--curve-secret", type=click.Path(exists=True), help="Client secret key file (CURVE).")
@click.option("--server-key", type=click.Path(exists=True), help="Server public key file (CURVE).")
@_max_payload
@max_scene_option
@links_option
@_verbose
def node(
    endpoint: str,
    snapshot: str | None,
    backend: str | None,
    output: str | None,
    save: str | None,
    null: bool,
    timeout: float | None,
    heartbeat_timeout: float,
    keep_going: bool,
    max_queue_mib: float,
    curve_secret: str | None,
    server_key: str | None,
    max_payload: int,
    max_scene_gib: float | None,
    links: tuple[str, ...],
    verbose: int,
) -> None:
    """Run a render node subscribed to the live session at ENDPOINT.

    Prints one JSON line when the session ends: session id, last update, the session's commands
    received, the whole scenes applied besides (the snapshot it started from and the stream's
    periodic keyframes), frames, the scene's state hash (equal on every node that received
    the same session), what it skipped when it fell behind, and why a --save copy stopped early
    (save_error: a full disk stops the copy, not the node; exit status 1 then), and the commands
    skipped because their transform link type is not registered here (unknown_links, by type:
    what was drawn lacks them, exit status 1; --links imports the module that registers them).
    A session whose publisher died or restarted before its END did not end (exit status 1; with
    --keep-going the next session is one of its own, and sessions that began and ended while the
    node drew an earlier one are drawn next, or counted in skipped_sessions: exit status 1); one
    that published nothing is not counted. Ctrl-C or SIGTERM stops it after drawing and saving
    what arrived: exit status 130 or 143.
    """
    from transports.live_log import LiveTally, live_commands
    from transports.subscriber import Subscriber

    _setup_logging(verbose)
    if null and (backend or output):
        raise click.UsageError("--null applies commands only: it takes no --backend or --output")
    if output is not None and backend is None:
        backend = "matplotlib"
    if save is not None and not Path(save).resolve().parent.is_dir():
        raise click.UsageError(f"--save {save}: no folder {str(Path(save).resolve().parent)!r} to write it in")
    security = client_security(curve_secret, server_key)
    load_links(links)
    try:
        consume = _make_consumer(backend, output, limits_for(max_scene_gib))  # imports, checks before joining
        subscriber = Subscriber(
            endpoint,
            snapshot,
            gone_after=timeout,
            heartbeat_timeout=heartbeat_timeout,
            max_payload=max_payload,
            max_queue_bytes=int(max_queue_mib * 2**20),
            security=security,
        )
    except (ValueError, OSError) as error:  # a bad endpoint, backend or output
        raise click.ClickException(str(error)) from None
    stop = _stop_on_signals()
    summary: dict[str, Any] = {"endpoint": endpoint, "sessions": 0, "frames": 0, "commands": 0, "keyframes": 0,
                               "errors": 0, "state_hash": None, "outputs": [], "ended": False, "save_error": None,
                               "session": None, "last_seq": 0}
    unknown_links = UnknownLinks()
    empty = 0  # sessions that published nothing (a `gsp serve` stopped during its --wait): not counted
    no_frame: list[str] = []  # outputs of sessions that rendered no frame: nothing written there
    try:
        with noting_unknown_links(unknown_links, log.error):
            while True:
                copy = _guarded_copy(save) if save else None
                tally = LiveTally()
                session_output = _nth_output(output, summary["sessions"] + 1)
                result = consume(live_commands(subscriber, stop, copy, tally), session_output)
                session = tally.session_id  # None: no session came (the last wait may bring none)
                counted = session is not None
                if session is not None and tally.last_update == 0 and not stop.is_set():
                    counted = False  # no command at all: not a session to draw, count or number; wait for one
                    empty += 1
                    log.warning("session %s published nothing (its publisher stopped during its --wait?): not counted",
                                session_id_hex(session))
                if counted and session is not None:
                    summary["sessions"] += 1
                    for key in ("frames", "errors"):
                        summary[key] += result[key]
                    summary["commands"] += tally.commands
                    summary["keyframes"] += tally.keyframes
                    summary["errors"] += tally.errors  # chunks of a snapshot it could not decode
                    summary["outputs"] += result["outputs"]
                    summary["state_hash"] = result["state_hash"]  # of the last session
                    summary["ended"] = tally.ended
                    summary["session"] = session_id_hex(session)  # of the last session, as last_seq
                    summary["last_seq"] = tally.last_seq
                    if session_output is not None and not result["outputs"]:
                        no_frame.append(session_output)
                    save = None  # the copy holds the first session only
                if copy is not None and copy.error is not None:
                    summary["save_error"] = copy.error
                if (counted and not keep_going) or stop.is_set() or subscriber.gone:
                    break
    finally:
        subscriber.close()
    summary["resyncs"] = subscriber.stats.resyncs
    summary["rejected"] = subscriber.stats.rejected
    # Falling behind: how often, the updates never applied, and the most that waited at once.
    summary["behind"] = subscriber.stats.behind
    summary["skipped"] = subscriber.stats.skipped
    summary["peak_queued_bytes"] = subscriber.stats.peak_queued_bytes
    # Sessions that began and ended while this node drew an earlier one, whose final state it
    # could not fetch: never drawn (logged as each went).
    summary["skipped_sessions"] = subscriber.stats.skipped_sessions
    summary["unknown_links"] = unknown_links.counts()
    click.echo(json.dumps(summary))
    if summary["save_error"] is not None:  # as `gsp record` whose log stopped early: `gsp node ... && ...` stops
        raise click.ClickException(f"the --save copy is incomplete: {summary['save_error']}")
    stop.exit_if_signalled()  # stopped by the user: what arrived is drawn and saved
    if summary["sessions"] == 0 and empty:  # as gsp-replay says of a session without a frame, naming the output
        why = "the session published nothing: its publisher stopped during its --wait?"
        raise click.ClickException(f"{endpoint}: " + (why if output is None else
                                                      f"the session has no rendered frame, nothing written to {output} "
                                                      f"({why})"))
    if summary["sessions"] == 0:
        raise click.ClickException(f"no session arrived from {endpoint}" + (f" in {timeout:g} s" if timeout else ""))
    failures = []
    if not summary["ended"]:
        failures.append("the session did not end: its publisher went silent or restarted before its END (what "
                        "arrived was drawn; a --save copy is left unterminated)")
    if keep_going and summary["skipped_sessions"]:
        failures.append(f"{summary['skipped_sessions']} session(s) began and ended while this node drew an earlier "
                        "one, and were not drawn (their final state could not be fetched)")
    if no_frame:  # as gsp-replay says of a session without a frame
        failures.append(f"{endpoint}: the session has no rendered frame, nothing written to {', '.join(no_frame)}")
    if unknown_links:  # what was drawn lacks those links: `gsp node ... && next` stops, as gsp-replay does
        failures.append(unknown_links.message(endpoint))
    for failure in failures[:-1]:
        click.echo(f"Error: {failure}", err=True)
    if failures:
        raise click.ClickException(failures[-1])


def _guarded_copy(path: str) -> Any:
    """A ``--save`` copy (``transports.live_log.LiveCopy``) whose failure to write (a full disk)
    stops the copy, not the node: one warning naming the path and the error, and nothing more
    is written; the node goes on drawing. The copy keeps the chunks written before it (the file
    sink cuts a torn one off), unterminated: readable, and `gsp repair` gives it a footer.
    ``error`` holds the failure (None while the copy is whole)."""
    from sessions.errors import LogWriteError
    from transports.live_log import LiveCopy

    class GuardedCopy(LiveCopy):
        def add(self, event: Any, chunks: Any) -> None:
            try:
                super().add(event, chunks)
            except LogWriteError as error:
                self._stop_saving(error)

        def close(self, *, source_died: bool = False) -> None:
            try:
                super().close(source_died=source_died)
            except LogWriteError as error:  # the footer did not fit
                self._stop_saving(error)

        def _stop_saving(self, error: LogWriteError) -> None:
            self.error = " ".join(str(error).split())
            log.warning("--save stopped: %s; the copy keeps what was written before it, the node goes on",
                        self.error)
            super().close(source_died=True)  # its file sink failed: it writes nothing more

    return GuardedCopy(path)


def _nth_output(output: str | None, number: int) -> str | None:
    """The output of a node's ``number``-th session (``--keep-going``): ``output`` itself for the
    first, then ``name-2.png``, ``frames-2/``, ``movie-2.mp4``, ...: one session's frames never
    overwrite another's."""
    if output is None or number == 1:
        return output
    path = Path(output)
    folder = output.endswith(("/", "\\")) or not path.suffix
    name = f"{path.name}-{number}" if folder else f"{path.stem}-{number}{path.suffix}"
    return str(path.with_name(name)) + ("/" if output.endswith(("/", "\\")) else "")


def _make_consumer(backend: str | None, output: str | None,
                   limits: Limits) -> Callable[[Iterator[Any], str | None], dict[str, Any]]:
    """A function that applies (and renders) commands and returns frames, errors and the state hash.

    Made before the node subscribes, so that slow imports do not make it join late.
    """
    from player.engine import ReplayEngine

    backend = backend or "null"  # --null: the null backend draws nothing, and counts frames as every node does
    ReplayEngine(backend)  # fails early on an unknown backend
    if output is not None and backend == "null":  # it wrote blank pictures, as gsp-replay refuses to
        raise ValueError("backend 'null' draws nothing: it cannot write images (use matplotlib or datoviz)")
    if output is not None:
        from player.exporters import make_exporter

        make_exporter(output).abort()  # an output that cannot be written fails before the node joins
    return lambda commands, session_output: _render(backend, session_output, limits, commands)


def _render(backend: str, output: str | None, limits: Limits, commands: Iterator[Any]) -> dict[str, Any]:
    from player.engine import ReplayEngine
    from player.exporters import make_exporter
    from player.replay import LIVE_PNG_REFRESH_S

    errors = 0

    def skip(command: Any, error: Exception) -> None:  # a bad command or frame must not stop a long-running node
        nonlocal errors
        errors += 1
        log.error("%s", error)

    exporter = make_exporter(output, refresh_s=LIVE_PNG_REFRESH_S) if output else None
    engine = ReplayEngine(backend, image=exporter.wants if exporter is not None else "none", limits=limits,
                          on_error=skip, joined_live=True)
    frames = 0
    try:
        for rendered in engine.frames(commands):
            frames += 1
            if exporter is not None:
                exporter.add(rendered)
        outputs = exporter.close() if exporter is not None else []
    finally:
        engine.close()
    state_hash = engine.state.state_hash() if engine.state is not None else None
    return {
        "frames": frames,
        "errors": errors,
        "state_hash": state_hash,
        "outputs": [str(path) for path in outputs or []],
    }


# ---------------------------------------------------------------------------------------------
# gsp relay
# ---------------------------------------------------------------------------------------------
@click.command()
@click.option("--sub", "upstream", required=True, help="Upstream PUB endpoint to subscribe to.")
@click.option("--pub", "bind", required=True, help="Downstream PUB endpoint to bind.")
@click.option("--sub-snapshot", default=None, help="Upstream snapshot endpoint [default: --sub port + 1].")
@click.option("--snapshot", default=None, help="Downstream snapshot endpoint [default: --pub port + 1].")
@click.option("--opaque", is_flag=True, help="Relay payloads without decoding them as .gsplog chunks.")
@click.option("--curve-secret", type=click.Path(exists=True), help="Downstream server secret key (CURVE).")
@click.option(
    "--allow", type=click.Path(exists=True, file_okay=False), help="Downstream admitted client keys."
)
@click.option("--upstream-secret", type=click.Path(exists=True), help="Client secret key towards upstream.")
@click.option("--upstream-key", type=click.Path(exists=True), help="Upstream server public key.")
@click.option(
    "--max-pending-mib", type=POSITIVE, callback=finite, default=DEFAULT_QUEUE_BYTES / 2**20, show_default=True,
    help="Updates kept while waiting for the upstream snapshot, in MiB; past it they are dropped and a fresh "
         "snapshot is asked for."
)
@_end_grace("after the last END heard from upstream, also once the upstream is gone; then the relay waits for "
            "the next session.")
@_max_payload
@max_scene_option
@ignored_links_option
@_verbose
def relay(
    upstream: str,
    bind: str,
    sub_snapshot: str | None,
    snapshot: str | None,
    opaque: bool,
    curve_secret: str | None,
    allow: str | None,
    upstream_secret: str | None,
    upstream_key: str | None,
    max_pending_mib: float,
    end_grace: float,
    max_payload: int,
    max_scene_gib: float | None,
    verbose: int,
) -> None:
    """Forward a live session to another tier, with its own snapshot service (``--max-scene-gib``
    bounds the scene it keeps for snapshots, not with ``--opaque``, which keeps no scene). The
    snapshots carry the session's transform links as recorded: a relay needs no link code."""
    from transports.relay import Relay
    from transports.state import OpaqueState

    _setup_logging(verbose)
    if upstream == bind or (sub_snapshot is not None and sub_snapshot == snapshot):
        raise click.UsageError("the relay would subscribe to itself: --sub and --pub (and their snapshot "
                               "endpoints) must differ")
    if opaque:
        if max_scene_gib is not None:
            raise click.UsageError("--opaque keeps no scene: it takes no --max-scene-gib")
        state: Any = OpaqueState()
    else:
        from transports.scene_state import SceneStreamState

        state = SceneStreamState(limits=limits_for(max_scene_gib), keep_links_as_recorded=True)
    stop = _stop_on_signals()
    try:
        forwarder = Relay(
            upstream,
            bind,
            upstream_snapshot=sub_snapshot,
            snapshot_bind=snapshot,
            state=state,
            max_payload=max_payload,
            max_pending_bytes=int(max_pending_mib * 2**20),
            end_grace=end_grace,
            upstream_security=client_security(upstream_secret, upstream_key),
            downstream_security=server_security(curve_secret, allow),
        )
    except (OSError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    forwarder.start()
    click.echo(f"relaying {upstream} -> {forwarder.endpoint} (snapshots {forwarder.snapshot_endpoint})", err=True)
    while not stop.wait(0.2):
        pass
    forwarder.stop()
    stop.exit_if_signalled()


# ---------------------------------------------------------------------------------------------
# gsp keys
# ---------------------------------------------------------------------------------------------
@click.command()
@click.option("-o", "--output", "folder", type=click.Path(file_okay=False), required=True, help="Folder.")
@click.option("--force", is_flag=True, help="Replace an existing key pair of that name.")
@click.argument("name")
def keys(folder: str, name: str, force: bool) -> None:
    """Write a CURVE key pair NAME.key (public) and NAME.key_secret into a folder."""
    try:
        public, secret = generate_keys(Path(folder), name, replace=force)
    except SecurityError as error:
        raise click.UsageError(str(error)) from None
    except OSError as error:  # a folder that cannot be made or written (read-only, /proc, a file)
        from gsplog_cli.main import os_error_line

        raise click.ClickException(f"cannot write the key pair {name!r}: {os_error_line(error)}") from None
    click.echo(f"public: {public}\nsecret: {secret}")
