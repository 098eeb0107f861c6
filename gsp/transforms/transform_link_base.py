"""TransformLinkBase: one step of a TransformChain, and the registry links are rebuilt through."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import Any, ClassVar, TypeVar

from gsp.types.buffer import Buffer

__all__ = ["TransformLinkBase", "register_link", "registered_links"]

_registry: dict[str, type[TransformLinkBase]] = {}
L = TypeVar("L", bound="type[TransformLinkBase]")


def register_link(cls: L) -> L:
    """Class decorator: make ``cls`` rebuildable by :meth:`TransformLinkBase.deserialize` under ``cls._link_name_``."""
    _check_serializable(cls, "register_link")
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


def _overrides(cls: type, name: str) -> bool:
    """Whether ``cls`` defines ``name`` itself rather than inheriting TransformLinkBase's."""
    own = inspect.getattr_static(cls, name)
    base = TransformLinkBase.__dict__[name]
    return getattr(own, "__func__", own) is not getattr(base, "__func__", base)


def _check_serializable(cls: type, where: str) -> None:
    """Refuse a link class implementing neither serialization pair (it could not be recorded)."""
    if not ((_overrides(cls, "_serialize_fields") and _overrides(cls, "_from_fields"))
            or (_overrides(cls, "serialize") and _overrides(cls, "deserialize"))):
        raise TypeError(
            f"{where}: {cls.__qualname__} must implement serialize() and a static deserialize(data) "
            "(as GSP 0.1 links do), or _serialize_fields() and a classmethod _from_fields(fields)"
        )


class TransformLinkBase(ABC):
    """One step of a chain: ``apply(previous result or None) -> Buffer``.

    A link serializes to a plain dict ``{"link_type": name, ...}`` whose values are plain
    Python values or bytes (never pickled objects). Two links are equal when their serialized
    forms are equal, so ``TransformChain.remove`` works on a rebuilt (replayed) link too.

    A subclass implements :meth:`apply` and one of two serialization pairs: GSP 0.1's
    ``serialize()`` (the whole dict, ``link_type`` included) with a static ``deserialize(data)``,
    or ``_serialize_fields()`` (the fields alone) with a classmethod ``_from_fields(fields)``.
    Either way :meth:`TransformLinkBase.deserialize` rebuilds it through the registry
    (:func:`register_link`), under the link's registered name.
    """

    _link_name_: ClassVar[str]

    def __new__(cls, *args: Any, **kwargs: Any) -> TransformLinkBase:  # noqa: ARG004 - __init__ takes them
        _check_serializable(cls, cls.__qualname__)
        return super().__new__(cls)

    @abstractmethod
    def apply(self, buffer: Buffer | None) -> Buffer:
        """Produce this step's Buffer from the previous step's (None for the first link)."""

    def _serialize_fields(self) -> dict[str, Any]:
        """The link's own fields (plain values and bytes); by default ``serialize()`` without its link_type."""
        data = self.serialize()
        if not isinstance(data, dict):
            raise TypeError(f"{type(self).__qualname__}.serialize: expected a dict, got {type(data).__name__}")
        return {k: v for k, v in data.items() if k != "link_type"}

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> TransformLinkBase:
        """Rebuild from :meth:`_serialize_fields` output; by default through the class's own
        static ``deserialize`` (GSP 0.1 links), given the whole dict. Raise ValueError on bad fields."""
        link = cls.deserialize({"link_type": cls._link_name_, **fields})
        if not isinstance(link, TransformLinkBase):
            raise TypeError(f"{cls.__qualname__}.deserialize: expected a link, got {type(link).__name__}")
        return link

    def serialize(self) -> dict[str, Any]:
        """``{"link_type": <registered name>, **fields}``."""
        return {"link_type": _link_name(type(self)), **self._serialize_fields()}

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


def _link_name(cls: type[TransformLinkBase]) -> str:
    """The registered name, or the class name for a link never registered."""
    return getattr(cls, "_link_name_", None) or cls.__name__
