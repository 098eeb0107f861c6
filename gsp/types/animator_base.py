"""AnimatorBase: calls per-frame callbacks and renders, headless or in a backend's window loop."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from gsp.capture import Captured, new_uuid, notify
from gsp.core.camera import Camera
from gsp.core.event import Event
from gsp.core.viewport import Viewport
from gsp.types.renderer_base import RendererBase
from gsp.types.transbuf import TransBuf
from gsp.types.visual_base import VisualBase

__all__ = ["AnimatorBase", "AnimatorCallback", "configure_headless", "reset_headless", "headless_settings", "display_available", "HeadlessSettings"]

#: ``(delta_time_s) -> the visuals the callback changed``
AnimatorCallback = Callable[[float], Sequence[VisualBase]]

DEFAULT_FRAMES = 60
DEFAULT_FPS = 30.0


@dataclass(frozen=True)
class HeadlessSettings:
    """How many frames the headless loop runs, and the fixed frame period (1/fps)."""

    frames: int
    fps: float


_configured: HeadlessSettings | None = None


def configure_headless(frames: int | None, fps: float = DEFAULT_FPS, duration_s: float | None = None) -> None:
    """Process-wide: make ``AnimatorBase.start`` run the headless loop.

    ``frames`` wins over ``duration_s`` (frames = round(duration_s * fps)); with neither, the
    loop runs 60 frames. :func:`reset_headless` undoes it.
    """
    global _configured
    if fps <= 0:
        raise ValueError(f"configure_headless: fps must be > 0, got {fps}")
    if frames is None and duration_s is not None:
        if duration_s < 0:
            raise ValueError(f"configure_headless: duration_s must be >= 0, got {duration_s}")
        frames = round(duration_s * fps)
    if frames is None:
        frames = DEFAULT_FRAMES
    if frames < 0:
        raise ValueError(f"configure_headless: frames must be >= 0, got {frames}")
    _configured = HeadlessSettings(int(frames), float(fps))


def reset_headless() -> None:
    """Forget :func:`configure_headless` (the environment and display decide again)."""
    global _configured
    _configured = None


def headless_settings() -> HeadlessSettings | None:
    """The headless settings in force: configure_headless(), else env GSP_ANIMATOR_FRAMES/FPS, else None."""
    if _configured is not None:
        return _configured
    frames_env, fps_env = os.environ.get("GSP_ANIMATOR_FRAMES"), os.environ.get("GSP_ANIMATOR_FPS")
    if not frames_env and not fps_env:
        return None
    try:
        fps = float(fps_env) if fps_env else DEFAULT_FPS
        frames = int(frames_env) if frames_env else DEFAULT_FRAMES
    except ValueError:
        raise ValueError(
            f"GSP_ANIMATOR_FRAMES={frames_env!r} / GSP_ANIMATOR_FPS={fps_env!r}: expected an int and a number"
        ) from None
    if fps <= 0 or frames < 0:
        raise ValueError(f"GSP_ANIMATOR_FRAMES={frames_env!r} / GSP_ANIMATOR_FPS={fps_env!r}: out of range")
    return HeadlessSettings(frames, fps)


def display_available() -> bool:
    """Whether a window can be opened (an X11/Wayland display on Linux; assumed elsewhere)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class AnimatorBase(Captured):
    """``AnimatorBase(renderer)``: per-frame callbacks, then a render of the given visuals.

    :meth:`start` is not recorded (the callbacks' own set_* calls are, as outermost calls);
    each frame is reported with ``notify(self, "frame", delta_time)``.

    Headless loop (when :func:`configure_headless` or env ``GSP_ANIMATOR_FRAMES`` /
    ``GSP_ANIMATOR_FPS`` is set, or there is no display): for each frame, report it, call
    every callback with the fixed ``delta_time = 1/fps``, then render; 60 frames at 30 fps
    unless configured; it runs as fast as it can (no sleeping; a recorder still logs the frames
    ``1/fps`` apart). Otherwise the backend's
    :meth:`_run_live` runs the window loop.
    """

    _capture_family_ = "Animator"

    def __init__(self, renderer: RendererBase) -> None:
        if not isinstance(renderer, RendererBase):
            raise TypeError(f"{type(self).__name__}: renderer must be a RendererBase, got {type(renderer).__name__}")
        self._uuid = new_uuid()
        self._renderer = renderer
        self._callbacks: list[AnimatorCallback] = []
        self._running = False
        self._stop_requested = False
        self.on_video_saved: Event[Callable[[], None]] = Event()

    def get_renderer(self) -> RendererBase:
        """The renderer each frame is drawn with."""
        return self._renderer

    def add_callback(self, callback: AnimatorCallback) -> None:
        """Call ``callback(delta_time)`` every frame."""
        if not callable(callback):
            raise TypeError(f"{type(self).__name__}.add_callback: callback must be callable")
        self._callbacks.append(callback)

    def remove_callback(self, callback: AnimatorCallback) -> None:
        """Stop calling ``callback``."""
        try:
            self._callbacks.remove(callback)
        except ValueError:
            raise ValueError(f"{type(self).__name__}.remove_callback: callback is not registered") from None

    def event_listener(self, callback: AnimatorCallback) -> AnimatorCallback:
        """Decorator form of :meth:`add_callback`."""
        self.add_callback(callback)
        return callback

    def is_running(self) -> bool:
        """True while a loop runs."""
        return self._running

    def start(
        self,
        viewports: Sequence[Viewport],
        visuals: Sequence[VisualBase],
        model_matrices: Sequence[TransBuf],
        cameras: Sequence[Camera],
    ) -> None:
        """Run the animation loop until it ends or :meth:`stop` is called."""
        self._renderer._check_render_args(viewports, visuals, model_matrices, cameras, f"{type(self).__name__}.start")
        settings = headless_settings()
        if settings is None and self._has_display():
            self._running, self._stop_requested = True, False
            try:
                self._run_live(viewports, visuals, model_matrices, cameras)
            finally:
                self._running = False
            return
        self._run_headless(settings or HeadlessSettings(DEFAULT_FRAMES, DEFAULT_FPS), viewports, visuals, model_matrices, cameras)

    def stop(self) -> None:
        """End the running loop after the current frame."""
        self._stop_requested = True

    def _run_headless(
        self,
        settings: HeadlessSettings,
        viewports: Sequence[Viewport],
        visuals: Sequence[VisualBase],
        model_matrices: Sequence[TransBuf],
        cameras: Sequence[Camera],
    ) -> None:
        delta_time = 1.0 / settings.fps
        self._running, self._stop_requested = True, False
        try:
            for _ in range(settings.frames):
                if self._stop_requested:
                    break
                self._frame(delta_time)
                self._render_frame(viewports, visuals, model_matrices, cameras)
        finally:
            self._running = False

    def _render_frame(
        self,
        viewports: Sequence[Viewport],
        visuals: Sequence[VisualBase],
        model_matrices: Sequence[TransBuf],
        cameras: Sequence[Camera],
    ) -> None:
        """Render one frame whose picture nobody reads (backends' live loops call it too).

        Through ``render_rgba`` where the renderer has it: ``render`` would encode a PNG that is
        thrown away (most of a Matplotlib frame's time: benchmarks/bench_animator.py). Both
        record a ``Renderer.render``."""
        renderer = self._renderer
        if renderer.renders_rgba:
            renderer.render_rgba(viewports, visuals, model_matrices, cameras)
        else:
            renderer.render(viewports, visuals, model_matrices, cameras)

    def _frame(self, delta_time: float) -> list[VisualBase]:
        """Report one frame and run the callbacks; return the visuals they changed (for backends)."""
        notify(self, "frame", delta_time)
        changed: list[VisualBase] = []
        for callback in tuple(self._callbacks):
            result = callback(delta_time)
            if result is None:
                continue
            visuals = list(result) if isinstance(result, Iterable) and not isinstance(result, (str, bytes)) else None
            if visuals is None or not all(isinstance(v, VisualBase) for v in visuals):
                name = getattr(callback, "__qualname__", repr(callback))
                raise TypeError(f"{type(self).__name__}: callback {name} must return the visuals it changed "
                                f"(a list of visuals, or None), got {result!r:.80}")
            changed.extend(visuals)
        return changed

    def _has_display(self) -> bool:
        """Whether the live loop can run; backends may refine (e.g. a non-interactive Matplotlib backend)."""
        return display_available()

    def _run_live(
        self,
        viewports: Sequence[Viewport],
        visuals: Sequence[VisualBase],
        model_matrices: Sequence[TransBuf],
        cameras: Sequence[Camera],
    ) -> None:
        """Backend window loop: call ``self._frame(dt)`` then render each frame; honour ``self._stop_requested``."""
        self._run_headless(HeadlessSettings(DEFAULT_FRAMES, DEFAULT_FPS), viewports, visuals, model_matrices, cameras)
