"""GroupUtils: turn a Groups value into per-vertex group indices, with validation."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["GroupUtils"]


class GroupUtils:
    """Groups = int | list[int] | list[list[int]] (see :mod:`gsp.types.groups`)."""

    @staticmethod
    def get_group_count(vertex_count: int, groups: Any, owner: str = "GroupUtils") -> int:
        """Number of groups that ``groups`` defines over ``vertex_count`` vertices.

        The vertex count comes first, as in GSP 0.1 (``get_group_count(n, groups=g)``).
        """
        GroupUtils.check(groups, vertex_count, owner)
        if isinstance(groups, (int, np.integer)):
            return vertex_count // int(groups)
        return len(groups)

    @staticmethod
    def group_indices(groups: Any, vertex_count: int, owner: str = "GroupUtils", *, check: bool = True) -> np.ndarray:
        """Per-vertex group index (int32, shape (vertex_count,)); -1 for a vertex in no group.

        - ``int g``: consecutive groups of g vertices (vertex_count must be a multiple of g).
        - ``list[int]``: consecutive groups of the given sizes, summing to vertex_count.
        - ``list[list[int]]``: explicit vertex indices per group, in range, each vertex in at
          most one group; vertices listed nowhere get -1 (not drawn).

        ``check=False``: ``groups`` is known to fit (a renderer drawing after ``render``'s checks).
        """
        if check:
            GroupUtils.check(groups, vertex_count, owner)
        if isinstance(groups, (int, np.integer)):
            return (np.arange(vertex_count, dtype=np.int32) // int(groups)).astype(np.int32)
        if _is_explicit(groups):
            out = np.full(vertex_count, -1, dtype=np.int32)
            for g, members in enumerate(groups):
                out[np.asarray(members, dtype=np.int64)] = g
            return out
        return np.repeat(np.arange(len(groups), dtype=np.int32), np.asarray(groups, dtype=np.int64))

    # ---- GSP 0.1 names (vertex count first) -------------------------------------------------
    @staticmethod
    def sanity_check(vertex_count: int, groups: Any) -> None:
        """GSP 0.1's name for :meth:`check`: raise when ``groups`` does not fit ``vertex_count``."""
        GroupUtils.check(groups, vertex_count, "GroupUtils.sanity_check")

    @staticmethod
    def sanity_check_safe(vertex_count: int, groups: Any) -> bool:
        """True when ``groups`` fits ``vertex_count`` vertices (:meth:`sanity_check` without raising)."""
        try:
            GroupUtils.check(groups, vertex_count)
        except (TypeError, ValueError):
            return False
        return True

    @staticmethod
    def compute_indices_per_group(vertex_count: int, groups: Any) -> list[list[int]]:
        """The vertex indices of each group, as lists (GSP 0.1's form of :meth:`group_indices`)."""
        GroupUtils.check(groups, vertex_count, "GroupUtils.compute_indices_per_group")
        if _is_explicit(groups):
            return [[int(i) for i in members] for members in groups]
        sizes = [int(groups)] * (vertex_count // int(groups)) if isinstance(groups, (int, np.integer)) else groups
        starts = np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))])
        return [list(range(int(a), int(b))) for a, b in zip(starts[:-1], starts[1:])]

    @staticmethod
    def check(groups: Any, vertex_count: int, owner: str = "GroupUtils") -> None:
        """Raise TypeError/ValueError (naming ``owner``) when ``groups`` does not fit ``vertex_count`` vertices."""
        if isinstance(groups, bool):
            raise TypeError(f"{owner}: groups must be an int, a list of ints or a list of lists, got bool")
        if isinstance(groups, (int, np.integer)):
            if groups <= 0:
                raise ValueError(f"{owner}: groups (group size) must be > 0, got {groups}")
            if vertex_count % int(groups):
                raise ValueError(
                    f"{owner}: groups: {vertex_count} positions is not a multiple of the group size {groups}"
                )
            return
        if not isinstance(groups, (list, tuple)):
            raise TypeError(f"{owner}: groups must be an int, a list of ints or a list of lists, got {type(groups).__name__}")
        if _is_explicit(groups):
            seen = np.zeros(vertex_count, dtype=bool)
            for g, members in enumerate(groups):
                if not isinstance(members, (list, tuple)) or not all(
                    isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in members
                ):
                    raise TypeError(f"{owner}: groups[{g}] must be a list of vertex indices (ints)")
                idx = np.asarray(members, dtype=np.int64)
                if idx.size and (idx.min() < 0 or idx.max() >= vertex_count):
                    bad = int(idx[(idx < 0) | (idx >= vertex_count)][0])
                    raise ValueError(
                        f"{owner}: groups[{g}] holds vertex index {bad}, out of range 0..{vertex_count - 1}"
                    )
                if seen[idx].any() or len(np.unique(idx)) != idx.size:
                    raise ValueError(f"{owner}: groups[{g}] repeats a vertex already in a group")
                seen[idx] = True
            return
        if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in groups):
            raise TypeError(f"{owner}: groups must be a list of ints (group sizes) or a list of lists")
        if any(s < 0 for s in groups):
            raise ValueError(f"{owner}: groups sizes must be >= 0, got {list(groups)!r:.80}")
        total = int(sum(int(s) for s in groups))
        if total != vertex_count:
            raise ValueError(f"{owner}: groups sizes sum to {total}, expected {vertex_count} (the number of positions)")


def _is_explicit(groups: Any) -> bool:
    return isinstance(groups, (list, tuple)) and len(groups) > 0 and isinstance(groups[0], (list, tuple))

