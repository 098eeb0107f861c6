"""MatplotlibAnimator: the live loop on a Matplotlib timer when a window can be shown.

Without a window (no display, a non-interactive Matplotlib backend, or headless settings from
``gsp.types.animator_base.configure_headless``) the base class's headless loop runs instead.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from gsp.types.animator_base import DEFAULT_FPS, AnimatorBase
from player.backends.matplotlib.figure_host import display_available, interrupt_noted

__all__ = ["MatplotlibAnimator"]


class MatplotlibAnimator(AnimatorBase):
    """Animator for :class:`~player.backends.matplotlib.MatplotlibRenderer` (``fps``: live frame rate)."""

    def __init__(self, renderer: Any, fps: float = DEFAULT_FPS) -> None:
        super().__init__(renderer)
        if fps <= 0:
            raise ValueError(f"MatplotlibAnimator: fps must be > 0, got {fps}")
        self._fps = float(fps)
        self._timer: Any = None

    def _has_display(self) -> bool:
        # A display is not enough: Matplotlib must also use an interactive backend.
        return display_available()

    def _run_live(
        self,
        viewports: Sequence[Any],
        visuals: Sequence[Any],
        model_matrices: Sequence[Any],
        cameras: Sequence[Any],
    ) -> None:
        import matplotlib.pyplot as plt

        renderer = self.get_renderer()
        figure = renderer.get_figure()  # type: ignore[attr-defined]
        last = [time.perf_counter()]

        interrupted: list[bool] = []
        failed: list[BaseException] = []  # what a tick raised: Tk would print it and freeze the window

        def frame() -> None:
            if not plt.fignum_exists(figure.number):  # the window was closed: a tick may still be queued
                self._timer.stop()
                return
            if self._stop_requested:
                self._timer.stop()
                plt.close(figure)
                return
            now = time.perf_counter()
            delta, last[0] = now - last[0], now
            self._frame(delta)
            # The render draws the window itself (its canvas's draw shows the new buffer): a
            # draw_idle after it drew the same frame a second time, halving the frame rate.
            self._render_frame(viewports, visuals, model_matrices, cameras)

        def tick() -> None:
            if interrupted:
                self._timer.stop()
                plt.close(figure)  # the event loop ends: the interrupt is raised after it
                return
            try:
                frame()
            except Exception as error:  # a callback's or a render's: end the loop, raise it from start()
                failed.append(error)
                self._timer.stop()
                plt.close(figure)

        canvas = figure.canvas  # a closed figure gets a plain FigureCanvasBase, whose loop is not this one

        def closed(_event: Any) -> None:
            self._timer.stop()
            canvas.stop_event_loop()

        self._render_frame(viewports, visuals, model_matrices, cameras)
        self._timer = figure.canvas.new_timer(interval=max(int(1000.0 / self._fps), 1))
        self._timer.add_callback(tick)
        figure.canvas.mpl_connect("close_event", closed)
        self._timer.start()
        with interrupt_noted(lambda: interrupted.append(True)):
            # Every window of the script is shown, but the loop runs until this one closes:
            # plt.show(block=True) (renderer.show()) waited for all of them, so stop() in a
            # dashboard of several canvases, or closing the animated window, never returned.
            plt.show(block=False)
            canvas.start_event_loop()
        self._timer.stop()
        if interrupted:
            raise KeyboardInterrupt
        if failed:
            raise failed[0]
