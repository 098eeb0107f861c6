"""What a publisher, relay or node keeps of the stream so that it can serve or follow snapshots.

A :class:`StreamState` is fed every update in sequence order and can produce a keyframe payload
that rebuilds it. The transport treats payloads as opaque bytes; the state decides what they
mean. :class:`OpaqueState` works on any payload (deltas append, keyframes replace) and is what
the transport's own tests use; ``transports.scene_state.SceneStreamState`` understands the
chunks of the .gsplog format.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Protocol, runtime_checkable

from transports.protocol import PayloadKind

__all__ = ["StreamState", "OpaqueState", "NullState"]


@runtime_checkable
class StreamState(Protocol):
    """The state behind a snapshot service and a node."""

    def reset(self, keyframe: bytes) -> None:
        """Replace the whole state by the one a keyframe payload describes."""

    def apply(self, kind: PayloadKind, payload: bytes) -> None:
        """Apply one update (a DELTA on top, a KEYFRAME replaces)."""

    def snapshot(self) -> bytes:
        """A keyframe payload that rebuilds the current state."""

    def state_hash(self) -> str:
        """A digest equal on two states that are equal."""


class OpaqueState:
    """State of an opaque byte stream: the concatenation of the payloads since the last keyframe.

    Thread-safe, so that a publisher's I/O thread may apply while another thread reads.
    """

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._lock = threading.Lock()

    def reset(self, keyframe: bytes) -> None:
        with self._lock:
            self._parts = [bytes(keyframe)] if keyframe else []

    def apply(self, kind: PayloadKind, payload: bytes) -> None:
        if kind == PayloadKind.KEYFRAME:
            self.reset(payload)
            return
        with self._lock:
            self._parts.append(bytes(payload))

    def snapshot(self) -> bytes:
        with self._lock:
            joined = b"".join(self._parts)
            self._parts = [joined] if joined else []
            return joined

    def state_hash(self) -> str:
        return hashlib.sha256(self.snapshot()).hexdigest()


class NullState:
    """Keeps nothing: snapshots are empty. For a publisher whose nodes need no history."""

    def reset(self, keyframe: bytes) -> None:
        pass

    def apply(self, kind: PayloadKind, payload: bytes) -> None:
        pass

    def snapshot(self) -> bytes:
        return b""

    def state_hash(self) -> str:
        return hashlib.sha256(b"").hexdigest()
