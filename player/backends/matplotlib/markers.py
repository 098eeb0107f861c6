"""Matplotlib Paths for the 14 GSP marker shapes.

Every shape is a closed, filled outline centred on the origin that fits the box [-0.5, 0.5]²
and touches it (so a marker of area ``s`` pt² spans ``sqrt(s)`` pt, like Matplotlib's 'o').
Lines-only shapes (asterisk, cross, bars) are drawn as filled bars so that face colors show.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from matplotlib.path import Path

__all__ = ["marker_path", "MARKER_SHAPES"]

MARKER_SHAPES: tuple[str, ...] = (
    "disc", "asterisk", "triangle_down", "triangle_up", "triangle_left", "triangle_right",
    "square", "cross", "club", "diamond", "heart", "spade", "vbar", "hbar",
)


def _polygon(points: np.ndarray) -> Path:
    points = np.asarray(points, dtype=float)
    verts = np.concatenate([points, points[:1]])
    codes = np.full(len(verts), Path.LINETO, dtype=Path.code_type)
    codes[0], codes[-1] = Path.MOVETO, Path.CLOSEPOLY
    return Path(verts, codes)


def _circle(cx: float, cy: float, r: float, n: int = 48) -> np.ndarray:
    # Counter-clockwise, like every other outline here, so overlapping parts fill as a union.
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _star_of_bars(arms: int, first_angle_deg: float, half_width: float) -> np.ndarray:
    """Outline of ``arms`` bars of half-width ``half_width`` radiating from the centre to 0.5."""
    step = 2.0 * np.pi / arms
    inner = half_width / np.sin(step / 2.0)
    reach = np.sqrt(max(0.25 - half_width**2, 0.0))
    points = []
    for k in range(arms):
        a = np.deg2rad(first_angle_deg) + k * step
        direction, normal = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
        b = a - step / 2.0
        points.append(inner * np.array([np.cos(b), np.sin(b)]))
        points.append(reach * direction - half_width * normal)
        points.append(reach * direction + half_width * normal)
    return np.array(points)


def _heart(n: int = 96) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    x = 16.0 * np.sin(t) ** 3
    y = 13.0 * np.cos(t) - 5.0 * np.cos(2 * t) - 2.0 * np.cos(3 * t) - np.cos(4 * t)
    points = np.stack([x, y], axis=1)
    points -= (points.max(axis=0) + points.min(axis=0)) / 2.0
    points /= 2.0 * np.abs(points).max()
    return points[::-1]  # counter-clockwise


def _radial_union(center: tuple[float, float], parts: list[np.ndarray], rays: int = 360) -> np.ndarray:
    """One outline of the union of polygons that are each star-shaped around ``center``.

    Along each ray from ``center`` the union reaches as far as its farthest part, so the
    outline has no inner strokes where parts overlap (a compound path would show them).
    """
    c = np.asarray(center, dtype=float)
    angles = np.linspace(0.0, 2.0 * np.pi, rays, endpoint=False)
    d = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (K, 2)
    reach = np.zeros(rays)
    for poly in parts:
        p = poly - c
        q = np.roll(p, -1, axis=0)
        e = q - p  # (E, 2)
        denom = d[:, None, 0] * e[None, :, 1] - d[:, None, 1] * e[None, :, 0]  # (K, E)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (p[None, :, 0] * e[None, :, 1] - p[None, :, 1] * e[None, :, 0]) / denom
            u = (p[None, :, 0] * d[:, None, 1] - p[None, :, 1] * d[:, None, 0]) / denom
        hit = (np.abs(denom) > 1e-12) & (u >= 0.0) & (u <= 1.0) & (t > 0.0)
        reach = np.maximum(reach, np.where(hit, t, 0.0).max(axis=1))
    return c + d * reach[:, None]


def _fit(path: Path) -> Path:
    """Scale a path so that its largest coordinate is exactly 0.5 (as Matplotlib would)."""
    return Path(path.vertices * (0.5 / np.abs(path.vertices).max()), path.codes)


@cache
def marker_path(shape: str) -> Path:
    """The Path of a MarkerShape value (``"disc"``, ``"club"``...)."""
    if shape == "disc":
        return _polygon(_circle(0.0, 0.0, 0.5, 64))
    if shape == "square":
        return _polygon(np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]))
    if shape == "diamond":
        return _polygon(np.array([[0.0, -0.5], [0.5, 0.0], [0.0, 0.5], [-0.5, 0.0]]))
    if shape.startswith("triangle_"):
        up = np.array([[0.0, 0.5], [-0.5, -0.5], [0.5, -0.5]])
        turns = {"triangle_up": 0, "triangle_left": 1, "triangle_down": 2, "triangle_right": 3}[shape]
        rot = np.array([[0.0, -1.0], [1.0, 0.0]])
        for _ in range(turns):
            up = up @ rot.T
        return _polygon(up)
    if shape == "asterisk":
        return _polygon(_star_of_bars(6, 90.0, 0.08))
    if shape == "cross":
        return _polygon(_star_of_bars(4, 45.0, 0.12))
    if shape == "vbar":
        return _polygon(np.array([[-0.1, -0.5], [0.1, -0.5], [0.1, 0.5], [-0.1, 0.5]]))
    if shape == "hbar":
        return _polygon(np.array([[-0.5, -0.1], [0.5, -0.1], [0.5, 0.1], [-0.5, 0.1]]))
    if shape == "heart":
        return _polygon(_heart())
    if shape == "club":
        # Three leaves that all contain the centre (radius > the centres' circumradius) + a stem.
        stem = np.array([[-0.16, -0.5], [0.16, -0.5], [0.05, 0.0], [-0.05, 0.0]])
        leaves = [_circle(0.0, 0.24, 0.27), _circle(-0.25, -0.1, 0.27), _circle(0.25, -0.1, 0.27)]
        return _fit(_polygon(_radial_union((0.0, -0.02), [*leaves, stem])))
    if shape == "spade":
        body = _heart()[::-1] * np.array([1.0, -1.0]) * 0.9 + np.array([0.0, 0.08])  # upside down
        stem = np.array([[-0.16, -0.5], [0.16, -0.5], [0.05, 0.1], [-0.05, 0.1]])
        return _fit(_polygon(_radial_union((0.0, 0.08), [body, stem])))
    raise ValueError(f"unknown marker shape {shape!r}, expected one of {', '.join(MARKER_SHAPES)}")
