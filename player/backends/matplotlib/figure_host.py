"""The Matplotlib figure of one renderer: exact pixel size, one Axes per viewport, readback.

Off-screen (the default) the figure has an Agg canvas of its own and no pyplot state; where a
display exists and an interactive Matplotlib backend is active, the figure is made by pyplot so
that ``show()`` can open a window.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from player.backends.prepare import ViewportFrame

__all__ = ["FigureHost", "display_available", "draw_near_one_ratios_at_one", "interrupt_noted",
           "window_keys_only"]

_NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


def display_available() -> bool:
    """True when a window can be shown: an interactive Matplotlib backend and a display."""
    backend = str(matplotlib.get_backend()).lower()
    if backend in _NON_INTERACTIVE or _is_inline(backend):
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _is_inline(backend: str) -> bool:
    """Whether ``backend`` (lower case) is Jupyter's inline one: ``module://matplotlib_inline...``,
    or ``inline`` as Matplotlib 3.9 and later name it."""
    return backend == "inline" or backend.startswith("module://matplotlib_inline")


def _inline_in_notebook() -> bool:
    """Whether Matplotlib's inline backend draws into an IPython shell (a Jupyter notebook)."""
    if not _is_inline(str(matplotlib.get_backend()).lower()):
        return False
    ipython = sys.modules.get("IPython")
    try:
        return ipython is not None and ipython.get_ipython() is not None  # type: ignore[attr-defined]
    except Exception:
        return False


#: Device pixel ratios this close to 1 are drawn at 1 (see :func:`draw_near_one_ratios_at_one`).
NEAR_ONE = 0.1


def draw_near_one_ratios_at_one(canvas: Any) -> None:
    """Make a window canvas draw at one device pixel per canvas pixel where its screen's ratio
    is within :data:`NEAR_ONE` of 1.

    Such ratios are a screen's DPI a little off 96, not a scaling its user chose: Tk on X11
    reports 1.04 at 100 dpi (Xvfb's default) and 0.999 where the server rounds the screen's
    millimetres. Drawn at that ratio the window's buffer is a few pixels larger or smaller than
    the canvas, and ``render()`` could only scale it (a resampled picture) or draw the scene a
    second time at the canvas's size. At 1 the window shows the canvas's own pixels and the one
    draw is both the window's and ``render()``'s. Larger ratios (HiDPI, 125 % and up) keep
    theirs: the window stays sharp and ``render()`` draws the picture again (``draw_rgba``).

    Matplotlib's window backends (Tk, Qt, GTK, macOS) all set the ratio through the canvas's
    ``_set_device_pixel_ratio`` (on mapping, on a screen change); this wraps it on this canvas.
    """
    set_ratio = getattr(canvas, "_set_device_pixel_ratio", None)
    if set_ratio is None:  # another Matplotlib: draw_rgba's second draw still gives the picture
        return

    def set_drawing_ratio(ratio: float) -> bool:
        return bool(set_ratio(1.0 if abs(float(ratio) - 1.0) < NEAR_ONE else ratio))

    canvas._set_device_pixel_ratio = set_drawing_ratio
    set_drawing_ratio(float(getattr(canvas, "device_pixel_ratio", 1.0) or 1.0))


#: Matplotlib's default keys that change the Axes under the pointer: a grid, a log scale.
AXES_KEYMAPS = ("keymap.grid", "keymap.grid_minor", "keymap.xscale", "keymap.yscale")


def window_keys_only(canvas: Any) -> None:
    """Keep Matplotlib's default keys of a window (``q`` and ctrl+w close it, ``f`` fills the
    screen), without those that change the Axes under the pointer.

    A GSP window's Axes are its viewports, with NDC limits -1..1, and the replay window's is
    its picture: ``l``, ``k`` or ``L`` log-scaled them (every later draw of the window then
    failed: a script's clicks were neither drawn nor recorded), ``g`` and ``G`` toggled grids
    GSP knows nothing of. A script's own key events still receive every key.
    """
    from matplotlib.backend_bases import key_press_handler

    manager = getattr(canvas, "manager", None)
    handler_id = getattr(manager, "key_press_handler_id", None)
    if manager is None or handler_id is None:  # no default keys (toolmanager) or no window
        return

    def window_keys(event: Any) -> None:
        rc: Any = matplotlib.rcParams  # read at each key, as Matplotlib does (a matplotlibrc may remap them)
        if not any(event.key in rc[name] for name in AXES_KEYMAPS):
            key_press_handler(event)

    canvas.mpl_disconnect(handler_id)
    manager.key_press_handler_id = canvas.mpl_connect("key_press_event", window_keys)


@contextlib.contextmanager
def interrupt_noted(on_interrupt: Callable[[], None]) -> Iterator[None]:
    """Ctrl-C calls ``on_interrupt`` instead of raising, while a window's event loop runs.

    Tk runs Python code only in its callbacks, which print an exception and go on: the
    KeyboardInterrupt of a Ctrl-C landing in one (a redraw, a tick) was lost, the window went
    on, and the program never ended. The loop sees what ``on_interrupt`` noted, ends, and raises
    KeyboardInterrupt itself. A handler of the program's own is left alone.
    """
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: on_interrupt())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _tuple(rgba: np.ndarray) -> tuple[float, float, float, float]:
    return (float(rgba[0]), float(rgba[1]), float(rgba[2]), float(rgba[3]))


class FigureHost:
    """One Figure sized ``width × height`` pixels at ``dpi``, with Axes keyed by viewport UUID."""

    def __init__(self, width: int, height: int, dpi: float, interactive: bool | None = None) -> None:
        self.interactive = display_available() if interactive is None else interactive
        self.size = (0, 0, 0.0)
        if self.interactive:
            import matplotlib.pyplot as plt

            # No toolbar: its least width (about 660 px in Tk) would widen a smaller canvas's
            # window, and the figure with it, stretching the drawing.
            with plt.rc_context({"toolbar": "None"}):
                self.figure = plt.figure()
            draw_near_one_ratios_at_one(self.figure.canvas)
            window_keys_only(self.figure.canvas)
        else:
            self.figure = Figure()
            FigureCanvasAgg(self.figure)
        self.axes: dict[str, Axes] = {}
        self.resize(width, height, dpi)

    # -- figure ------------------------------------------------------------------------------
    def resize(self, width: int, height: int, dpi: float) -> None:
        """Make the figure exactly ``width × height`` pixels (no-op when unchanged)."""
        if self.size == (width, height, dpi):
            return
        if width <= 0 or height <= 0 or dpi <= 0:
            raise ValueError(f"Canvas: width, height and dpi must be positive, got {width}×{height} at {dpi} dpi")
        self.size = (width, height, dpi)
        # A window on a HiDPI or scaled screen draws at its device pixel ratio times the figure's
        # *original* dpi, which set_dpi leaves at Matplotlib's default (100): set both, or such a
        # window grows by dpi/100 more than the ratio (a 72-dpi canvas 1.39x larger) and its
        # mouse events land elsewhere than drawn.
        ratio = float(getattr(self.figure.canvas, "device_pixel_ratio", 1.0) or 1.0)
        self.figure._original_dpi = dpi  # type: ignore[attr-defined]
        self.figure.set_dpi(dpi * ratio)
        self.figure.set_size_inches(self._inches(), forward=self.interactive)

    def _inches(self) -> tuple[float, float]:
        """The figure's size in inches for the canvas's pixels: a hair over the exact size, as
        Agg truncates width*dpi/dpi, which can fall a pixel short."""
        width, height, dpi = self.size
        return (width + 1e-3) / dpi, (height + 1e-3) / dpi

    def set_background(self, rgba: np.ndarray) -> None:
        """Canvas background (alpha 0 = transparent)."""
        self.figure.patch.set_facecolor(_tuple(rgba))

    # -- viewports ---------------------------------------------------------------------------
    def axes_for(self, key: str, frame: ViewportFrame) -> Axes:
        """The Axes covering exactly the viewport's pixel rectangle, NDC limits [-1, 1]."""
        ax = self.axes.get(key)
        if ax is None:
            ax = self.figure.add_axes((0.0, 0.0, 1.0, 1.0))
            ax.set_autoscale_on(False)
            ax.set_xlim(-1.0, 1.0)
            ax.set_ylim(-1.0, 1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            ax.patch.set_antialiased(False)
            self.axes[key] = ax
        width, height, _ = self.size
        ax.set_position((frame.x / width, frame.y / height, frame.width / width, frame.height / height))
        ax.set_facecolor(_tuple(frame.background))
        return ax

    def drop_axes_except(self, keep: set[str]) -> None:
        """Remove the Axes of viewports no longer rendered."""
        for key in [k for k in self.axes if k not in keep]:
            self.axes.pop(key).remove()

    def clear(self) -> None:
        """Remove every Axes and artist."""
        for ax in self.axes.values():
            ax.remove()
        self.axes.clear()
        self.figure.clear()

    # -- output ------------------------------------------------------------------------------
    def draw_rgba(self) -> np.ndarray:
        """Draw and return a view of the canvas buffer, (height, width, 4) uint8, row 0 on top.

        A shown window's buffer holds the canvas's own pixels on a screen of about one device
        pixel per canvas pixel (see :func:`draw_near_one_ratios_at_one`): it is returned as it
        is, one draw. Otherwise (a HiDPI or scaled screen, a window resized by hand) the window
        is drawn for the screen and the picture drawn again, off the window, at the canvas's
        size: scaling the window's buffer would resample the picture (wavy lines, blurred edges),
        and the window's shape may not even be the canvas's.
        """
        canvas: Any = self.figure.canvas  # Agg-based (FigureCanvasAgg or an interactive *Agg)
        width, height, _ = self.size
        inches, shown = np.array(self._inches()), self.figure.get_size_inches()
        if (shown != inches).any() and ((shown * self.figure.dpi).astype(int) == (inches * self.figure.dpi).astype(int)).all():
            # A window whose toolkit set the figure's size from its own (Tk: pixels / dpi): the
            # same pixels as the canvas's size, but a hair's difference in where each line falls
            # changes antialiased pixels by a level. The canvas's size back, the buffer unchanged.
            self.figure.set_size_inches(self._inches(), forward=False)
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
        if rgba.shape[:2] != (height, width):
            rgba = self._draw_at_canvas_size()
        return rgba

    def _draw_at_canvas_size(self) -> np.ndarray:
        """The scene drawn off the window at the canvas's size and dpi: the very picture an
        off-screen figure draws, pixel for pixel, whatever the window's size and pixel ratio."""
        width, height, dpi = self.size
        shown_w, shown_h = (float(v) for v in self.figure.get_size_inches())
        self.figure.set_size_inches(self._inches(), forward=False)
        try:
            out = io.BytesIO()
            # The canvas's own picture, whatever the user's savefig.* settings (bbox "tight", a
            # transparent or other face color would change its size or background).
            with matplotlib.rc_context({"savefig.bbox": "standard"}):
                self.figure.savefig(out, format="rgba", dpi=dpi, transparent=False,
                                    facecolor=self.figure.get_facecolor(), edgecolor=self.figure.get_edgecolor())
        finally:
            self.figure.set_size_inches((shown_w, shown_h), forward=False)  # the window keeps the user's size
        return np.frombuffer(out.getvalue(), np.uint8).reshape(height, width, 4)

    @staticmethod
    def encode_png(rgba: np.ndarray, compress_level: int = 6) -> bytes:
        """PNG bytes of an RGBA array (Pillow, as Matplotlib's savefig; zlib level 6 is its default)."""
        from PIL import Image

        out = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(rgba), "RGBA").save(out, format="png", compress_level=compress_level)
        return out.getvalue()

    def show(self) -> None:
        """Open the window and block until it closes (when interactive); in a notebook with
        Matplotlib's inline backend, put the picture in the cell's output instead."""
        if not self.interactive:
            if _inline_in_notebook():
                from IPython.display import Image, display

                display(Image(data=self.encode_png(self.draw_rgba()), format="png"))
            return
        import matplotlib.pyplot as plt

        plt.show(block=True)

    def close(self) -> None:
        """Release the figure (and its window)."""
        self.clear()  # first: removing Axes updates the toolbar, whose widgets plt.close destroys
        if self.interactive:
            import matplotlib.pyplot as plt

            plt.close(self.figure)

    def connect(self, event: str, callback: Any) -> int:
        """``mpl_connect`` on the figure's canvas."""
        canvas: Any = self.figure.canvas
        return int(canvas.mpl_connect(event, callback))
