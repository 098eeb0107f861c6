"""What the intact chunks of a log make of a replay: what ``gsp verify`` reports and ``gsp
repair`` keeps.

A chunk is intact or not on its own (its checksums), but its commands are not: a command that
calls or passes an object needs the command that created it, maybe in a chunk that was lost.
:class:`Survey` is handed every intact chunk in file order (what ``gsp repair`` keeps) and
follows a replay of them from their start with :class:`sessions.references.References`. When
damage took the chunks that create the scene (the log's start, its setup), the intact commands
after it name objects created there, and a replay stops before its first frame; a keyframe
after the damage holds the whole scene again, so the survey follows a second replay from the
first intact keyframe after it: ``gsp repair`` starts its output there, and the log replays
from its start again (docs/format.md §4).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import IO, Any

from sessions.chunk import (
    HEADER_SIZE,
    ChunkInfo,
    ChunkKind,
    check_chunk,
    decode_chunk,
    encode_chunk,
    peek_chunk_header,
)
from sessions.command import Command, linked_data
from sessions.errors import LogFormatError
from sessions.index import RENDER_OP, summarize_commands
from sessions.references import References

__all__ = ["Kept", "Survey", "read_kept", "standalone_keyframe"]


@dataclass(frozen=True)
class Kept:
    """An intact chunk: where it is, its header (with the frames and markers it holds) and, for a
    linked keyframe, the least seq it points at."""

    offset: int
    info: ChunkInfo
    links_from: int | None = None


class Survey:
    """Fed every intact chunk of a log in file order (:meth:`add`), after the damage before it
    was noted in ``damaged`` (``gsp verify``'s list): which commands of a replay from their
    start name an object none creates (:attr:`from_start`), and where a replay could start
    instead (:attr:`keyframe`, :attr:`from_keyframe`): the first intact keyframe after the last
    damage before the first such command."""

    def __init__(self, damaged: list[dict[str, Any]]) -> None:
        self._damaged = damaged
        self._damage_seen = 0  # entries of damaged seen when the last chunk was added
        self._fresh_damage = False  # damage before any dangling command, no keyframe since
        self.kept: list[Kept] = []
        self.from_start = References()
        self.frames_before = 0  # renders a replay from the start draws before its first dangling command
        self.keyframe: int | None = None  # in kept: the first intact keyframe after that damage
        self.from_keyframe: References | None = None

    def add(self, offset: int, chunk: Any) -> None:
        """Note the intact (decoded) ``chunk`` found at ``offset``."""
        info: ChunkInfo = chunk.info
        number = len(self.kept)
        new_damage = self._damaged[self._damage_seen:]
        self._damage_seen = len(self._damaged)
        if any(d["chunk"] is not None for d in new_damage) and not self.from_start:
            self._fresh_damage = True
        commands: list[Command] = chunk.commands() if info.holds_commands else []
        links_from = None
        if info.kind == ChunkKind.COMMANDS:
            frames, markers = summarize_commands(commands)
            info = dataclasses.replace(info, frames=frames, markers=tuple(markers))
            self._feed_commands(chunk, commands, frames)
        else:
            info = dataclasses.replace(info, frames=0, markers=())
            if info.kind == ChunkKind.LINKED_KEYFRAME:
                links_from = min((link.seq for link in map(linked_data, commands) if link is not None), default=None)
            if info.is_keyframe and number == 0:  # a log that opens with a keyframe replays from it
                self.from_start.feed(commands)
            elif info.is_keyframe and self._fresh_damage:
                self._fresh_damage = False
                self.keyframe, self.from_keyframe = number, References()
                self.from_keyframe.feed(commands)
        self.kept.append(Kept(offset, info, links_from))

    def _feed_commands(self, chunk: Any, commands: list[Command], frames: int) -> None:
        clean = not self.from_start
        for refs in (self.from_start, self.from_keyframe):
            if refs is not None:
                refs.skipped(chunk.skipped)
                refs.feed(commands)
        if clean and self.from_start:  # the first dangling command is in this chunk
            first = self.from_start.first[0].seq
            self.frames_before += sum(1 for c in commands if c.op == RENDER_OP and c.seq < first)
        elif clean:
            self.frames_before += frames

    @property
    def restarts(self) -> bool:
        """Whether a replay of the intact chunks from their start stops at a command naming an
        object lost with damage before it, having drawn no frame, and an intact keyframe after
        that damage lets a replay start there instead (what ``gsp repair`` then does)."""
        return bool(self.from_start) and self.frames_before == 0 and self.keyframe is not None

    def dropped(self, start: int) -> tuple[int, list[int] | None]:
        """How many intact chunks come before ``kept[start]``, and the seqs of their commands."""
        before = [k.info for k in self.kept[:start] if k.info.kind == ChunkKind.COMMANDS]
        return start, [before[0].seq_first, before[-1].seq_last] if before else None


def read_kept(f: IO[bytes], kept: Kept, path: str) -> bytes:
    """The bytes of the intact chunk ``kept`` of the open log ``f``, checked again (its checksums:
    the file may have changed since it was surveyed)."""
    f.seek(kept.offset)
    data = f.read(kept.info.size)
    try:
        check_chunk(data, offset=kept.offset)
    except LogFormatError as error:
        raise LogFormatError(f"{error.reason} (the file changed while it was read)", offset=kept.offset,
                             path=path) from None
    return data


def standalone_keyframe(f: IO[bytes], data: bytes, kept: Kept, big_writes: dict[int, tuple[str, int]],
                        path: str) -> bytes:
    """The linked keyframe ``data`` (``kept``) as the KEYFRAME it stands for: each ``LogRef``
    replaced by the data of the whole write it names, read from the intact chunk of the open
    log ``f`` that holds it (``big_writes``: seq -> (target, chunk offset), as the scan found
    them). For a log whose chunks before the keyframe are not kept."""
    info = kept.info
    commands = decode_chunk(data, offset=kept.offset).commands()
    sources: dict[int, dict[int, Command]] = {}  # chunk offset -> its commands by seq
    resolved = []
    for cmd in commands:
        link = linked_data(cmd)
        if link is not None:
            where = big_writes.get(link.seq)
            if where is None or where[0] != cmd.target:
                raise LogFormatError(f"keyframe refers to command {link.seq}, which no intact earlier chunk holds "
                                     f"as a write of {cmd.target}", offset=kept.offset, path=path)
            by_seq = sources.get(where[1])
            if by_seq is None:
                f.seek(where[1])
                head = decode_chunk(f.read(_chunk_size(f, where[1])), offset=where[1])
                by_seq = sources[where[1]] = {c.seq: c for c in head.commands()}
            cmd = Command(cmd.seq, cmd.t_ns, cmd.op, cmd.target, (by_seq[link.seq].args[0], *cmd.args[1:]),
                          cmd.kwargs)
        resolved.append(cmd)
    return encode_chunk(resolved, ChunkKind.KEYFRAME, seq_range=(info.seq_first, info.seq_last),
                        time_range=(info.t_first, info.t_last))


def _chunk_size(f: IO[bytes], offset: int) -> int:
    f.seek(offset)
    size = peek_chunk_header(f.read(HEADER_SIZE), offset=offset).size
    f.seek(offset)
    return size
