"""TransformChain: a buffer computed by running links one after the other."""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any

from gsp.capture import Captured, new_uuid
from gsp.transforms.transform_link_base import TransformLinkBase
from gsp.types.buffer import Buffer
from gsp.types.buffer_type import BufferType

__all__ = ["TransformChain", "RunOnce"]

#: While a :class:`RunOnce` is open: id(chain) -> (chain, its result) of every chain run since.
_run_once: ContextVar[dict[int, tuple[TransformChain, Buffer]] | None] = ContextVar("gsp_run_once", default=None)


class RunOnce:
    """``with RunOnce():`` every chain runs at most once inside: a later :meth:`TransformChain.run`
    of the same chain returns the first result (the same Buffer) without applying the links again.

    ``render`` holds one around its validation and the backend's drawing, so that a chain runs
    once per render as before, its result checked and drawn the same (a ``TransformLinkLoad``
    reads its file once). Per thread and per task (a context variable); nested ones start afresh.
    """

    __slots__ = ("_token",)

    def __enter__(self) -> RunOnce:
        self._token: Token[dict[int, tuple[TransformChain, Buffer]] | None] = _run_once.set({})
        return self

    def __exit__(self, *exc: object) -> None:
        _run_once.reset(self._token)


class TransformChain(Captured):
    """A lazily computed buffer: ``run()`` applies each link to the previous link's result.

    ``buffer_count`` (-1 = not yet known) and ``buffer_type`` (None = not yet known) declare
    what the chain produces; visuals check declared values when the chain is given to them,
    and :meth:`run` checks the real result against them.
    """

    _captured_methods_ = ("add", "remove")

    def __init__(self, buffer_count: int, buffer_type: BufferType | None) -> None:
        self._uuid = new_uuid()
        if isinstance(buffer_count, bool) or not isinstance(buffer_count, int) or buffer_count < -1:
            raise ValueError(f"TransformChain: buffer_count must be an int >= -1 (-1 = unknown), got {buffer_count!r}")
        if buffer_type is not None and not isinstance(buffer_type, BufferType):
            raise TypeError(f"TransformChain: buffer_type must be a BufferType or None, got {buffer_type!r}")
        self._buffer_count = buffer_count
        self._buffer_type = buffer_type
        self._links: list[TransformLinkBase] = []

    def __repr__(self) -> str:
        kind = None if self._buffer_type is None else self._buffer_type.name
        return f"TransformChain(count={self._buffer_count}, type={kind}, links={len(self._links)})"

    def add(self, link: TransformLinkBase) -> None:
        """Append ``link`` to the chain."""
        if not isinstance(link, TransformLinkBase):
            raise TypeError(f"TransformChain.add: link must be a TransformLinkBase, got {type(link).__name__}")
        self._links.append(link)

    def remove(self, link: TransformLinkBase) -> None:
        """Remove the first link equal to ``link`` (same type and serialized form)."""
        for i, existing in enumerate(self._links):
            if existing is link or existing == link:
                del self._links[i]
                return
        raise ValueError(f"TransformChain.remove: {type(link).__name__} is not in the chain")

    def get_links(self) -> list[TransformLinkBase]:
        """The links, in order (a copy of the list)."""
        return list(self._links)

    def is_fully_defined(self) -> bool:
        """True when both the count and the type of the result are declared."""
        return self._buffer_count >= 0 and self._buffer_type is not None

    def get_buffer_count(self) -> int:
        """Declared item count of the result (-1 = unknown)."""
        return self._buffer_count

    def get_buffer_type(self) -> BufferType | None:
        """Declared type of the result (None = unknown)."""
        return self._buffer_type

    def run(self) -> Buffer:
        """Apply every link in order and return the final Buffer, checked against the declaration.

        Inside a :class:`RunOnce` (``render``), a chain already run returns the same result."""
        kept = _run_once.get()
        if kept is not None:
            hit = kept.get(id(self))
            if hit is not None:
                return hit[1]
        if not self._links:
            raise ValueError("TransformChain.run: the chain has no links")
        result: Buffer | None = None
        for link in self._links:
            result = link.apply(result)
            if not isinstance(result, Buffer):
                raise TypeError(f"TransformChain.run: {type(link).__name__}.apply returned {type(result).__name__}, not a Buffer")
        assert result is not None
        if self._buffer_type is not None and result.get_type() != self._buffer_type:
            raise ValueError(
                f"TransformChain.run: result has type {result.get_type().name}, declared {self._buffer_type.name}"
            )
        if self._buffer_count >= 0 and result.get_count() != self._buffer_count:
            raise ValueError(
                f"TransformChain.run: result has {result.get_count()} items, declared {self._buffer_count}"
            )
        if kept is not None:
            kept[id(self)] = (self, result)  # the chain is kept too: its id stays its own meanwhile
        return result

    def serialize(self) -> dict[str, Any]:
        """A plain dict: declared count and type, and each link's serialized form."""
        return {
            "buffer_count": self._buffer_count,
            "buffer_type": None if self._buffer_type is None else self._buffer_type.value,
            "links": [link.serialize() for link in self._links],
        }

    @staticmethod
    def deserialize(data: dict[str, Any]) -> TransformChain:
        """Rebuild a chain from :meth:`serialize` output (links through the link registry)."""
        if not isinstance(data, dict) or not isinstance(data.get("links"), list):
            raise ValueError("TransformChain.deserialize: expected a dict with a 'links' list")
        raw_type = data.get("buffer_type")
        try:
            buffer_type = None if raw_type is None else BufferType(raw_type)
        except ValueError:
            raise ValueError(f"TransformChain.deserialize: bad buffer_type {raw_type!r}") from None
        chain = TransformChain(data.get("buffer_count", -1), buffer_type)
        for link in data["links"]:
            chain.add(TransformLinkBase.deserialize(link))
        return chain

    def _snapshot_(self) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
        calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
            ("__init__", (self._buffer_count, self._buffer_type), {})
        ]
        calls.extend(("add", (link,), {}) for link in self._links)
        return calls
