"""A :class:`~transports.state.StreamState` that understands .gsplog chunks (a scene).

Payloads are chunks of the file format (``sessions.decode_chunk``); their commands are applied to
a ``sessions.SceneState``; snapshots are KEYFRAME chunks of that scene. Used by a publisher to
serve late joiners, by a relay, and by nodes (whose player renders from :attr:`scene`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from sessions import ChunkKind, Command, CommandError, SceneState, decode_chunk, encode_chunk
from sessions.codec import links_as_recorded
from sessions.limits import DEFAULT_LIMITS, Limits
from transports.protocol import PayloadKind
from transports.watch import LogLimit

__all__ = ["SceneStreamState"]

log = logging.getLogger(__name__)


class SceneStreamState:
    """Scene state fed by chunks. ``on_commands`` (optional) sees each applied batch of commands.

    Thread-safe: a publisher's I/O thread applies while snapshots may be taken elsewhere.
    Errors from a chunk (corrupt bytes, a command that cannot apply, a scene past
    ``limits.max_scene_bytes``) propagate as ``sessions.LogFormatError`` / ``CommandError`` so
    that the caller logs them and resyncs.

    ``keep_links_as_recorded``: transform links are held as their recorded form
    (``sessions.codec.links_as_recorded``), never rebuilt nor run. For a scene that only makes
    snapshots (a publisher's, a relay's): it then needs no link classes, and its snapshots carry
    the user's own link types as recorded. A node, which draws, rebuilds them (False).

    ``skip_failing``: a command that cannot apply (``CommandError``: a scene past the limit, an
    argument its object refuses) is logged and left out, and the chunk's other commands apply,
    as a node does. For a publisher serving a log it did not make (``gsp serve``): one such
    command in a collaborator's log made it refuse every late joiner's snapshot ("state
    resynchronising") until the next keyframe, for good in a log without one. A relay keeps
    the default: it tells its nodes it cannot hold the upstream scene rather than serve part of it.
    """

    def __init__(self, on_commands: Callable[[list[Command], bool], None] | None = None,
                 limits: Limits = DEFAULT_LIMITS, *, keep_links_as_recorded: bool = False,
                 skip_failing: bool = False) -> None:
        self.scene: Any = SceneState(limits)
        self.last_seq = 0
        self.last_t_ns = 0
        self.ended = False
        self._on_commands = on_commands
        self._keep_links_as_recorded = keep_links_as_recorded
        self._skip_failing = skip_failing
        self._skipped_log = LogLimit()
        self.skipped = 0  # commands left out (skip_failing)
        self._lock = threading.RLock()
        # The last snapshot encoded, until the state changes: nodes joining or resyncing together
        # (a burst of requests after a publisher's hiccup) cost one encode of the scene, not one each.
        self._snapshot: bytes | None = None

    def reset(self, keyframe: bytes) -> None:
        with self._lock:
            self._snapshot = None
            self.scene.reset()
            self.last_seq = self.last_t_ns = 0
            if keyframe:
                self._apply_chunk(keyframe, replace=True)
            elif self._on_commands is not None:
                self._on_commands([], True)

    def apply(self, kind: PayloadKind, payload: bytes) -> None:
        with self._lock:
            self._snapshot = None
            self._apply_chunk(payload, replace=kind == PayloadKind.KEYFRAME)

    def _apply_chunk(self, payload: bytes, replace: bool) -> None:
        chunk = decode_chunk(payload)
        info = chunk.info
        if info.kind == ChunkKind.END:
            self.ended = True
            return
        if info.kind not in (ChunkKind.COMMANDS, ChunkKind.KEYFRAME):
            log.warning("skipping a chunk of unknown kind %d", info.kind)
            return
        # Set here, on the applying thread: a context variable does not follow into other threads.
        with links_as_recorded() if self._keep_links_as_recorded else contextlib.nullcontext():
            commands = chunk.commands()
        if replace or info.kind == ChunkKind.KEYFRAME:
            self.scene.reset()
        for command in commands:
            if not self._skip_failing:
                self.scene.apply(command)
                continue
            try:
                self.scene.apply(command)
            except CommandError as error:
                self.skipped += 1
                if self._skipped_log():
                    log.error("left out of the scene served to late joiners (%d so far): %s", self.skipped, error)
        if info.count:
            self.last_seq = max(self.last_seq, info.seq_last)
            self.last_t_ns = max(self.last_t_ns, info.t_last)
        if self._on_commands is not None:
            self._on_commands(commands, replace or info.kind == ChunkKind.KEYFRAME)

    def snapshot(self) -> bytes:
        with self._lock:
            if self._snapshot is None:
                commands = self.scene.snapshot(self.last_seq, self.last_t_ns)
                self._snapshot = encode_chunk(
                    commands,
                    ChunkKind.KEYFRAME,
                    seq_range=(self.last_seq, self.last_seq),
                    time_range=(self.last_t_ns, self.last_t_ns),
                )
            return self._snapshot

    def state_hash(self) -> str:
        with self._lock:
            return str(self.scene.state_hash())
