"""A bevel-joined path as triangles that do not overlap, for translucent colors.

The drawer's usual bevel path (butt half-segments, corner triangles on both sides, round caps
as discs) is made of overlapping pieces: fine when opaque, but a translucent path came out
darker wherever two pieces overlap (every joint, every round end), where Matplotlib fills the
stroke's outline once. Here each vertex's piece ``[mid(i-1, i), v_i, mid(i, i+1)]`` (Matplotlib's
piece for a per-vertex colored path, in that vertex's color and width) is tiled exactly:

- each half-segment is a quad whose joint end runs from the outer butt corner to the inner
  corner where the two inner edges meet, and a triangle (inner corner, both outer corners)
  fills the joint (the bevel included);
- where the inner corner lies farther along either segment than its midpoint (a sharp turn
  on short segments) the halves end flat at the vertex and a triangle (vertex, outer corners)
  fills the bevel: the inner side overlaps there, as it is small;
- end caps: butt ends flat, projecting ends pushed out by w/2, round ends a half-disc fan.

Mesh triangles are not antialiased in Datoviz (hard edges).
"""

from __future__ import annotations

import math

import numpy as np


def _half_disc_steps(radius_px: float) -> int:
    """Fan steps over a half circle so that its chords stay within 0.1 px of the arc."""
    if radius_px <= 0.1:
        return 4
    return int(min(64, max(4, math.ceil(math.pi / math.acos(1.0 - 0.1 / radius_px)))))


def bevel_triangles(pts: np.ndarray, widths: np.ndarray, colors: np.ndarray,
                    cap: str) -> tuple[np.ndarray, np.ndarray]:
    """Triangles ``(m, 3, 2)`` (pixel coordinates as ``pts``) and their colors ``(m, 4)`` of one
    path of ``n >= 2`` vertices ``pts (n, 2)`` with per-vertex ``widths (n,)`` in px and
    ``colors (n, 4)``; ``cap`` is ``"butt"``, ``"projecting"`` or ``"round"``."""
    n = pts.shape[0]
    d = np.diff(pts, axis=0)
    length = np.linalg.norm(d, axis=1)
    u = d / np.maximum(length, 1e-9)[:, None]
    nrm = np.stack([-u[:, 1], u[:, 0]], axis=1)  # left normals of the segments
    h = widths / 2.0
    mid = (pts[:-1] + pts[1:]) / 2.0
    # Joint end corners of every half: (left, right) at the start of segment k (vertex k) and at
    # its end (vertex k + 1); butt by default.
    start_l = pts[:-1] + nrm * h[:-1, None]
    start_r = pts[:-1] - nrm * h[:-1, None]
    end_l = pts[1:] + nrm * h[1:, None]
    end_r = pts[1:] - nrm * h[1:, None]
    tris: list[np.ndarray] = []
    tri_c: list[np.ndarray] = []
    if n > 2:
        u0, u1, n0, n1 = u[:-1], u[1:], nrm[:-1], nrm[1:]
        v, hv = pts[1:-1], h[1:-1]
        cross = u0[:, 0] * u1[:, 1] - u0[:, 1] * u1[:, 0]
        cos = np.einsum("ij,ij->i", u0, u1)
        side = np.where(cross > 0, -1.0, 1.0)  # the outer side: right (-1) of a left turn
        along = hv * np.abs(cross) / np.maximum(1.0 + cos, 1e-12)  # (w/2)·tan(θ/2)
        clean = (1.0 + cos > 1e-6) & (along <= np.minimum(length[:-1], length[1:]) / 2.0)
        outer0 = v + side[:, None] * n0 * hv[:, None]
        outer1 = v + side[:, None] * n1 * hv[:, None]
        inner0 = np.where(clean[:, None], v - u0 * along[:, None] - side[:, None] * n0 * hv[:, None],
                          v - side[:, None] * n0 * hv[:, None])
        inner1 = np.where(clean[:, None], v + u1 * along[:, None] - side[:, None] * n1 * hv[:, None],
                          v - side[:, None] * n1 * hv[:, None])
        left = side[:, None] > 0
        end_l[:-1] = np.where(left, outer0, inner0)
        end_r[:-1] = np.where(left, inner0, outer0)
        start_l[1:] = np.where(left, outer1, inner1)
        start_r[1:] = np.where(left, inner1, outer1)
        apex = np.where(clean[:, None], inner0, v)
        tris.append(np.stack([apex, outer0, outer1], axis=1))
        tri_c.append(colors[1:-1])
    if cap == "projecting":
        for corners in (start_l, start_r):
            corners[0] -= u[0] * h[0]
        for corners in (end_l, end_r):
            corners[-1] += u[-1] * h[-1]
    mid_l0, mid_r0 = mid + nrm * h[:-1, None], mid - nrm * h[:-1, None]  # start halves' widths
    mid_l1, mid_r1 = mid + nrm * h[1:, None], mid - nrm * h[1:, None]  # end halves' widths
    for a, b, c, e, col in ((start_l, mid_l0, mid_r0, start_r, colors[:-1]),
                            (mid_l1, end_l, end_r, mid_r1, colors[1:])):
        tris += [np.stack([a, b, c], axis=1), np.stack([a, c, e], axis=1)]
        tri_c += [col, col]
    if cap == "round":
        for k, direction in ((0, -u[0]), (n - 1, u[-1])):
            steps = _half_disc_steps(float(h[k]))
            phi = np.linspace(0.0, math.pi, steps + 1)
            normal = nrm[0] if k == 0 else nrm[-1]
            arc = pts[k] + h[k] * (np.cos(phi)[:, None] * normal + np.sin(phi)[:, None] * direction)
            center = np.broadcast_to(pts[k], (steps, 2))
            tris.append(np.stack([center, arc[:-1], arc[1:]], axis=1))
            tri_c.append(np.broadcast_to(colors[k], (steps, 4)))
    return np.concatenate(tris), np.concatenate(tri_c)
