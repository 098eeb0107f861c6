"""MatplotlibRenderer: draws GSP scenes with Matplotlib's Agg rasterizer.

One Axes per viewport covers exactly its pixel rectangle with NDC limits [-1, 1]; every visual
is prepared by :mod:`player.backends.prepare` (the numbers the Datoviz backend draws too) and
drawn by an artist that is kept across frames and updated in place; artists are rebuilt only
when a visual's kind (or a Texts' string count) changes. ``render`` returns PNG bytes of exactly
canvas width × height pixels; ``render_rgba`` returns the pixels without PNG encoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gsp.types.renderer_base import RendererBase
from player.backends.matplotlib.artists import VisualArtist, artist_class_for
from player.backends.matplotlib.figure_host import FigureHost
from player.backends.prepare import prepare_visual, viewport_frame
from player.backends.prepare_convert import color_float, drawing_error

__all__ = ["MatplotlibRenderer"]


class MatplotlibRenderer(RendererBase):
    """Renders GSP visuals with Matplotlib (off-screen Agg unless a window can be shown).

    ``png_compress_level`` (0..9, zlib) trades PNG size for speed: 6 is what Matplotlib's
    ``savefig`` uses; 1 encodes several times faster into files about a third larger.
    ``offscreen`` (settable until the first render): draw off-screen even where a window could
    be shown, for callers that display the frames themselves (the player's window).
    """

    def __init__(self, canvas: Any, *, png_compress_level: int = 6, offscreen: bool = False) -> None:
        super().__init__(canvas)
        self.offscreen = offscreen
        if not 0 <= int(png_compress_level) <= 9:
            raise ValueError(f"MatplotlibRenderer: png_compress_level must be 0..9, got {png_compress_level}")
        self._png_compress_level = int(png_compress_level)
        self._host: FigureHost | None = None
        # (viewport uuid, visual uuid, occurrence) -> the artist drawing that visual there; the
        # occurrence counts repeats of one visual in one viewport (drawn with other matrices).
        self._artists: dict[tuple[str, str, int], VisualArtist] = {}

    # -- public helpers ----------------------------------------------------------------------
    def get_figure(self) -> Any:
        """The Matplotlib Figure (created on first use)."""
        return self._figure_host().figure

    def get_mpl_axes(self, viewport: Any) -> Any:
        """The Matplotlib Axes of a viewport already rendered, or None."""
        return self._figure_host().axes.get(viewport.get_uuid())

    def get_artists(self, viewport: Any, visual: Any) -> list[Any]:
        """The Matplotlib artists drawing ``visual`` in ``viewport`` (empty if none)."""
        entry = self._artists.get((viewport.get_uuid(), visual.get_uuid(), 0))
        return list(entry.artists) if entry else []

    renders_rgba = True

    def _render_rgba(
        self,
        viewports: Sequence[Any],
        visuals: Sequence[Any],
        model_matrices: Sequence[Any],
        cameras: Sequence[Any],
    ) -> np.ndarray:
        """The same drawing as :meth:`render` as a new (H, W, 4) uint8 array (for video exporters)."""
        return self._draw(viewports, visuals, model_matrices, cameras).copy()

    # -- RendererBase ------------------------------------------------------------------------
    def _render(
        self,
        viewports: Sequence[Any],
        visuals: Sequence[Any],
        model_matrices: Sequence[Any],
        cameras: Sequence[Any],
    ) -> bytes:
        rgba = self._draw(viewports, visuals, model_matrices, cameras)
        return FigureHost.encode_png(rgba, self._png_compress_level)

    def clear(self) -> None:
        """Forget every viewport and artist: the next render draws only what it is given."""
        super().clear()
        self._clear()

    def show(self) -> None:
        """Show the window and block until it closes; returns at once without a display. In a
        notebook with Matplotlib's inline backend, the picture goes into the cell's output."""
        self._figure_host().show()

    def close(self) -> None:
        """Release the figure."""
        super().close()
        if self._host is not None:
            self._host.close()
        self._host = None
        self._artists.clear()

    # -- internals ---------------------------------------------------------------------------
    def _clear(self) -> None:
        for entry in self._artists.values():
            entry.remove()
        self._artists.clear()
        if self._host is not None:
            self._host.clear()

    def _figure_host(self) -> FigureHost:
        if self._host is None:
            canvas = self.get_canvas()
            self._host = FigureHost(int(canvas.get_width()), int(canvas.get_height()), float(canvas.get_dpi()),
                                    interactive=False if self.offscreen else None)
        return self._host

    def _draw(
        self,
        viewports: Sequence[Any],
        visuals: Sequence[Any],
        model_matrices: Sequence[Any],
        cameras: Sequence[Any],
    ) -> np.ndarray:
        canvas = self.get_canvas()
        host = self._figure_host()
        host.resize(int(canvas.get_width()), int(canvas.get_height()), float(canvas.get_dpi()))
        host.set_background(color_float(canvas.get_background_color(), "Canvas.background_color"))
        used_axes: set[str] = set()
        used_artists: set[tuple[str, str, int]] = set()
        for index, (viewport, visual, model, camera) in enumerate(zip(viewports, visuals, model_matrices, cameras)):
            frame = viewport_frame(viewport, canvas)
            ax = host.axes_for(viewport.get_uuid(), frame)
            used_axes.add(viewport.get_uuid())
            key = (viewport.get_uuid(), visual.get_uuid(), 0)
            while key in used_artists:
                key = (key[0], key[1], key[2] + 1)
            used_artists.add(key)
            try:
                prepared = prepare_visual(visual, model, camera, viewport, canvas)
                entry = self._artists.get(key)
                if entry is not None and entry.ax is ax and entry.fits(prepared):
                    entry.zorder = index
                    for artist in entry.artists:
                        artist.set_zorder(index)
                    entry.update(prepared)
                else:
                    if entry is not None:
                        entry.remove()
                    self._artists[key] = artist_class_for(prepared)(ax, prepared, index)
            except (TypeError, ValueError) as error:  # which visual of which call, as render's checks say
                raise drawing_error(self, index, error) from error
        for key in [k for k in self._artists if k not in used_artists]:
            self._artists.pop(key).remove()
        host.drop_axes_except(used_axes)
        return host.draw_rgba()

