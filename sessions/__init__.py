"""Session logs: the command codec, chunk framing, the ``.gsplog`` writer/reader, keyframes, tools.

Public API (docs/format.md and docs/protocol.md describe the bytes):

- :class:`Command`, :class:`Ref` — the unit of a log (:class:`LogRef`: in linked keyframes);
- :class:`LogWriter`, :class:`LogReader` — write and read ``.gsplog`` files;
- :func:`encode_chunk` / :func:`decode_chunk` — the chunk bytes shared by files and the wire;
- :class:`SceneState` — commands applied to real ``gsp`` objects, snapshots (keyframes);
- :class:`LogFormatError`, :class:`LogWriteError`, :class:`BadArgumentError` (an argument that
  does not fit the log: a range, a marker, an output) — the errors; :class:`SkippedCommandWarning` —
  a command left out because it holds a value this build cannot rebuild.
"""

from __future__ import annotations

from typing import Any

from sessions.chunk import Chunk, ChunkInfo, ChunkKind, decode_chunk, encode_chunk, encode_end_chunk
from sessions.codec import PROTOCOL_VERSION
from sessions.command import Command, LogRef, Ref
from sessions.errors import (
    BadArgumentError,
    CommandError,
    LogFormatError,
    LogWriteError,
    SkippedCommandWarning,
)
from sessions.position import At, parse_at
from sessions.reader import LogReader
from sessions.sinks import ChunkSink, FileSink, MemorySink
from sessions.writer import LogWriter

__all__ = [
    "PROTOCOL_VERSION",
    "At",
    "BadArgumentError",
    "Chunk",
    "ChunkInfo",
    "ChunkKind",
    "ChunkSink",
    "Command",
    "CommandError",
    "FileSink",
    "LogFormatError",
    "LogReader",
    "LogRef",
    "LogWriteError",
    "LogWriter",
    "MemorySink",
    "Ref",
    "SceneState",
    "SkippedCommandWarning",
    "decode_chunk",
    "encode_chunk",
    "encode_end_chunk",
    "parse_at",
]


def __getattr__(name: str) -> Any:
    # SceneState imports gsp; load it only when asked for.
    if name == "SceneState":
        from sessions.scene import SceneState

        return SceneState
    raise AttributeError(f"module 'sessions' has no attribute {name!r}")
