"""``player.replay``: replay a session log or a live stream into a backend, image, frames or video."""

from __future__ import annotations

import numbers
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from player.clock import RealtimeClock, make_clock
from player.controller import PlaybackController
from player.engine import FrameSelection, ReplayEngine
from player.exporters import Exporter, FrameRate, PngExporter, make_exporter
from player.frames import RenderedFrame
from player.positions import Position, parse_position
from player.sources import Source, is_live_endpoint, open_source
from sessions.command import Command
from sessions.limits import DEFAULT_LIMITS, Limits

__all__ = ["FrameOutOfRange", "ReplayResult", "replay", "parse_size", "LIVE_PNG_REFRESH_S"]

#: A live replay's or render node's ``.png`` is rewritten with the newest frame this often (s).
LIVE_PNG_REFRESH_S = 1.0

_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


@dataclass
class ReplayResult:
    """What a replay did: ``frames`` drawn, ``outputs`` written, ``commands`` applied."""

    frames: int = 0
    outputs: list[Path] = field(default_factory=list)
    commands: int = 0
    frames_seen: int = 0
    passes: int = 0
    elapsed_s: float = 0.0
    fps: float | None = None
    #: a video's frame rate and where it came from (``--fps``, the animator, the recorded timing)
    frame_rate: FrameRate | None = None
    backend: str = ""
    frames_in_log: int | None = None  # the renders a log file's index counts (None: live, or unknown)
    #: A followed log whose end never came (no END within the follow timeout: its recorder was
    #: killed, or the file was replaced or cut), or a live session that will not END (its
    #: publisher restarted or went silent: ``live_lost`` says which). What arrived was drawn.
    unfinished: bool = False
    #: The user quit the window before the source ended (a followed log or a live stream then
    #: ends there, as asked, and is not reported as ``unfinished``).
    quit_early: bool = False
    #: The frames were shown in a window.
    window: bool = False
    #: A live session that did not END: why (the subscriber's REPLACED or GONE reason); None otherwise.
    live_lost: str | None = None
    #: A live source's session id (hex) and the last update of it applied (None: a file, or no session).
    live_session: str | None = None
    live_last_update: int = 0


class FrameOutOfRange(ValueError):
    """``frame`` past the last frame of a log file: nothing would be drawn."""

    def __init__(self, source: Any, frame: int, total: int) -> None:
        named = f"{os.fspath(source)}: " if isinstance(source, (str, os.PathLike)) else ""
        super().__init__(f"{named}frame {frame}: the session has {total} frame{'s' if total != 1 else ''}")
        self.frame, self.total = frame, total


def parse_size(size: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"800x600"`` or ``(800, 600)`` -> ``(800, 600)``; ValueError naming the text otherwise."""
    if size is None:
        return None
    if isinstance(size, str):
        match = _SIZE.match(size)
        if not match:
            raise ValueError(f"size {size!r}: expected WIDTHxHEIGHT in pixels, e.g. 800x600")
        width, height = int(match.group(1)), int(match.group(2))
    else:
        width, height = (int(v) for v in size)
    if width < 1 or height < 1 or width > 32768 or height > 32768:
        raise ValueError(f"size {width}x{height}: width and height must be within 1..32768 pixels")
    return width, height


def _position(value: str | float | Position | None) -> Position | None:
    return None if value is None else parse_position(value)


def replay(
    source: str | os.PathLike[str] | Iterable[Command],
    backend: str = "matplotlib",
    output: str | os.PathLike[str] | None = None,
    *,
    speed: float | None = None,
    realtime: bool | None = None,
    start: str | float | Position | None = None,
    stop: str | float | Position | None = None,
    frame: int | None = None,
    loop: bool = False,
    size: str | tuple[int, int] | None = None,
    follow: bool = False,
    progress: bool | None = None,
    fps: float | None = None,
    window: bool | None = None,
    follow_timeout_s: float | None = None,
    max_passes: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    live_options: Mapping[str, Any] | None = None,
    refuse_no_output: bool = False,
) -> ReplayResult:
    """Replay ``source`` with the ``backend`` renderer (``"matplotlib"``, ``"datoviz"``, ``"null"``).

    ``source`` is a ``.gsplog`` path (``follow=True`` tails a file still being written), a live
    ``tcp://`` endpoint, or an iterable of commands. ``output``: ``*.png`` (the last frame, or
    frame ``frame``), a folder (``frame_000001.png``...), or ``*.mp4``/``*.gif`` (``fps`` or the
    recorded frame rate). Without an output a window opens when a display exists (``window``
    forces it on or off); otherwise the scene is just replayed.
    ``speed``/``realtime`` pace frames by their recorded times; by default (``realtime=None``) a
    window shows a log file at its recorded pace, and everything else runs as fast as it can;
    with a video ``output``, ``speed`` multiplies its frame rate instead (a video that plays X
    times faster, written as fast as it can be; an image output refuses it, and ``fps`` too);
    ``start``/``stop`` accept seconds, ``"#N"`` frames or ``"@label"`` markers; ``loop`` replays
    again from the start (``max_passes`` bounds it); ``size`` (``"WxH"``) overrides the canvas.
    ``progress`` shows a tqdm bar (default: when stderr is a terminal). ``limits`` bound what
    reading the log and the replayed scene may allocate (``max_scene_bytes``: the buffers and
    canvas frames the scene holds). ``live_options``: more arguments of the live source's
    ``transports.Subscriber`` (``snapshot_endpoint``, ``security``: a ``ClientSecurity`` for a
    CURVE session, ``heartbeat_timeout``, ``max_payload``). ``refuse_no_output`` (gsp-replay):
    ``ValueError``, once the source is open and before anything is drawn, for a replay that
    would draw every frame for nothing: no output, and no window (none asked for, and no
    display) with a backend that draws. ``window=False`` or the null backend say that is the
    point (timing a backend, checking a log).

    Raises ``ValueError`` (bad options, unknown backend; :class:`FrameOutOfRange`: ``frame``
    past a log file's last frame, before anything is drawn), ``FileNotFoundError``,
    ``sessions.errors.LogFormatError`` (a bad log) and ``sessions.errors.CommandError`` (a
    command that cannot be applied, a render the backend cannot draw, or a scene over
    ``limits.max_scene_bytes``).
    """
    began = time.perf_counter()
    _check_number("frame", frame, integral=True)
    _check_number("speed", speed)
    _check_number("fps", fps)
    _check_number("follow_timeout_s", follow_timeout_s)
    _check_number("max_passes", max_passes, integral=True)
    selection = FrameSelection(_position(start), _position(stop), frame)
    canvas_size = parse_size(size)
    if canvas_size is not None and 4 * canvas_size[0] * canvas_size[1] > limits.max_scene_bytes:
        raise ValueError(f"size {canvas_size[0]}x{canvas_size[1]}: its frames take "
                         f"{4 * canvas_size[0] * canvas_size[1] / 2**30:.1f} GiB, over the scene limit of "
                         f"{limits.max_scene_bytes / 2**30:.1f} GiB (--max-scene-gib)")
    if speed is not None and not speed > 0:
        raise ValueError(f"speed {speed!r}: must be a positive factor")
    if speed is not None and realtime is False:
        raise ValueError("speed paces frames at the recorded pace times the factor: it cannot run fast too "
                         "(give --speed or --fast, not both)")
    if frame is not None and (start is not None or stop is not None):
        raise ValueError("frame draws one frame: give it or a range (--from/--to), not both")
    if fps is not None and not fps > 0:
        raise ValueError(f"fps {fps!r}: must be positive")
    if fps is not None and output is None:
        raise ValueError("fps (--fps) is a video's frame rate: give a video output (-o movie.mp4 or .gif)")
    if output is not None and backend == "null":
        raise ValueError("backend 'null' draws nothing: it cannot write images (use matplotlib or datoviz)")
    if loop and output is not None:
        raise ValueError("loop: cannot loop into an output file (loop is for windows and live nodes)")
    if window and output is not None:  # the window steps back and forth: which frames would the file get?
        raise ValueError("window: a window plays the session, an output writes its frames: give one of them "
                         "(replay twice for both)")
    from player.window import has_display

    shown_for_nothing = refuse_no_output and window is None and output is None and backend != "null"
    if window is None:
        window = output is None and backend != "null" and has_display()
    elif window and not has_display():  # a window nobody can see would wait for its q forever
        raise ValueError("window: there is no display to open one on (DISPLAY and WAYLAND_DISPLAY unset, or a "
                         "non-interactive Matplotlib backend such as Agg); write images with an output instead")
    # With an output, speed makes a faster (or slower) video, drawn as fast as it can be.
    video_speed, speed = (speed, None) if output is not None else (None, speed)
    if realtime is None:
        realtime = paced_by_default(source, window=window, follow=follow)
    clock = make_clock(realtime=realtime, speed=speed)
    engine = ReplayEngine(backend, size=canvas_size, selection=selection, clock=clock, limits=limits)  # checks the backend
    # A live source's PNG is kept current (once a second) rather than written at the end only.
    refresh_s = LIVE_PNG_REFRESH_S if is_live_endpoint(source) else None
    exporter: Exporter | None = make_exporter(output, fps=fps, speed=video_speed, refresh_s=refresh_s) if output is not None else None
    engine.image = exporter.wants if exporter is not None else ("rgba" if window else "none")
    src: Source | None = None
    try:
        src = open_source(source, follow=follow, follow_timeout_s=follow_timeout_s, limits=limits,
                          live_options=live_options)
        engine.joined_live = src.live
        if src.can_seek and selection.stop is not None and selection.stop.kind == "marker":
            # Through the index, as the tools find it: `@label#2` counts from the session's start
            # even when the replay seeks past the first, and an unknown marker is an error.
            if selection.start is not None:
                src.reader.check_range(selection.start, selection.stop)  # names both ends
            from sessions import At

            stop_at = At.seq(src.reader.resolve(selection.stop))  # the engine stops before it, as at the marker
            selection = engine.selection = FrameSelection(selection.start, stop_at, selection.frame)
        total = _frame_total(src.reader) if src.can_seek and not follow else None
        if selection.frame is not None and total is not None and selection.frame > total:
            raise FrameOutOfRange(source, selection.frame, total)
        if isinstance(exporter, PngExporter) and selection.frame is None and src.can_seek:
            # Only the last frame is kept: seek straight to it instead of drawing every frame.
            last = _last_frame_in_range(src.reader, selection)
            if last:
                selection = engine.selection = FrameSelection(frame=last)
        if shown_for_nothing and not window:  # the source is checked first: a bad log says so
            named = f"{os.fspath(source)}: " if isinstance(source, (str, os.PathLike)) else ""
            raise ValueError(
                f"{named}no output and no display for a window (DISPLAY and WAYLAND_DISPLAY unset, or a non-interactive "
                "Matplotlib backend such as Agg): nothing would be shown or written; give -o out.png (the last "
                "frame), -o frames/ or -o movie.mp4 (--no-window, or -b null, replays without output)"
            )
    except BaseException:  # a source that cannot be read: no folder made for nothing, nothing left open
        if exporter is not None:
            exporter.abort()
        if src is not None:
            src.close()
        engine.close()
        raise
    result = ReplayResult(backend=backend, frames_in_log=_frame_total(src.reader) if src.can_seek else None)
    bar = _progress_bar(progress, lambda: _frames_in_range(src.reader, selection) if src.can_seek else None)

    def one_pass(read: Callable[[Iterator[Command]], Iterator[Command]] | None = None) -> Iterator[RenderedFrame]:
        engine.reset()
        result.passes += 1
        seek = _seek(src, selection)
        at, start_seq, frames_before = seek if seek is not None else (None, None, 0)
        commands = src.commands(at) if read is None else read(src.commands(at))
        yield from engine.frames(commands, start_seq=start_seq, frames_before=frames_before)
        result.frames_seen = engine.frames_seen

    try:
        if src.reader is not None and selection.start is not None and selection.stop is not None:
            src.reader.check_range(selection.start, selection.stop)
        if window:
            _play_in_window(one_pass, engine, clock, result, loop and src.rewindable, max_passes, bar,
                            waits_for_data=src.follow or src.live)
        else:
            while True:
                drawn_before = result.frames
                for rendered in one_pass():
                    result.frames += 1
                    if exporter is not None:
                        if not rendered.has_image:
                            raise ValueError(
                                f"backend {backend!r} returned no image for frame {rendered.number}; "
                                "it cannot write images (use matplotlib or datoviz)"
                            )
                        exporter.add(rendered)
                    if bar is not None:
                        bar.update(1)
                # a pass that drew nothing (no render, or none selected) would loop forever
                more = loop and src.rewindable and result.frames > drawn_before and (max_passes is None or result.passes < max_passes)
                if not more:
                    break
        if exporter is not None:
            result.outputs = exporter.close()
            result.fps = getattr(exporter, "fps", None)
            result.frame_rate = getattr(exporter, "frame_rate", None)
    except BaseException:  # Ctrl-C too: ffmpeg and the PNG threads stop, no video cut short stays
        if exporter is not None:
            exporter.abort()  # no video cut short at the failing frame is left behind
        raise
    finally:
        if bar is not None:
            bar.close()
        engine.close()
        src.close()
    result.commands = engine.commands_applied
    result.elapsed_s = time.perf_counter() - began
    result.unfinished = src.follow and src.reader is not None and not src.reader.ended and not result.quit_early
    if src.tally is not None:
        from transports.protocol import session_id_hex

        tally = src.tally
        result.live_session = session_id_hex(tally.session_id) if tally.session_id else None
        result.live_last_update = tally.last_seq
        result.live_lost = tally.lost
        result.unfinished = result.unfinished or (tally.lost is not None and not result.quit_early)
    return result


def _check_number(name: str, value: Any, *, integral: bool = False) -> None:
    """``TypeError`` naming the option for a value that is not a number (``frame="2"`` met a
    ``<`` deep in the engine: "'<' not supported between instances of 'str' and 'int'")."""
    kind = numbers.Integral if integral else numbers.Real
    if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
        expected = "an int" if integral else "a number"
        raise TypeError(f"{name} {value!r}: expected {expected}, got {type(value).__name__}")


def paced_by_default(source: str | os.PathLike[str] | Iterable[Command], *, window: bool, follow: bool) -> bool:
    """Whether frames wait for their recorded times when the caller did not say: a window shows a
    log file as it was recorded; exports, headless replays, live streams and followed files (which
    arrive at their own pace) run as fast as they can."""
    return window and not follow and isinstance(source, (str, os.PathLike)) and not is_live_endpoint(source)


def _seek(src: Source, selection: FrameSelection) -> tuple[Any, int, int] | None:
    """(position, first seq to draw, renders before the keyframe) to start from a keyframe.

    None when the source cannot seek or nothing needs it; the engine then reads from the start.
    """
    if not src.can_seek or src.reader is None:
        return None
    from sessions import At

    if selection.frame is not None:
        at = At.frame(selection.frame)
    elif selection.start is not None:
        at = selection.start
    else:
        return None
    reader = src.reader
    target = reader.resolve(at)  # ValueError for an unknown marker
    index = reader.index
    keyframe = index.keyframe_before_seq(target)
    if keyframe is None:
        return at, target, 0
    kf_last = index.entries[keyframe].seq_last
    commands = [index.entries[i] for i in index.command_chunks()]
    if any(e.seq_first <= kf_last < e.seq_last for e in commands):
        return None  # a chunk straddles the keyframe: frame numbers would be unknown
    return at, target, sum(e.frames for e in commands if e.seq_last <= kf_last)


def _progress_bar(progress: bool | None, total: Callable[[], int | None]) -> Any:
    """A tqdm bar on stderr (``progress`` None: when stderr is a terminal) of ``total()`` frames
    (None: a bare count); ``total`` is asked only when the bar is shown."""
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total(), unit="frame", desc="replay", file=sys.stderr)


def _renders_before(reader: Any, seq: int) -> int:
    """How many ``Renderer.render`` commands come before ``seq`` (from the index, reading the
    one chunk that holds ``seq``)."""
    from sessions.index import RENDER_OP

    count = 0
    index = reader.index
    for number in index.command_chunks():
        entry = index.entries[number]
        if entry.seq_last < seq:
            count += entry.frames
        elif entry.seq_first < seq and entry.frames:
            count += sum(1 for c in reader.read_chunk(number).commands() if c.op == RENDER_OP and c.seq < seq)
    return count


def _replay_end_seq(reader: Any, stop: Any) -> int:
    """The first seq a replay to ``stop`` leaves out, by the engine's rule: a time includes the
    commands at that very time (the tools' cut stops before them), a frame its render, a
    marker or seq:N stops before that command."""
    from sessions import At

    if stop is None:
        return int(reader.last_seq()) + 1
    if stop.kind == "time":
        return int(reader.resolve(At.time(int(stop.value) + 1)))
    return int(reader.stop_seq(stop))


def _range_frames(reader: Any, selection: FrameSelection) -> tuple[int, int] | None:
    """(frames before ``selection``'s range, number of its last frame), from the index (reading
    at most the chunks that hold its ends); None when a marker it names is unknown (the replay
    then says so) or the index does not count the frames."""
    try:
        if selection.start is None and selection.stop is None:
            total = _frame_total(reader)
            return None if total is None else (0, total)
        end = _replay_end_seq(reader, selection.stop)
        first = reader.resolve(selection.start) if selection.start is not None else 0
    except ValueError:
        return None
    return _renders_before(reader, first), _renders_before(reader, end)


def _last_frame_in_range(reader: Any, selection: FrameSelection) -> int | None:
    """The number of the last frame ``selection``'s range holds; None when it holds none (or a
    marker it names is unknown: the replay then says so)."""
    frames = _range_frames(reader, selection)
    return frames[1] if frames is not None and frames[1] > frames[0] else None


def _frames_in_range(reader: Any, selection: FrameSelection) -> int | None:
    """How many frames ``selection`` draws from a seekable log (the progress bar's total)."""
    if selection.frame is not None:
        return 1
    frames = _range_frames(reader, selection)
    return None if frames is None else max(0, frames[1] - frames[0])


def _frame_total(reader: Any) -> int | None:
    # The index may know how many renders the log holds; the bar works without it.
    index = getattr(reader, "index", None)
    value = getattr(index, "total_frames", None)
    return value if isinstance(value, int) else None


def _play_in_window(
    one_pass: Any,
    engine: ReplayEngine,
    clock: Any,
    result: ReplayResult,
    can_loop: bool,
    max_passes: int | None,
    bar: Any,
    *,
    waits_for_data: bool = False,
) -> None:
    from player.backends.matplotlib.figure_host import interrupt_noted
    from player.window import FrameWindow, QuitWhileWaiting, read_aside, run_window

    controller: PlaybackController[RenderedFrame] = PlaybackController(clock=clock)
    window = FrameWindow(controller, title=f"gsp replay ({engine.backend})")
    if isinstance(clock, RealtimeClock):  # keys and a close are handled while a frame is not yet due
        clock.sleep = window.wait_for_frame

    # A followed file or a live stream waits for its next commands: read on a thread of its own,
    # the window meanwhile handling its keys and a close.
    read = (lambda commands: read_aside(commands, window)) if waits_for_data else None
    frames = iter(one_pass(read))
    ended = False  # the session's end was met (the window then stays on its last frame)

    def next_frame() -> RenderedFrame | None:
        nonlocal ended
        try:
            rendered = next(frames, None)
        except QuitWhileWaiting:  # the frame that was not due yet is not drawn
            rendered = None
        ended = ended or (rendered is None and not controller.quit_requested)
        if rendered is not None:
            result.frames += 1
            if bar is not None:
                bar.update(1)
        return rendered

    drawn_before = 0  # frames drawn before this pass: a pass that drew none would loop forever

    def restart() -> bool:
        nonlocal frames, drawn_before
        if not can_loop or controller.quit_requested or result.frames == drawn_before or \
                (max_passes is not None and result.passes >= max_passes):
            return False
        drawn_before = result.frames
        frames = iter(one_pass(read))
        return True

    interrupted: list[bool] = []

    def interrupt() -> None:  # Ctrl-C: in a Tk callback its KeyboardInterrupt was printed and lost
        interrupted.append(True)
        controller.quit_requested = True

    with interrupt_noted(interrupt):
        run_window(next_frame, controller, window, restart=restart)
    if interrupted:
        raise KeyboardInterrupt
    result.quit_early = controller.quit_requested and not ended
    result.window = True
