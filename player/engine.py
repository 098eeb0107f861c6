"""The replay engine: commands in, rendered frames out.

It keeps a :class:`sessions.SceneState` fed with every command (so the scene is rebuilt by
re-executing the recorded calls), and drives one backend renderer per recorded renderer:
``Renderer.new`` records the canvas, the backend renderer is created on its first
``Renderer.render``; ``Renderer.render`` draws; ``Renderer.clear``/``close`` are forwarded.
Animator frames, viewport events and markers change state only.

Frames are numbered from 1 in the order of the ``Renderer.render`` commands of the session.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from gsp.capture import paused
from player.clock import Clock, FastClock
from player.frames import RenderedFrame
from player.positions import Position
from sessions.command import Command, Ref
from sessions.errors import CommandError, UnknownObjectError
from sessions.limits import DEFAULT_LIMITS, Limits
from sessions.position import MarkerWatch, RepeatedMarkerWarning, backwards_range, ends_before_start
from sessions.scene import UnknownRef

__all__ = ["FrameSelection", "ReplayEngine"]

MARK_OP = "Recorder.mark"
KEYFRAME_OP = "Scene.keyframe"
ANIMATOR_FRAME_OP = "Animator.frame"


@dataclass(frozen=True)
class FrameSelection:
    """Which frames to draw: from ``start`` to ``stop`` (both included), or just ``frame``."""

    start: Position | None = None
    stop: Position | None = None
    frame: int | None = None

    def __post_init__(self) -> None:
        if self.frame is not None and self.frame < 1:
            raise ValueError(f"frame {self.frame}: frames are numbered from 1")
        # What the kinds alone tell; markers and mixed kinds need the log (LogReader.check_range).
        if self.start is not None and self.stop is not None and ends_before_start(self.start, self.stop):
            raise backwards_range(self.start, self.stop)

    @property
    def needs_frame_numbers(self) -> bool:
        """True when absolute frame numbers matter (so the session must be read from its start)."""
        return self.frame is not None or any(p is not None and p.kind == "frame" for p in (self.start, self.stop))


class ReplayEngine:
    """Re-executes commands and makes the chosen backend draw each selected render.

    ``size`` overrides every recorded canvas: viewports are scaled to it, and the DPI by the
    smaller of the two scale factors, so that the picture keeps its look at another resolution.
    ``image`` is the form asked of the backend: ``"png"`` bytes, ``"rgba"`` arrays (through a
    backend's ``render_rgba`` when it has one, else PNG), or ``"none"`` (draw, keep nothing).
    ``limits.max_scene_bytes`` bounds what the replayed scene may hold (a bigger one raises
    ``sessions.errors.CommandError``).

    A command that cannot be applied, or a render the backend cannot draw (a damaged or hostile
    session: a camera that is not one, say), raises ``CommandError`` naming it; with
    ``on_error``, it is handed to ``on_error(command, error)`` instead, the frame is not drawn,
    and the replay goes on (a live render node must outlive a bad frame).

    ``joined_live``: the commands are a live stream joined part way, opening with a snapshot
    (a keyframe). The renders that snapshot records are drawn then, as frames: the scene is
    shown as it is at the join, not only at the session's next render, which may never come.
    So are those of a snapshot after a gap (a node that fell behind skipped ahead to it). Other
    keyframes (periodic ones, resyncs that missed nothing) only rebuild state.
    """

    def __init__(
        self,
        backend: str = "matplotlib",
        *,
        size: tuple[int, int] | None = None,
        selection: FrameSelection | None = None,
        clock: Clock | None = None,
        image: str = "png",
        limits: Limits = DEFAULT_LIMITS,
        on_error: Callable[[Command, CommandError], None] | None = None,
        joined_live: bool = False,
    ) -> None:
        from gsp.utils.renderer_registry import RendererRegistry

        self.backend = backend
        self._registry = RendererRegistry
        if size is not None and (size[0] < 1 or size[1] < 1):
            raise ValueError(f"size {size[0]}x{size[1]}: width and height must be positive")
        self.size = size
        self.selection = selection or FrameSelection()
        self.clock = clock or FastClock()
        if image not in ("png", "rgba", "none"):
            raise ValueError(f"image {image!r}: expected 'png', 'rgba' or 'none'")
        self.image = image
        self.limits = limits  # what the replayed scene may hold (max_scene_bytes)
        self.on_error = on_error
        self.joined_live = joined_live
        self._live_drawn_seq = -1  # a live stream's last render drawn: a resync may bring it again
        self._frame_rate: float | None = None  # declared by the latest Animator.frame (RenderedFrame)
        self.state: Any = None
        self.frames_seen = 0
        self.commands_applied = 0
        self._canvases: dict[str, Any] = {}  # recorded renderer uuid -> canvas Ref/object
        # recorded renderer uuid -> backend renderer, drawing a canvas of the engine's own that
        # follows the recorded one at each frame (see _backend_renderer)
        self._renderers: dict[str, Any] = {}
        # recorded viewport uuid -> its --size copy: one per viewport, kept from frame to frame,
        # as backends key their per-viewport state (Matplotlib's Axes) by viewport uuid
        self._scaled: dict[str, Any] = {}
        self._clock_started = False
        self.check_backend()

    # -- backends ------------------------------------------------------------------------------
    def check_backend(self) -> None:
        """Fail early (``ValueError``) when the backend name is unknown (listing the known names)
        or, for ``datoviz``, when Datoviz cannot be imported here (saying what to install): not
        at the first render, after the whole log up to it was decoded."""
        self._registry.get_entry(self.backend)
        if self.backend == "datoviz":
            from player.backends.datoviz._lib import DatovizUnavailable, dvz_lib

            try:
                dvz_lib()  # imported once: the renderer uses this same module
            except DatovizUnavailable as error:
                raise ValueError(str(error)) from None

    def _backend_renderer(self, cmd: Command) -> tuple[Any, Any]:
        """(the backend renderer of ``cmd``'s recorded renderer, the recorded canvas as it is now).

        The backend draws a canvas of the engine's own, set from the recorded canvas at every
        frame (its size, or ``--size``; its DPI, scaled with ``--size``; its background): not the
        recorded canvas object itself, which a keyframe (a live node's) or a new ``--loop`` pass
        replaces by a new one, whose changes the backend would never see, and which ``--size``
        must not resize."""
        source = self._canvas_for(cmd)
        width, height, dpi = source.get_width(), source.get_height(), source.get_dpi()
        if self.size is not None:
            scale = min(self.size[0] / width, self.size[1] / height)
            width, height, dpi = self.size[0], self.size[1], dpi * scale
        background = source.get_background_color()
        renderer = self._renderers.get(cmd.target)
        with paused():
            if renderer is None:
                from gsp.core import Canvas

                renderer = self._registry.create_renderer(self.backend, Canvas(width, height, dpi, background))
                if hasattr(renderer, "offscreen"):  # frames go to files or the player's own window, never to the backend's
                    renderer.offscreen = True
                self._renderers[cmd.target] = renderer
            else:
                canvas = renderer.get_canvas()
                canvas.set_width(width)
                canvas.set_height(height)
                canvas.set_dpi(dpi)
                canvas.set_background_color(background)
        return renderer, source

    def _canvas_for(self, cmd: Command) -> Any:
        canvas = self._canvases.get(cmd.target)
        if canvas is None:
            canvas = self._recorded_canvas(cmd.target)
        if canvas is None:
            raise UnknownObjectError(f"seq {cmd.seq} {cmd.op}: renderer {cmd.target} was never created (no "
                                     "Renderer.new)", seq=cmd.seq, op=cmd.op, uuid=cmd.target)
        return self._resolve(canvas, cmd)

    def _recorded_canvas(self, renderer_uuid: str) -> Any:
        # After a seek the Renderer.new may only be known to the scene state (from a keyframe).
        records = getattr(self.state, "records", None)
        record = records.get(renderer_uuid) if isinstance(records, dict) else None
        return _canvas_arg(record) if isinstance(record, Command) else None

    def _scaled_viewports(self, viewports: list[Any], canvas: Any) -> list[Any]:
        """The recorded viewports, one scaled copy each, in ``--size`` pixels."""
        from gsp.core import Viewport

        assert self.size is not None
        sx, sy = self.size[0] / canvas.get_width(), self.size[1] / canvas.get_height()
        scaled = []
        with paused():
            for vp in viewports:
                x0, y0 = round(vp.get_x() * sx), round(vp.get_y() * sy)
                x1 = round((vp.get_x() + vp.get_width()) * sx)
                y1 = round((vp.get_y() + vp.get_height()) * sy)
                width, height, color = max(1, x1 - x0), max(1, y1 - y0), vp.get_background_color()
                mine = self._scaled.get(vp.get_uuid())
                if mine is None:
                    mine = self._scaled[vp.get_uuid()] = Viewport(x0, y0, width, height, color)
                else:  # the recorded viewport may have moved or changed colour since
                    mine.set_x(x0)
                    mine.set_y(y0)
                    mine.set_width(width)
                    mine.set_height(height)
                    mine.set_background_color(color)
                scaled.append(mine)
        return scaled

    # -- state ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the scene (a new pass over the session: ``--loop``); keep backend renderers."""
        from sessions import SceneState

        self.state = SceneState(self.limits)
        self.frames_seen = 0
        self._canvases.clear()
        self._clock_started = False

    def _resolve(self, value: Any, cmd: Command) -> Any:
        """``value`` (``cmd``'s) with its Refs replaced by their objects: UnknownObjectError naming
        ``cmd`` for one the scene does not hold."""
        if isinstance(value, Ref):
            try:
                return self.state.resolve(value)
            except UnknownRef as error:
                raise UnknownObjectError(f"seq {cmd.seq} {cmd.op}: unknown object {error.uuid}", seq=cmd.seq,
                                         op=cmd.op, uuid=error.uuid) from None
        if isinstance(value, (list, tuple)):
            return [self._resolve(v, cmd) for v in value]
        return value

    # -- the loop ------------------------------------------------------------------------------
    def frames(
        self, commands: Iterable[Command], *, start_seq: int | None = None, frames_before: int = 0
    ) -> Iterator[RenderedFrame]:
        """Apply every command; yield a frame for each selected ``Renderer.render``.

        ``start_seq``/``frames_before`` come from a seek: drawing starts at the first command
        with ``seq >= start_seq``, and ``frames_before`` renders precede the commands given.
        Commands of a keyframe (after ``Scene.keyframe``, same seq) rebuild state only.
        """
        if self.state is None:
            self.reset()
        sel = self.selection
        start, stop = sel.start, sel.stop
        if start_seq is not None:
            start = None
        started = start is None and start_seq is None
        # Markers met in the stream, as LogReader.find_marker finds them in an index: `@label#2`
        # is the second marker of the label (counted from what the stream holds: a followed file
        # from its start, a live stream from the join); `@label` the first to start at, and any
        # to stop at once started.
        start_watch = MarkerWatch(start) if start is not None and start.kind == "marker" else None
        stop_watch = MarkerWatch(stop) if stop is not None and stop.kind == "marker" else None
        started_at_seq = -1
        self.frames_seen = frames_before
        keyframe_seq = -1
        join_seq = -1  # a live stream's snapshot whose renders are drawn (joined_live)
        held_seq = -1  # the last seq of the session whose state is held: a command's or a keyframe's
        apply = self.state.apply
        for cmd in commands:
            op = cmd.op
            if op == KEYFRAME_OP:
                keyframe_seq = cmd.seq
                # The snapshot a live stream opens with, or one after a gap (a node that fell
                # behind skipped ahead): the renders it holds were never drawn here. A periodic
                # keyframe comes at the last seq held (applied, or the snapshot's just drawn: a
                # node meets the publisher's own keyframe of the seq it joined at) and brings
                # nothing new to draw.
                join_seq = cmd.seq if self.joined_live and cmd.seq > held_seq else -1
            synthetic = cmd.seq <= keyframe_seq
            held_seq = max(held_seq, cmd.seq)
            if not synthetic:
                if stop is not None and stop.kind == "time" and cmd.t_ns > int(stop.value):
                    return
                if stop is not None and stop.kind == "seq" and cmd.seq >= int(stop.value):
                    return  # as the sessions tools cut: before the command at seq:N
                if not started:
                    if start_seq is not None:
                        started = cmd.seq >= start_seq
                    elif start is not None and start.kind == "time":
                        started = cmd.t_ns >= int(start.value)
                    elif start is not None and start.kind == "seq":
                        started = cmd.seq >= int(start.value)
                if op == MARK_OP:
                    label = cmd.args[0] if cmd.args else cmd.kwargs.get("label")
                    label = label if isinstance(label, str) else str(label)
                    if start_watch is not None and start_watch.hit(label):
                        if not started:
                            started, started_at_seq = True, cmd.seq
                        elif start_watch.count == 2 and start_watch.at.occurrence is None:
                            warnings.warn(RepeatedMarkerWarning(
                                f"marker @{label} comes again at seq {cmd.seq} ({cmd.t_ns / 1e9:.3f} s): the replay "
                                f"started at the first (seq {started_at_seq}); @{label}#2 names the second"),
                                stacklevel=2)
                    if stop_watch is not None and stop_watch.hit(label) and started:
                        return
            try:
                apply(cmd)
            except CommandError as error:
                if self.on_error is None:
                    raise
                self.on_error(cmd, error)
                continue
            self.commands_applied += 1
            if not op.startswith("Renderer."):
                if op == ANIMATOR_FRAME_OP:
                    self._frame_rate = _declared_rate(cmd)
                continue
            method = cmd.method
            if method == "render":
                if synthetic and cmd.seq != join_seq:
                    continue
                if self.joined_live:  # an opaque relay's resync snapshot brings renders already drawn
                    if cmd.seq <= self._live_drawn_seq and not synthetic:
                        continue
                    self._live_drawn_seq = max(self._live_drawn_seq, cmd.seq)
                self.frames_seen += 1
                number = self.frames_seen
                if not started and start is not None and start.kind == "frame" and number >= int(start.value):
                    started = True
                if started and (sel.frame is None or number == sel.frame):
                    try:
                        drawn = self._draw(cmd, number)
                    except Exception as error:  # the backend refused what the session asked it to draw
                        failure = error if isinstance(error, UnknownObjectError) else CommandError(
                            f"frame {number}, seq {cmd.seq} {cmd.op}: cannot draw it: {type(error).__name__}: {error}")
                        if self.on_error is None:
                            if failure is error:
                                raise
                            raise failure from error
                        self.on_error(cmd, failure)
                    else:
                        yield drawn
                if sel.frame is not None and number >= sel.frame:
                    return
                if stop is not None and stop.kind == "frame" and number >= int(stop.value):
                    return
            elif method == "new":
                self._canvases[cmd.target] = _canvas_arg(cmd)
            elif method == "clear":
                renderer = self._renderers.get(cmd.target)
                if renderer is not None:
                    with paused():
                        renderer.clear()
            elif method in ("close", "release"):  # release: the script dropped it unclosed
                renderer = self._renderers.pop(cmd.target, None)
                if renderer is not None:
                    with paused():
                        renderer.close()

    def _draw(self, cmd: Command, number: int) -> RenderedFrame:
        if not self._clock_started:
            self.clock.start(cmd.t_ns)
            self._clock_started = True
        else:
            self.clock.wait_until(cmd.t_ns)
        renderer, source = self._backend_renderer(cmd)
        args = [self._resolve(a, cmd) for a in _render_args(cmd)]
        if self.size is not None:
            args[0] = self._scaled_viewports(args[0], source)
        frame = RenderedFrame(number=number, t_ns=cmd.t_ns, renderer=cmd.target, frame_rate=self._frame_rate)
        with paused():
            # The null backend's render() returns b"" at once: its cheapest path for "none".
            if self.image == "png" or not renderer.renders_rgba or (
                self.image == "none" and self.backend == "null"
            ):
                png = renderer.render(*args)
                if self.image != "none":
                    frame.png = png
            else:
                # Pixels without PNG encoding; "none" draws and keeps nothing.
                rgba = renderer.render_rgba(*args)
                if self.image == "rgba":
                    frame.rgba = rgba
        return frame

    def close(self) -> None:
        """Close every backend renderer."""
        renderers, self._renderers = self._renderers, {}
        with paused():
            for renderer in renderers.values():
                renderer.close()


def _canvas_arg(cmd: Command) -> Any:
    if cmd.args:
        return cmd.args[0]
    return cmd.kwargs.get("canvas")


_RENDER_PARAMS = ("viewports", "visuals", "model_matrices", "cameras")


def _render_args(cmd: Command) -> list[Any]:
    args = list(cmd.args[:4])
    for name in _RENDER_PARAMS[len(args) :]:
        if name not in cmd.kwargs:
            raise ValueError(f"seq {cmd.seq} {cmd.op}: missing argument {name!r}")
        args.append(cmd.kwargs[name])
    return args


def _declared_rate(cmd: Command) -> float | None:
    """Frames per second an ``Animator.frame`` declares (1 / its ``delta_time``), None if unusable."""
    delta = cmd.args[0] if cmd.args else cmd.kwargs.get("delta_time")
    if not isinstance(delta, (int, float)) or isinstance(delta, bool) or not 0 < delta < 60:
        return None
    return 1.0 / delta
