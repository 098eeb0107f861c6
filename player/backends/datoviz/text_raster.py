"""Texts drawn on the CPU with Matplotlib's Agg text engine, uploaded to Datoviz as an image.

Datoviz 0.3.5 has one built-in font (its glyph atlas) and no font selection by name; drawing the
strings with the same engine as the Matplotlib backend gives the same font, size in pt,
alignment and rotation on both backends. The result is cropped to the pixels the texts cover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TextRaster", "rasterize_texts"]

_VA = {"top": "top", "center": "center", "bottom": "bottom"}


@dataclass(frozen=True)
class TextRaster:
    """RGBA pixels (row 0 at the top) and where they lie in the viewport.

    rect_ndc = (left, right, bottom, top) in the viewport's NDC. ``rgba`` is None when nothing
    is visible.
    """

    rgba: np.ndarray | None
    rect_ndc: tuple[float, float, float, float]


def rasterize_texts(
    px: np.ndarray,
    strings: list[str],
    colors: np.ndarray,
    font_sizes_pt: np.ndarray,
    halign: list[str],
    valign: list[str],
    angles_deg: np.ndarray,
    font_name: str,
    width: int,
    height: int,
    dpi: float,
) -> TextRaster:
    """Draw the texts anchored at viewport pixels ``px`` (y up) on a transparent canvas.

    Rotation is about the anchor (Matplotlib ``rotation_mode="anchor"``).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from player.backends.matplotlib.fonts import font_family

    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    fig.patch.set_alpha(0.0)
    for i, text in enumerate(strings):
        x, y = float(px[i, 0]), float(px[i, 1])
        if not (np.isfinite(x) and np.isfinite(y)) or not text:
            continue
        fig.text(
            x / width, y / height, text,
            ha=halign[i], va=_VA[valign[i]],
            rotation=float(angles_deg[i]), rotation_mode="anchor",
            fontsize=float(font_sizes_pt[i]), family=font_family(font_name),
            color=tuple(float(c) for c in colors[i]),
            parse_math=False, usetex=False,  # GSP strings are plain text: "$5 to $10" is no formula
        )
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    if rgba.shape[:2] != (height, width):  # figsize rounding: pad or cut to the exact size
        fixed = np.zeros((height, width, 4), np.uint8)
        h, w = min(height, rgba.shape[0]), min(width, rgba.shape[1])
        fixed[:h, :w] = rgba[:h, :w]
        rgba = fixed
    rows = np.nonzero(rgba[..., 3].any(axis=1))[0]
    cols = np.nonzero(rgba[..., 3].any(axis=0))[0]
    if rows.size == 0:
        return TextRaster(None, (0.0, 0.0, 0.0, 0.0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    crop = np.ascontiguousarray(rgba[r0:r1, c0:c1])
    left, right = 2.0 * c0 / width - 1.0, 2.0 * c1 / width - 1.0
    top, bottom = 1.0 - 2.0 * r0 / height, 1.0 - 2.0 * r1 / height
    return TextRaster(crop, (left, right, bottom, top))
