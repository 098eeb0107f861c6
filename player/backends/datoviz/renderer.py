"""DatovizRenderer: draws GSP scenes with Datoviz (Vulkan), offscreen, frame after frame.

Every visual is prepared by :mod:`player.backends.prepare` (the same numbers the Matplotlib
backend draws) and drawn by a :class:`DatovizDrawer` whose Datoviz visuals live across renders,
so that an animation uploads only the arrays that changed. ``render`` returns PNG bytes of
exactly canvas width × height; ``render_rgba`` returns the pixels without PNG encoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gsp.types.renderer_base import RendererBase
from gsp.utils.png import encode_png
from player.backends.datoviz.drawer import DatovizDrawer, DrawItem
from player.backends.datoviz.engine import MAX_IMAGE_SIDE
from player.backends.datoviz.prepare_fast import prepare_visual_for_datoviz
from player.backends.prepare import viewport_frame
from player.backends.prepare_convert import color_float, drawing_error

__all__ = ["DatovizRenderer", "MAX_IMAGE_SIDE"]



class DatovizRenderer(RendererBase):
    """Renders GSP visuals with Datoviz into an offscreen Vulkan image (software Vulkan works)."""

    def __init__(self, canvas: Any) -> None:
        super().__init__(canvas)
        self._drawer: DatovizDrawer | None = None

    # -- public helpers ----------------------------------------------------------------------
    renders_rgba = True

    def _render_rgba(
        self,
        viewports: Sequence[Any],
        visuals: Sequence[Any],
        model_matrices: Sequence[Any],
        cameras: Sequence[Any],
    ) -> np.ndarray:
        """A new (height, width, 4) uint8 array, row 0 on top (no PNG)."""
        return self._draw(viewports, visuals, model_matrices, cameras)

    @property
    def drawer(self) -> DatovizDrawer:
        """The drawer holding the Datoviz engine and layers (created on first use)."""
        if self._drawer is None:
            self._drawer = DatovizDrawer()
        return self._drawer

    # -- RendererBase ------------------------------------------------------------------------
    def _render(
        self,
        viewports: Sequence[Any],
        visuals: Sequence[Any],
        model_matrices: Sequence[Any],
        cameras: Sequence[Any],
    ) -> bytes:
        return encode_png(self._draw(viewports, visuals, model_matrices, cameras))

    def clear(self) -> None:
        """Forget every Datoviz visual: the next render builds the scene it is given afresh."""
        if self._drawer is not None:
            self._drawer.close()
            self._drawer = None

    def show(self) -> None:
        """Offscreen only: there is no Datoviz window here, so this returns at once."""

    def close(self) -> None:
        """Release the Datoviz scene and server."""
        self.clear()

    # -- internals ---------------------------------------------------------------------------
    def _draw(
        self,
        viewports: Sequence[Any],
        visuals: Sequence[Any],
        model_matrices: Sequence[Any],
        cameras: Sequence[Any],
    ) -> np.ndarray:
        canvas = self.get_canvas()
        width, height = int(canvas.get_width()), int(canvas.get_height())
        if max(width, height) > MAX_IMAGE_SIDE:
            raise ValueError(f"Datoviz draws images of at most {MAX_IMAGE_SIDE} pixels a side; the canvas is "
                             f"{width}x{height} (replay with --size WxH to draw it smaller)")
        items = []
        for index, (viewport, visual, model, camera) in enumerate(zip(viewports, visuals, model_matrices, cameras)):
            try:
                prepared = prepare_visual_for_datoviz(visual, model, camera, viewport, canvas)
            except (TypeError, ValueError) as error:  # which visual of which call, as render's checks say
                raise drawing_error(self, index, error) from error
            items.append(DrawItem(viewport_frame(viewport, canvas), prepared, viewport.get_uuid()))
        background = color_float(canvas.get_background_color(), "Canvas.background_color")
        return self.drawer.draw(width, height, background, items, rgba=True)
