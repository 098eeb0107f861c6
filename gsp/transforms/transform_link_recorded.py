"""RecordedLink: a transform link kept as the value a log recorded, never rebuilt nor run.

The session-log tools that copy commands (``gsp trim``, ``gsp cat``) and those that only show or
count them (``gsp dump``, ``gsp info``, ``gsp verify``, ``gsp repair``) decode every link as one
(``sessions.codec.links_as_recorded``): a link of the user's own type needs no class there, and
is written back with the very fields it was recorded with. Only a replay, which runs chains,
rebuilds links through the registry (``gsp-replay --links``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gsp.transforms.transform_link_base import TransformLinkBase
from gsp.types.buffer import Buffer

__all__ = ["RecordedLink"]


class RecordedLink(TransformLinkBase):
    """A link's recorded form ``{"link_type": name, **fields}``, held as it is.

    It serializes to that same dict, so a chain holding it snapshots and encodes to what was
    recorded; two compare equal when their recorded forms are equal (arrays by dtype, shape and
    items). It is never registered, and :meth:`apply` refuses: its code is not here.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("link_type"), str):
            raise ValueError(f"RecordedLink: expected a dict with a 'link_type' string, got {data!r:.200}")
        self._data = dict(data)

    @property
    def link_type(self) -> str:
        """The recorded link type name (the class's ``@register_link`` name)."""
        return self._data["link_type"]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"RecordedLink({self.link_type!r})"

    def apply(self, buffer: Buffer | None) -> Buffer:
        """Refuse: a recorded value holds no code to run."""
        raise ValueError(f"transform link {self.link_type!r} is held as its recorded value, which cannot run "
                         "(replay the log with the module that registers its class)")

    def serialize(self) -> dict[str, Any]:
        """The recorded form, as decoded."""
        return dict(self._data)

    def _serialize_fields(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k != "link_type"}

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> TransformLinkBase:
        raise ValueError("RecordedLink is not rebuilt from fields: construct it from the recorded form")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransformLinkBase):
            return NotImplemented
        return type(other) is RecordedLink and _same(self._data, other._data)

    __hash__ = None  # type: ignore[assignment]


def _same(a: Any, b: Any) -> bool:
    """Whether two decoded values are the same value (``==`` on arrays would compare items one by one)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and bool(np.array_equal(a, b)))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)):
        return (isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b, strict=True)))
    return type(a) is type(b) and bool(a == b)
