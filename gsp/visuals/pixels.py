"""Pixels: single device pixels at 3-D positions, colored per group."""

from __future__ import annotations

from typing import Any

from gsp.types._checks import check_count, check_transbuf
from gsp.types.buffer_type import BufferType
from gsp.types.groups import Groups
from gsp.types.transbuf import TransBuf
from gsp.types.visual_base import VisualBase
from gsp.utils.group_utils import GroupUtils

__all__ = ["Pixels"]


class Pixels(VisualBase):
    """``Pixels(positions, colors, groups)``: positions vec3; colors rgba8, 1 or one per group."""

    def __init__(self, positions: TransBuf, colors: TransBuf, groups: Groups) -> None:
        super().__init__()
        self._init_attributes_({"positions": positions, "colors": colors, "groups": groups})

    def _check_(self, owner: str, attrs: dict[str, Any], only: str | None, resolve: bool) -> None:
        n = check_transbuf(owner, "positions", attrs["positions"], (BufferType.vec3,), resolve_chain=resolve)
        groups = attrs["groups"]
        if isinstance(groups, tuple):
            groups = attrs["groups"] = list(groups)
        group_count: int | None = None
        if n is not None and only in (None, "groups", "colors"):
            group_count = GroupUtils.get_group_count(n, groups, owner)
        if only in (None, "colors"):
            count = check_transbuf(owner, "colors", attrs["colors"], (BufferType.rgba8,), resolve_chain=resolve)
            check_count(owner, "colors", count, group_count, "group", one_ok=True)

    def get_positions(self) -> TransBuf:
        """Positions (vec3)."""
        return self._attrs["positions"]

    def set_positions(self, positions: TransBuf) -> None:
        """Set the positions (vec3)."""
        self._set_attribute_("positions", positions)

    def get_colors(self) -> TransBuf:
        """Colors (rgba8), one per group."""
        return self._attrs["colors"]

    def set_colors(self, colors: TransBuf) -> None:
        """Set the colors (rgba8, 1 or one per group)."""
        self._set_attribute_("colors", colors)

    def get_groups(self) -> Groups:
        """The grouping of the positions."""
        return self._attrs["groups"]

    def set_groups(self, groups: Groups) -> None:
        """Set the grouping (checked against the number of positions)."""
        self._set_attribute_("groups", groups)

