"""Turning the caller's arguments into values a command can keep, on the caller's thread.

Captured GSP objects become :class:`sessions.command.Ref`; bytes-like arguments and numpy arrays
are copied (the caller may mutate them as soon as the call returns); transform links are replaced
by a replica of their value of now (:func:`recorder.links.freeze`: a link may hold a Buffer the
caller goes on writing); enums and plain immutable values are kept as they are. Anything else is
replaced by ``None`` with a single warning per type, so that one odd argument never stops the
user's script nor the writer thread.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from gsp.capture import Captured
from gsp.transforms import TransformLinkBase
from recorder.links import freeze
from recorder.pool import CopyPool
from sessions.command import Ref

__all__ = ["ArgConverter", "PLAIN_TYPES"]

_log = logging.getLogger("gsplog.recorder")

# Immutable scalars kept as they are (the hot path: one set lookup per argument).
PLAIN_TYPES: frozenset[type] = frozenset({int, float, str, bool, type(None), bytes})


class ArgConverter:
    """Converts call arguments; ``on_unknown`` is called for a Captured object never seen before.

    ``refs`` maps every UUID already present in the log to its (cached) :class:`Ref`; an
    object whose UUID is missing is handed to ``on_unknown`` first, which records its snapshot
    (and so adds it to ``refs``) before the command that references it.
    """

    def __init__(
        self, refs: dict[str, Ref], on_unknown: Callable[[Captured], None], pool: CopyPool | None = None
    ) -> None:
        self.refs = refs
        self.pool = pool or CopyPool()
        self._on_unknown = on_unknown
        self._warned: set[type] = set()
        self.copied_bytes = 0  # running total of bytes copied (callers take differences)

    def convert_call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Convert positional and keyword arguments (adds what it copies to :attr:`copied_bytes`)."""
        plain = PLAIN_TYPES
        # Fast path: most calls pass only scalars.
        for a in args:
            if type(a) not in plain:
                break
        else:
            if not kwargs:
                return args, kwargs
            conv_args = args
            return conv_args, {k: self.convert(v) for k, v in kwargs.items()}
        conv = tuple([a if type(a) in plain else self.convert(a) for a in args])
        if kwargs:
            return conv, {k: self.convert(v) for k, v in kwargs.items()}
        return conv, kwargs

    def copy_payload(self, value: bytearray | np.ndarray) -> Any:
        """Copy the data argument of ``Buffer.set_data`` through the recycling pool."""
        self.copied_bytes += value.nbytes if isinstance(value, np.ndarray) else len(value)
        return self.pool.copy(value)

    def convert(self, value: Any) -> Any:
        """Convert one value (recursively for lists, tuples and dicts)."""
        kind = type(value)
        if kind in PLAIN_TYPES:
            return value
        if isinstance(value, Captured):
            uuid = value.get_uuid()
            ref = self.refs.get(uuid)
            if ref is None:
                self._on_unknown(value)
                ref = self.refs.get(uuid)
                if ref is None:  # snapshot failed: still reference it by id
                    ref = Ref(uuid)
            return ref
        if kind is bytearray:
            self.copied_bytes += len(value)
            return bytearray(value)
        if isinstance(value, np.ndarray):
            self.copied_bytes += value.nbytes
            return np.array(value, copy=True, order="C")
        if kind is memoryview:
            self.copied_bytes += value.nbytes
            return value.tobytes()
        if kind is list or kind is tuple:
            items = [self.convert(v) for v in value]
            return items if kind is list else tuple(items)
        if isinstance(value, enum.Enum):
            return value
        if isinstance(value, (bool, int, float, str, bytes)):  # subclasses of plain types
            return value
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, dict):
            return {k: self.convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.convert(v) for v in value]
        if _is_transform_link(value):
            replica, nbytes = freeze(value)
            self.copied_bytes += nbytes
            return replica
        if kind not in self._warned:
            self._warned.add(kind)
            _log.warning("gsplog recorder: cannot record a %s argument; it is recorded as None", kind.__name__)
        return None


def _is_transform_link(value: Any) -> bool:
    """Transform links travel by value (their ``serialize()`` dict, encoded by the codec)."""
    return isinstance(value, TransformLinkBase)
