"""Near-plane clipping of lines and triangles that come nearer than a perspective camera's near plane.

A vertex behind the camera (clip-space ``w <= 0``) has no place on the screen: the projection
makes it NaN (:func:`player.backends.prepare.project_points`); one just in front of the eye
projects thousands of viewport widths away (at 10⁻⁸ from the eye plane Datoviz dropped the
whole path, at 10⁻¹⁵ Agg drew a stray stroke). A segment, a path edge or a mesh triangle with
such a vertex still has a visible part, as OpenGL draws it: a ground plane under a camera
standing on it, a line running past the camera. Under a perspective projection that part is
kept by clipping the primitive, in clip space, against the near plane (``z_clip + w_clip = 0``,
NDC z = -1), as OpenGL clips; the cut vertices project to finite NDC within reach. Primitives
wholly beyond the near plane are left exactly as they were, as are affine (orthographic)
projections, where only w <= 0 counts, and positions given as NaN. Points, markers, texts and
images are not clipped (one nearer than the near plane is drawn, one behind the camera not).

Both backends draw from these results (the shared preparation), so they clip alike.
"""

from __future__ import annotations

import numpy as np


def clip_coords(positions: np.ndarray, mvp: np.ndarray) -> np.ndarray:
    """(N, 3) positions through a (4, 4) MVP -> (N, 4) float64 clip coordinates (before the divide)."""
    p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    m = np.asarray(mvp, dtype=np.float64)
    return p @ m[:, :3].T + m[:, 3]


def clipped_away(positions: np.ndarray, mvp: np.ndarray) -> np.ndarray:
    """(N,) bool: True where a line or triangle vertex is to be clipped away: nearer than the
    near plane of a perspective projection (clip-space ``z + w < 0``) or behind the camera
    (``w <= 0``: the only rule of an affine projection). NaN positions are not."""
    m = np.asarray(mvp, dtype=np.float64)
    p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    if not m[3, :3].any():
        if m[3, 3] > 0:
            return np.zeros(p.shape[0], dtype=bool)  # affine: w > 0 everywhere
        return np.asarray(~np.isnan(p).any(axis=1))  # w <= 0 everywhere
    w = p @ m[3, :3] + m[3, 3]
    near = p @ (m[2, :3] + m[3, :3]) + (m[2, 3] + m[3, 3])
    return (w <= 0) | (near < 0)


def near_crossing(inside: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """(K, 4) clip coordinates of the kept ends and of the ends cut away -> (K, 3) float32 NDC of
    the point where each line between them crosses the near plane; NaN where the kept end is not
    in front of the near plane itself (nothing of that line is visible) or the crossing is not in
    front of the camera (a projection without a usable near plane)."""
    d_in = inside[:, 2] + inside[:, 3]
    d_out = outside[:, 2] + outside[:, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = d_in / (d_in - d_out)
        point = inside + t[:, None] * (outside - inside)
        ndc = point[:, :3] / point[:, 3:4]
    bad = ~((d_in > 0) & (d_out < d_in) & (point[:, 3] > 0))
    ndc[bad] = np.nan
    return ndc.astype(np.float32)


def clip_segment_ends(
    positions: np.ndarray, mvp: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Segments (start, end pairs of ``positions``; ``starts``, ``ends`` their NDC): an end
    nearer than the near plane (:func:`clipped_away`) moves to where its segment crosses it; a
    segment with both ends there is left out (NaN). Returns (starts, ends): the arrays given when
    nothing moves (never written to), else copies."""
    away = clipped_away(positions, mvp)
    if not away.any():
        return starts, ends
    a_start, a_end = away[0::2], away[1::2]
    starts, ends = starts.copy(), ends.copy()
    both = a_start & a_end
    starts[both] = np.nan
    ends[both] = np.nan
    clip = clip_coords(positions, mvp)
    c_start, c_end = clip[0::2], clip[1::2]
    fix = np.nonzero(a_end & ~a_start)[0]
    ends[fix] = near_crossing(c_start[fix], c_end[fix])
    fix = np.nonzero(a_start & ~a_end)[0]
    starts[fix] = near_crossing(c_end[fix], c_start[fix])
    return starts, ends


def clip_path_vertices(
    positions: np.ndarray, mvp: np.ndarray, ndc: np.ndarray, starts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Paths: a vertex nearer than the near plane (:func:`clipped_away`) becomes NaN, which cuts
    its path there, and gets, on each side where its path goes on to a kept vertex, a new vertex
    where that edge crosses the near plane. Returns (new ndc, new starts, source) with
    ``source[k]`` the vertex whose colour and width new vertex k takes (its own, or the one cut
    away for a crossing), or None when no vertex is cut away."""
    behind = clipped_away(positions, mvp)
    if not behind.any():
        return None
    n = ndc.shape[0]
    sizes = np.diff(starts)
    path_of = np.repeat(np.arange(sizes.shape[0]), sizes)
    same_prev = np.zeros(n, dtype=bool)
    same_prev[1:] = path_of[1:] == path_of[:-1]
    same_next = np.zeros(n, dtype=bool)
    same_next[:-1] = same_prev[1:]
    front = ~behind & ~np.isnan(ndc).any(axis=1)
    pre = behind & same_prev & np.roll(front, 1)
    post = behind & same_next & np.roll(front, -1)
    counts = 1 + pre.astype(np.int64) + post.astype(np.int64)
    cumulative = np.concatenate([[0], np.cumsum(counts)])
    out_start = cumulative[:-1]
    source = np.repeat(np.arange(n), counts)
    new_ndc = np.empty((int(cumulative[-1]), 3), dtype=np.float32)
    own = out_start + pre
    new_ndc[own] = ndc
    new_ndc[own[behind]] = np.nan
    clip = clip_coords(positions, mvp)
    i = np.nonzero(pre)[0]
    new_ndc[out_start[i]] = near_crossing(clip[i - 1], clip[i])
    i = np.nonzero(post)[0]
    new_ndc[own[i] + 1] = near_crossing(clip[i + 1], clip[i])
    return new_ndc, cumulative[np.asarray(starts, dtype=np.int64)], source


def clip_triangles(
    positions: np.ndarray, mvp: np.ndarray, faces: np.ndarray, tri_ndc: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Triangles (``faces`` (F, 3) indices, ``tri_ndc`` (F, 3, 3) their NDC) with a vertex nearer
    than the near plane (:func:`clipped_away`): each is replaced by its part beyond the near plane
    (one triangle, or two for a quad), same winding. Returns (new tri_ndc, source face of each),
    or None when no vertex is cut away. A triangle with no part beyond the near plane is left out."""
    behind = clipped_away(positions, mvp)
    if not behind.any():
        return None
    touched = behind[faces].any(axis=1)
    if not touched.any():
        return None
    clip = clip_coords(positions, mvp)[faces[touched]]  # (T, 3, 4)
    inside = ~behind[faces[touched]]
    inside_count = inside.sum(axis=1)
    touched_ids = np.nonzero(touched)[0]
    parts: list[np.ndarray] = []
    sources: list[np.ndarray] = []
    roll_of = np.arange(3)[None, :]
    for count in (1, 2):
        rows = np.nonzero(inside_count == count)[0]
        if rows.shape[0] == 0:
            continue
        # Rotate each triangle (keeping its winding) so that the odd vertex out comes first:
        # the one inside when one is, the one outside when two are.
        odd = np.argmax(inside[rows] if count == 1 else ~inside[rows], axis=1)
        order = (odd[:, None] + roll_of) % 3
        a, b, c = (clip[rows, order[:, k]] for k in range(3))
        if count == 1:  # a inside: keep (a, a→b, a→c)
            ab, ac = near_crossing(a, b), near_crossing(a, c)
            parts.append(np.stack([_ndc(a), ab, ac], axis=1))
            sources.append(touched_ids[rows])
        else:  # a outside, b and c inside: the quad (b, c, c→a, b→a) as two triangles
            ca, ba = near_crossing(c, a), near_crossing(b, a)
            bn, cn = _ndc(b), _ndc(c)
            parts.append(np.stack([bn, cn, ca], axis=1))
            parts.append(np.stack([bn, ca, ba], axis=1))
            sources.extend([touched_ids[rows], touched_ids[rows]])
    kept = np.nonzero(~touched)[0]
    new_tri = (
        np.concatenate([tri_ndc[kept].astype(np.float32), *parts])
        if parts
        else tri_ndc[kept].astype(np.float32)
    )
    source = np.concatenate([kept, *sources]) if sources else kept
    order = np.argsort(source, kind="stable")  # the geometry's order (drawn so when unsorted)
    return new_tri[order], source[order]


def _ndc(clip: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (clip[:, :3] / clip[:, 3:4]).astype(np.float32)
