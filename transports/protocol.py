"""Wire format of the live stream: frames, headers, limits and validation.

Every message is a ZeroMQ multipart message. Frames are checked (count, sizes, types) before
any of their content is used; a bad message raises :class:`ProtocolError` with the reason, and
callers log it and carry on. Written down for humans in docs/live.md.

PUB side (publisher -> nodes), three kinds, told apart by the first frame::

    [b"U", header, payload]   update: one chunk of the .gsplog format
    [b"H", header]            heartbeat: header.seq is the last published sequence
    [b"E", header]            session end: header.seq is the last published sequence

Snapshot service (node DEALER <-> publisher ROUTER)::

    request  [b"?", nonce]                  nonce: 8 random bytes chosen by the node
    reply    [b"S", nonce, header, payload, session_header]
                                            the state (a keyframe chunk) as of header.seq, and
                                            the .gsplog file header of the session (may be empty)
    refusal  [b"X", nonce, reason]          reason: short UTF-8 text

``header`` is 26 bytes, big-endian: version (u8), session id (16 bytes), seq (u64), payload
kind (u8). Sequence numbers start at 1 for the first update of a session; a snapshot taken
before any update has seq 0.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "WIRE_VERSION",
    "DEFAULT_MAX_PAYLOAD",
    "CONTROL_MAX_SIZE",
    "SESSION_ID_SIZE",
    "NONCE_SIZE",
    "PayloadKind",
    "Header",
    "ProtocolError",
    "MessageTooLarge",
    "new_session_id",
    "session_id_hex",
    "encode_update",
    "encode_heartbeat",
    "encode_end",
    "decode_stream_message",
    "StreamMessage",
    "encode_snapshot_request",
    "decode_snapshot_request",
    "encode_snapshot_reply",
    "encode_refusal",
    "decode_snapshot_reply",
    "SnapshotReply",
]

WIRE_VERSION = 1
DEFAULT_MAX_PAYLOAD = 256 * 1024 * 1024  # one chunk on the wire; ZMQ_MAXMSGSIZE on receivers
CONTROL_MAX_SIZE = 1024  # snapshot requests, refusals and headers are all far smaller
SESSION_ID_SIZE = 16
NONCE_SIZE = 8
MAX_REASON_SIZE = 200
MAX_SESSION_HEADER = 1 << 20  # a .gsplog file header (metadata) travels with each snapshot

_HEADER = struct.Struct(">B16sQB")
HEADER_SIZE = _HEADER.size  # 26

UPDATE = b"U"
HEARTBEAT = b"H"
END = b"E"
REQUEST = b"?"
SNAPSHOT = b"S"
REFUSAL = b"X"


class PayloadKind(IntEnum):
    """What a payload does to the receiver's state."""

    DELTA = 0  # apply on top of the current state
    KEYFRAME = 1  # replaces the whole state (the stream's periodic keyframes and snapshots)
    NONE = 2  # heartbeats and session ends carry no payload


class ProtocolError(ValueError):
    """A message that does not follow the wire format; ``str()`` says what is wrong."""


class MessageTooLarge(ValueError):
    """A payload larger than the configured limit was given to a publisher."""


@dataclass(frozen=True, slots=True)
class Header:
    """The fixed part of every stream message and snapshot reply."""

    session_id: bytes
    seq: int
    kind: PayloadKind

    def pack(self) -> bytes:
        return _HEADER.pack(WIRE_VERSION, self.session_id, self.seq, int(self.kind))

    @classmethod
    def unpack(cls, frame: bytes) -> Header:
        if len(frame) != HEADER_SIZE:
            raise ProtocolError(f"header is {len(frame)} bytes, expected {HEADER_SIZE}")
        version, session_id, seq, kind = _HEADER.unpack(frame)
        if version != WIRE_VERSION:
            raise ProtocolError(f"wire version {version} is not supported (expected {WIRE_VERSION})")
        check_session_id(session_id)
        try:
            payload_kind = PayloadKind(kind)
        except ValueError:
            raise ProtocolError(f"unknown payload kind {kind}") from None
        return cls(session_id, seq, payload_kind)


def new_session_id() -> bytes:
    """A fresh random 16-byte session id (a restarted publisher gets a new one)."""
    return os.urandom(SESSION_ID_SIZE)


def check_session_id(session_id: bytes) -> None:
    """Raise :class:`ProtocolError` unless ``session_id`` is 16 bytes, not all zero."""
    if not isinstance(session_id, bytes) or len(session_id) != SESSION_ID_SIZE:
        raise ProtocolError(f"session id must be {SESSION_ID_SIZE} bytes")
    if session_id == bytes(SESSION_ID_SIZE):
        raise ProtocolError("session id is all zero")


def session_id_hex(session_id: bytes) -> str:
    """Session id as printed in logs."""
    return session_id.hex()


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """A validated message from the PUB side."""

    type: bytes  # UPDATE, HEARTBEAT or END
    header: Header
    payload: bytes = b""


def _check_payload(payload: bytes, max_payload: int) -> None:
    if len(payload) > max_payload:
        raise MessageTooLarge(f"payload of {len(payload)} bytes exceeds the limit of {max_payload} bytes")


def encode_update(header: Header, payload: bytes, max_payload: int = DEFAULT_MAX_PAYLOAD) -> list[bytes]:
    """Frames of an update carrying one chunk."""
    _check_payload(payload, max_payload)
    return [UPDATE, header.pack(), payload]


def encode_heartbeat(session_id: bytes, last_seq: int) -> list[bytes]:
    """Frames of a heartbeat: the publisher is alive and has published up to ``last_seq``."""
    return [HEARTBEAT, Header(session_id, last_seq, PayloadKind.NONE).pack()]


def encode_end(session_id: bytes, last_seq: int) -> list[bytes]:
    """Frames announcing that the session ended after ``last_seq``."""
    return [END, Header(session_id, last_seq, PayloadKind.NONE).pack()]


def _as_bytes(frame: object) -> bytes:
    if isinstance(frame, bytes):
        return frame
    raise ProtocolError(f"frame of type {type(frame).__name__} is not bytes")


def decode_stream_message(frames: list, max_payload: int = DEFAULT_MAX_PAYLOAD) -> StreamMessage:
    """Validate and decode a PUB-side message; raise :class:`ProtocolError` saying why not."""
    if not frames:
        raise ProtocolError("empty message")
    kind = _as_bytes(frames[0])
    if kind == UPDATE:
        if len(frames) != 3:
            raise ProtocolError(f"update has {len(frames)} frames, expected 3")
        header = Header.unpack(_as_bytes(frames[1]))
        if header.kind not in (PayloadKind.DELTA, PayloadKind.KEYFRAME):
            raise ProtocolError(f"update with payload kind {header.kind.name}")
        if header.seq < 1:
            raise ProtocolError("update with sequence 0")
        payload = _as_bytes(frames[2])
        if len(payload) > max_payload:
            raise ProtocolError(f"payload of {len(payload)} bytes exceeds the limit of {max_payload}")
        return StreamMessage(UPDATE, header, payload)
    if kind in (HEARTBEAT, END):
        name = "heartbeat" if kind == HEARTBEAT else "session end"
        if len(frames) != 2:
            raise ProtocolError(f"{name} has {len(frames)} frames, expected 2")
        header = Header.unpack(_as_bytes(frames[1]))
        if header.kind != PayloadKind.NONE:
            raise ProtocolError(f"{name} with payload kind {header.kind.name}")
        return StreamMessage(kind, header)
    raise ProtocolError(f"unknown message type {kind[:16]!r}")


# ---------------------------------------------------------------------------------------------
# Snapshot service
# ---------------------------------------------------------------------------------------------
def encode_snapshot_request(nonce: bytes) -> list[bytes]:
    """Frames a node sends to ask for the current state."""
    return [REQUEST, nonce]


def decode_snapshot_request(frames: list) -> bytes:
    """Validate a request as the ROUTER sees it *after* the identity frame; return its nonce."""
    if len(frames) != 2:
        raise ProtocolError(f"snapshot request has {len(frames)} frames, expected 2")
    kind, nonce = _as_bytes(frames[0]), _as_bytes(frames[1])
    if kind != REQUEST:
        raise ProtocolError(f"unknown request type {kind[:16]!r}")
    if len(nonce) != NONCE_SIZE:
        raise ProtocolError(f"request nonce is {len(nonce)} bytes, expected {NONCE_SIZE}")
    return nonce


def encode_snapshot_reply(
    nonce: bytes, header: Header, payload: bytes, session_header: bytes = b""
) -> list[bytes]:
    """Frames of a snapshot reply (before the ROUTER's identity frame)."""
    if len(session_header) > MAX_SESSION_HEADER:
        raise MessageTooLarge(f"session header of {len(session_header)} bytes exceeds {MAX_SESSION_HEADER}")
    return [SNAPSHOT, nonce, header.pack(), payload, session_header]


def encode_refusal(nonce: bytes, reason: str) -> list[bytes]:
    """Frames telling a node its request was refused (it retries later)."""
    return [REFUSAL, nonce, reason.encode("utf-8")[:MAX_REASON_SIZE]]


@dataclass(frozen=True, slots=True)
class SnapshotReply:
    """A validated reply: ``header`` is None for a refusal, then ``reason`` says why."""

    nonce: bytes
    header: Header | None
    payload: bytes = b""
    reason: str = ""
    session_header: bytes = b""


def decode_snapshot_reply(frames: list, max_payload: int = DEFAULT_MAX_PAYLOAD) -> SnapshotReply:
    """Validate a reply as the node's DEALER receives it."""
    if len(frames) < 2:
        raise ProtocolError(f"snapshot reply has {len(frames)} frames")
    kind, nonce = _as_bytes(frames[0]), _as_bytes(frames[1])
    if len(nonce) != NONCE_SIZE:
        raise ProtocolError(f"reply nonce is {len(nonce)} bytes, expected {NONCE_SIZE}")
    if kind == REFUSAL:
        if len(frames) != 3:
            raise ProtocolError(f"refusal has {len(frames)} frames, expected 3")
        reason = _as_bytes(frames[2])[:MAX_REASON_SIZE].decode("utf-8", errors="replace")
        return SnapshotReply(nonce, None, reason=reason)
    if kind != SNAPSHOT:
        raise ProtocolError(f"unknown reply type {kind[:16]!r}")
    if len(frames) != 5:
        raise ProtocolError(f"snapshot reply has {len(frames)} frames, expected 5")
    header = Header.unpack(_as_bytes(frames[2]))
    if header.kind != PayloadKind.KEYFRAME:
        raise ProtocolError(f"snapshot with payload kind {header.kind.name}")
    payload = _as_bytes(frames[3])
    if len(payload) > max_payload:
        raise ProtocolError(f"snapshot payload of {len(payload)} bytes exceeds the limit of {max_payload}")
    session_header = _as_bytes(frames[4])
    if len(session_header) > MAX_SESSION_HEADER:
        raise ProtocolError(f"session header of {len(session_header)} bytes exceeds {MAX_SESSION_HEADER}")
    return SnapshotReply(nonce, header, payload, session_header=session_header)
