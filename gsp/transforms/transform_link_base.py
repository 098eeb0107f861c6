"""TransformLinkBase: one step of a TransformChain, and the registry links are rebuilt through."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, TypeVar

from gsp.types.buffer import Buffer

__all__ = ["TransformLinkBase", "register_link", "registered_links"]

_registry: dict[str, type[TransformLinkBase]] = {}
L = TypeVar("L", bound="type[TransformLinkBase]")


def register_link(cls: L) -> L:
    """Class decorator: make ``cls`` rebuildable by :meth:`TransformLinkBase.deserialize` under ``cls._link_name_``."""
    name = cls.__dict__.get("_link_name_") or cls.__name__
    cls._link_name_ = name
    existing = _registry.get(name)
    if existing is not None and existing is not cls:
        raise ValueError(f"register_link: link name {name!r} is already used by {existing.__qualname__}")
    _registry[name] = cls
    return cls


def registered_links() -> dict[str, type[TransformLinkBase]]:
    """Link name -> class, the only classes deserialize() will build."""
    return dict(_registry)


class TransformLinkBase(ABC):
    """One step of a chain: ``apply(previous result or None) -> Buffer``.

    A link serializes to a plain dict ``{"link_type": name, ...}`` whose values are plain
    Python values or bytes (never pickled objects). Two links are equal when their serialized
    forms are equal, so ``TransformChain.remove`` works on a rebuilt (replayed) link too.
    """

    _link_name_: ClassVar[str]

    @abstractmethod
    def apply(self, buffer: Buffer | None) -> Buffer:
        """Produce this step's Buffer from the previous step's (None for the first link)."""

    @abstractmethod
    def _serialize_fields(self) -> dict[str, Any]:
        """The link's own fields (plain values and bytes)."""

    @classmethod
    @abstractmethod
    def _from_fields(cls, fields: dict[str, Any]) -> TransformLinkBase:
        """Rebuild from :meth:`_serialize_fields` output; raise ValueError on bad fields."""

    def serialize(self) -> dict[str, Any]:
        """``{"link_type": <registered name>, **fields}``."""
        return {"link_type": type(self)._link_name_, **self._serialize_fields()}

    @staticmethod
    def deserialize(data: dict[str, Any]) -> TransformLinkBase:
        """Rebuild a link from :meth:`serialize` output through the registry (never imports by name)."""
        if not isinstance(data, dict) or not isinstance(data.get("link_type"), str):
            raise ValueError(f"TransformLinkBase.deserialize: expected a dict with a 'link_type' string, got {data!r:.200}")
        cls = _registry.get(data["link_type"])
        if cls is None:
            raise ValueError(
                f"TransformLinkBase.deserialize: unknown link_type {data['link_type']!r}; "
                f"known: {sorted(_registry)}"
            )
        fields = {k: v for k, v in data.items() if k != "link_type"}
        return cls._from_fields(fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransformLinkBase):
            return NotImplemented
        return type(self) is type(other) and self.serialize() == other.serialize()

    __hash__ = None  # type: ignore[assignment]
