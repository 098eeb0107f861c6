"""Transform links as the log holds them: taken on the caller's thread.

A link travels by value (docs/protocol.md §3, ext 6: what its ``serialize()`` gives). A link
may hold a Buffer that the script goes on writing (``TransformLinkImmediate`` yields its buffer
itself, so later writes show through), so its value is taken when the call is recorded, on the
caller's thread: :func:`freeze` rebuilds the link from its serialized form, a private replica
that nobody writes, which the writer thread encodes later and which is what a replay rebuilds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gsp import capture
from gsp.transforms import TransformLinkBase

__all__ = ["freeze"]


def freeze(link: TransformLinkBase) -> tuple[TransformLinkBase, int]:
    """A replica of ``link`` as it is now, rebuilt from ``link.serialize()`` through the link
    registry (what a replay rebuilds), and the bytes its serialized form holds.

    ``TypeError`` naming the link when it cannot be rebuilt (a link class never registered with
    ``register_link``): a replay could not rebuild it either.
    """
    try:
        fields = link.serialize()
        with capture.paused():  # the replica's own objects (a Buffer) are not calls of the script
            replica = TransformLinkBase.deserialize(fields)
    except Exception as error:
        raise TypeError(f"cannot record a {type(link).__name__} transform link: "
                        f"{type(error).__name__}: {error}") from error
    return replica, _payload_bytes(fields)


def _payload_bytes(fields: dict[str, Any]) -> int:
    """Bytes of the binary values of a link's serialized form (the queue counts them)."""
    size = 0
    for value in fields.values():
        if type(value) is bytes or type(value) is bytearray:
            size += len(value)
        elif type(value) is np.ndarray:
            size += value.nbytes
    return size
