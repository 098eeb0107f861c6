"""A playback window: shows replayed frames in a Matplotlib figure and routes its keys to a
:class:`player.controller.PlaybackController` (space, arrows, q).

It displays the images any backend produced (Matplotlib or Datoviz alike), so interactive
control does not depend on the backend's own event loop.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from player.backends.matplotlib.figure_host import draw_near_one_ratios_at_one, window_keys_only
from player.controller import PlaybackController
from player.frames import RenderedFrame

__all__ = ["has_display", "FrameWindow", "QuitWhileWaiting", "run_window", "read_aside"]

T = TypeVar("T")


class QuitWhileWaiting(BaseException):
    """The user quit while the replay waited for its next frame's time: that frame is neither
    drawn nor counted. A BaseException, as the replay engine reports a drawing's Exceptions as
    command errors."""


def has_display() -> bool:
    """True when a window can be opened (a display exists and Matplotlib's backend is interactive)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    import matplotlib

    backend = matplotlib.get_backend().lower()
    return backend not in {"agg", "pdf", "ps", "svg", "cairo", "template"} and "inline" not in backend


class FrameWindow:
    """One pyplot figure showing one image, its keys sent to ``controller.on_key``."""

    def __init__(self, controller: PlaybackController[RenderedFrame], title: str = "gsp replay") -> None:
        import matplotlib.pyplot as plt

        self._plt = plt
        self.controller = controller
        self.title = title
        # No toolbar: its least width (about 660 px in Tk) would stretch a smaller frame; without
        # it the window is the frame's size (times the screen's scale, on a scaled screen).
        with plt.rc_context({"toolbar": "None"}):
            self.figure = plt.figure(title)
        # A screen's ratio near 1 (Tk: 1.04 at 100 dpi) drawn at 1: the window shows the frame's
        # own pixels, as the script's live window did, not the frame scaled by 1.04 (rows and
        # columns doubled every 25 pixels).
        draw_near_one_ratios_at_one(self.figure.canvas)
        window_keys_only(self.figure.canvas)  # its own keys, none that change its Axes (l: log scale)
        self.axes = self.figure.add_axes((0.0, 0.0, 1.0, 1.0))
        self.axes.set_axis_off()
        self._image: Any = None
        self.closed = False
        self._shown = False
        self.figure.canvas.mpl_connect("key_press_event", self._on_key)
        self.figure.canvas.mpl_connect("close_event", self._on_close)

    def _on_key(self, event: Any) -> None:
        self.controller.on_key(event.key)

    def _on_close(self, event: Any) -> None:
        self.closed = True
        self.controller.quit_requested = True

    def show(self, frame: RenderedFrame) -> None:
        """Display a frame (the figure takes the frame's size in pixels, at the first and at each change)."""
        rgba = frame.rgba_array()
        if self._image is None or self._image.get_array().shape[:2] != rgba.shape[:2]:
            # The first frame, or one of another size (a canvas the script resized, say to follow
            # its window): the window takes the frame's size. set_data alone stretched the new
            # frame over the first one's shape.
            height, width = rgba.shape[:2]
            dpi = float(getattr(self.figure, "_original_dpi", None) or self.figure.get_dpi())  # without the screen's ratio
            self.figure.set_size_inches(width / dpi, height / dpi)
            if self._image is not None:
                self._image.remove()
            self._image = self.axes.imshow(rgba, interpolation="nearest")
        else:
            self._image.set_data(rgba)
        # In the title bar: the axes fill the figure, so an axes title would be drawn outside it.
        manager = self.figure.canvas.manager
        if manager is not None:
            manager.set_window_title(f"{self.title}: frame {frame.number}, t = {frame.t_ns / 1e9:.3f} s")
        self.figure.canvas.draw_idle()

    def pump(self, seconds: float) -> None:
        """Process window events for ``seconds``."""
        if not self._shown:
            self._plt.show(block=False)  # maps the window
            self._shown = True
        # Not plt.pause: it shows the window again each time, and a shown window's show()
        # redraws it whole and raises it above the others (figure.raise_window): every 30 ms in
        # a paused or waiting window. Frames are drawn by show()'s draw_idle. A timeout of 0
        # would wait forever ("no timeout").
        self.figure.canvas.start_event_loop(max(seconds, 1e-4))

    def wait(self, seconds: float) -> None:
        """Wait ``seconds`` handling window events meanwhile; a replay's clock waits so between
        frames due later. The keys act at once, as between frames: a quit ends the wait; a pause
        holds it (the time paused is added to it, as the clock adds it to every later frame),
        a step back shows the frame before, a step forward ends it so that the frame is drawn now.
        Before, the wait ran to its end whatever was pressed: a step back showed nothing until
        then, and the frame came over it, paused or not."""
        controller = self.controller
        deadline = time.monotonic() + seconds
        paused_since: float | None = None
        while not controller.quit_requested:
            now = time.monotonic()
            if controller.paused and paused_since is None:
                paused_since = now
            elif not controller.paused and paused_since is not None:
                deadline += now - paused_since
                paused_since = None
            if controller.paused or not controller.at_live_edge:  # a key moved the frame shown
                action = controller.next_action()
                if action == "new" and controller.paused:  # a step forward past the newest frame
                    return
                if action == "show":
                    current = controller.current()
                    if current is not None:
                        self.show(current)
            if paused_since is None and deadline <= now:
                return
            self.pump(0.03 if paused_since is not None else min(deadline - now, 0.03))

    def wait_for_frame(self, seconds: float) -> None:
        """:meth:`wait`, as a replay's clock waits for its next frame: raises
        :class:`QuitWhileWaiting` when the wait ended with a quit."""
        self.wait(seconds)
        if self.controller.quit_requested:
            raise QuitWhileWaiting

    def close(self) -> None:
        """Close the figure."""
        if not self.closed:
            self._plt.close(self.figure)
            self.closed = True


def run_window(
    next_frame: Callable[[], RenderedFrame | None],
    controller: PlaybackController[RenderedFrame],
    window: FrameWindow,
    *,
    restart: Callable[[], bool] | None = None,
    on_frame: Callable[[RenderedFrame], None] | None = None,
) -> None:
    """Drive the window until the user quits (or closes it).

    ``next_frame()`` draws the next frame of the session (None at its end); ``restart()``
    starts the session again for ``--loop`` (returns False when it cannot).
    When the session ends without ``--loop`` the window stays open on the last frame; it closes
    at once when there was none to show.
    """
    while True:
        action = controller.next_action()
        if action == "quit":
            break
        if action == "new":
            frame = next_frame()
            if frame is None:
                if restart is not None and restart():
                    continue
                controller.end_of_session()
                if controller.current() is None:  # nothing to show: an empty window would wait for a q
                    break
            else:
                controller.push(frame)
                window.show(frame)
                if on_frame is not None:
                    on_frame(frame)
        elif action == "show":
            current = controller.current()
            if current is not None:
                window.show(current)
        window.pump(0.001 if action == "new" else 0.03)
    window.close()


def read_aside(items: Iterator[T], window: FrameWindow, *, backlog: int = 256) -> Iterator[T]:
    """``items`` (a source's commands) taken by a thread of their own, while ``window`` handles
    its events: a followed file or a live stream waits for its next commands, and a window
    waiting with it was frozen (no redraw, a q or a close handled only once the next data came,
    never if none came). Ends early when the user quits; up to ``backlog`` items read ahead.
    """
    taken: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=backlog)
    done = threading.Event()

    def put(kind: str, item: Any) -> bool:
        while not done.is_set():
            try:
                taken.put((kind, item), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def pull() -> None:
        try:
            for item in items:
                if not put("item", item):
                    return
            put("end", None)
        except BaseException as error:  # the source's error is raised where its items are used
            put("error", error)

    # A daemon: a followed file's poll may outlast a quit (its --timeout); nothing waits for it.
    threading.Thread(target=pull, name="gsp-replay-source", daemon=True).start()
    try:
        while True:
            try:
                kind, item = taken.get_nowait()
            except queue.Empty:
                if window.controller.quit_requested:
                    return
                window.wait(0.03)
                continue
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        done.set()
