"""Groups: how the vertices of a Pixels visual are split into colored groups."""

from __future__ import annotations

__all__ = ["Groups"]

#: An int is the size of every group; a list of ints gives each group's size; a list of lists
#: gives explicit vertex index lists. See :class:`gsp.utils.GroupUtils`.
Groups = int | list[int] | list[list[int]]
