"""A faster preparation of Points/Markers for the Datoviz backend (large point clouds).

This asks nothing new of the shared layer: it is :func:`player.backends.prepare.prepare_points`
(and ``prepare_markers``) computed from the same building blocks (``transbuf_array``,
``projection``, ``area_to_diameter_px``, ``pt_to_px``, ``rgba_float``), with three savings that
matter at millions of points, each giving the same numbers:

- count-1 attributes (one size, one color for all points) are converted once and stay
  broadcast views (stride 0) instead of N-long arrays, so the drawer sees them as uniform and
  uploads them only when they change;
- with identity model, view and projection matrices (2-D scenes) the positions are the NDC:
  no matrix product;
- ``px`` (viewport pixels) is not computed: the Datoviz drawer does not use it (it is ``None``).

:func:`prepare_visual_for_datoviz` uses it for Points/Markers and the shared
``prepare_visual`` for everything else. tests/backends/test_datoviz_renderer.py checks that both
agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from player.backends.prepare import (
    PreparedPoints,
    area_to_diameter_px,
    prepare_visual,
    projection,
    pt_to_px,
    viewport_frame,
    visual_kind,
)
from player.backends.prepare_convert import amounts, getter, rgba_float, transbuf_array

__all__ = ["prepare_points_fast", "prepare_visual_for_datoviz"]

_IDENTITY = np.eye(4)


def _per_item(array: np.ndarray, count: int, convert: Any) -> np.ndarray:
    """``convert`` applied to 1 or ``count`` items (``render`` checked which); one item comes
    back broadcast to ``count``."""
    if array.shape[0] == 1 and count != 1:
        one = convert(array)
        return np.broadcast_to(one, (count, *one.shape[1:]))
    return convert(array)


def prepare_points_fast(visual: Any, model_matrix: Any, camera: Any, viewport: Any, canvas: Any) -> PreparedPoints:
    """Points or Markers prepared as ``prepare_points``/``prepare_markers`` do, with ``px=None``."""
    kind = visual_kind(visual)
    frame = viewport_frame(viewport, canvas)
    proj = projection(model_matrix, camera)
    shape = "disc"
    if kind == "Markers":
        shape = str(getter(visual, "marker_shape").value)
    positions = transbuf_array(visual.get_positions(), f"{kind}.positions", ("vec3",))
    n = positions.shape[0]
    if np.array_equal(proj.mvp, _IDENTITY):
        ndc = positions  # identity P·V·M: the positions are the NDC (a read-only view)
    else:
        ndc = proj.project(positions)
    sizes = amounts(visual.get_sizes(), f"{kind}.sizes")
    widths = amounts(visual.get_edge_widths(), f"{kind}.edge_widths")
    faces = transbuf_array(visual.get_face_colors(), f"{kind}.face_colors", ("rgba8",))
    edges = transbuf_array(visual.get_edge_colors(), f"{kind}.edge_colors", ("rgba8",))
    return PreparedPoints(
        ndc=ndc,
        px=None,  # type: ignore[arg-type]
        sizes_pt2=_per_item(sizes, n, lambda a: a),
        diameters_px=_per_item(sizes, n, lambda a: area_to_diameter_px(a, frame.dpi)),
        face_colors=_per_item(faces, n, rgba_float),
        edge_colors=_per_item(edges, n, rgba_float),
        edge_widths_pt=_per_item(widths, n, lambda a: a),
        edge_widths_px=_per_item(widths, n, lambda a: pt_to_px(a, frame.dpi)),
        marker_shape=shape,
        kind="markers" if kind == "Markers" else "points",
    )


def prepare_visual_for_datoviz(visual: Any, model_matrix: Any, camera: Any, viewport: Any, canvas: Any) -> Any:
    """``prepare_visual``, with the fast path for Points and Markers."""
    if visual_kind(visual) in ("Points", "Markers"):
        return prepare_points_fast(visual, model_matrix, camera, viewport, canvas)
    return prepare_visual(visual, model_matrix, camera, viewport, canvas)
