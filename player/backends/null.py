"""The null backend: validates like every renderer, draws nothing, returns at once.

Used by benchmarks and headless tests to measure everything but drawing. ``NullRenderer(canvas,
blank_png=True)`` returns a transparent PNG of the canvas size instead of ``b""``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gsp.types.animator_base import AnimatorBase
from gsp.types.renderer_base import RendererBase
from gsp.types.viewport_events_base import ViewportEventsBase
from gsp.utils.png import blank_png

__all__ = ["NullRenderer", "NullAnimator", "NullViewportEvents", "register"]


class NullRenderer(RendererBase):
    """A renderer that draws nothing: ``render`` validates its arguments and returns ``b""``."""

    def __init__(self, canvas: Any, blank_png: bool = False) -> None:
        super().__init__(canvas)
        self._blank_png = blank_png
        self.render_count = 0

    def _render(
        self,
        viewports: Sequence[Any],
        visuals: Sequence[Any],
        model_matrices: Sequence[Any],
        cameras: Sequence[Any],
    ) -> bytes:
        self.render_count += 1
        if not self._blank_png:
            return b""
        canvas = self.get_canvas()
        return blank_png(int(canvas.get_width()), int(canvas.get_height()))

    renders_rgba = True

    def _render_rgba(
        self,
        viewports: Sequence[Any],
        visuals: Sequence[Any],
        model_matrices: Sequence[Any],
        cameras: Sequence[Any],
    ) -> np.ndarray:
        """A transparent (height, width, 4) uint8 frame."""
        self.render_count += 1
        canvas = self.get_canvas()
        return np.zeros((int(canvas.get_height()), int(canvas.get_width()), 4), dtype=np.uint8)

    def show(self) -> None:
        """Nothing to show: returns at once."""

    def close(self) -> None:
        """Nothing to release."""

    def clear(self) -> None:
        """Nothing to clear."""


class NullAnimator(AnimatorBase):
    """The base class's headless loop; there is never a window."""

    def _run_live(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the null backend has no window: run the animator headless")


class NullViewportEvents(ViewportEventsBase):
    """No input device: events only arrive through ``dispatch`` (e.g. replayed ones)."""


def register() -> None:
    """Register the null backend under the name ``"null"``."""
    from gsp.utils.renderer_registry import RendererRegistry

    RendererRegistry.register_renderer("null", NullRenderer, NullViewportEvents, NullAnimator)
