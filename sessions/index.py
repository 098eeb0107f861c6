"""The chunk index of a session log: where each chunk is, its seq/time ranges, keyframes, markers.

Written as the footer (an END chunk whose payload is :meth:`LogIndex.to_payload`) and rebuilt by
scanning when the footer is missing or damaged.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sessions.chunk import KEYFRAME_KINDS, ChunkInfo, ChunkKind
from sessions.command import Command

__all__ = ["MARK_OP", "RENDER_OP", "Marker", "IndexEntry", "LogIndex", "entry_problem", "summarize_commands"]

MARK_OP = "Recorder.mark"
RENDER_OP = "Renderer.render"
_FIELDS = ("offset", "size", "kind", "count", "seq_first", "seq_last", "t_first", "t_last", "frames")
#: The entry fields a chunk's own header gives too.
_HEADER_FIELDS = ("size", "kind", "count", "seq_first", "seq_last", "t_first", "t_last")


@dataclass(frozen=True, slots=True)
class Marker:
    """A user marker: its label, sequence number, time and the chunk that holds it."""

    label: str
    seq: int
    t_ns: int
    chunk: int


class IndexEntry(NamedTuple):
    """One chunk in the index (a named tuple: opening a log makes one per chunk, and a frozen
    dataclass takes several times longer to make)."""

    offset: int
    size: int
    kind: int
    count: int  # type: ignore[assignment]  # shadows tuple.count: the name is the format's
    seq_first: int
    seq_last: int
    t_first: int
    t_last: int
    frames: int  # Renderer.render commands in the chunk


def entry_problem(entry: IndexEntry, info: ChunkInfo, frames: int | None = None) -> str | None:
    """Why a footer's index entry is not what its chunk says (None: it agrees): the fields its
    header (``info``) gives, and its frames, which are the chunk's ``Renderer.render`` count
    when ``frames`` is known and at most its command count anyway. A footer is checksummed, but
    by whoever wrote it: seeks, counts and frame positions are taken from it."""
    for name in _HEADER_FIELDS:
        said, found = getattr(entry, name), getattr(info, name)
        if said != found:
            return f"its entry {name} is {said}, the chunk's header says {found}"
    if not 0 <= entry.frames <= entry.count or (frames is not None and entry.frames != frames):
        return f"its entry gives {entry.frames} frames for {entry.count} commands" + (
            f", the chunk holds {frames}" if frames is not None else "")
    return None


def summarize_commands(commands: list[Command]) -> tuple[int, list[tuple[str, int, int]]]:
    """(number of Renderer.render commands, markers as (label, seq, t_ns)) of a command list."""
    frames = 0
    markers: list[tuple[str, int, int]] = []
    for cmd in commands:
        if cmd.op == RENDER_OP:
            frames += 1
        elif cmd.op == MARK_OP:
            label = cmd.args[0] if cmd.args else cmd.kwargs.get("label", "")
            markers.append((str(label), cmd.seq, cmd.t_ns))
    return frames, markers


class _Derived(NamedTuple):
    """Lists the queries need, made from the first ``made_of`` entries of one list."""

    entries: list[IndexEntry]
    made_of: int
    keyframes: list[int]
    keyframe_seq_last: list[int]
    keyframes_in_order: bool  # their seq_last never decreases: the last one before a seq bisects
    commands: list[int]
    command_seq_last: list[int]
    command_t_last: list[int]


@dataclass
class LogIndex:
    """Every chunk of a log, in file order, plus markers. Built incrementally with :meth:`add`
    (``entries`` is only appended to)."""

    entries: list[IndexEntry] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    from_footer: bool = False
    _cache: _Derived | None = field(default=None, repr=False, compare=False)

    def add(self, info: ChunkInfo, offset: int, frames: int = 0, markers: list[tuple[str, int, int]] | tuple = ()) -> None:
        """Record a chunk found (or written) at ``offset``."""
        chunk = len(self.entries)
        self.entries.append(
            IndexEntry(offset, info.size, info.kind, info.count, info.seq_first, info.seq_last,
                       info.t_first, info.t_last, frames)
        )
        for label, seq, t_ns in markers:
            self.markers.append(Marker(label, seq, t_ns, chunk))

    def __len__(self) -> int:
        return len(self.entries)

    # -- queries ---------------------------------------------------------------------------
    def _derived(self) -> _Derived:
        """The chunk lists the queries use, made again only once entries were added: a seek
        asks several queries of an index of hundreds of chunks (a 1 GB log), each of which
        walked every entry."""
        entries, cache = self.entries, self._cache
        if cache is not None and cache.entries is entries and cache.made_of == len(entries):
            return cache
        keyframes = [i for i, e in enumerate(entries) if e.kind in KEYFRAME_KINDS]
        kf_seq = [entries[i].seq_last for i in keyframes]
        commands = [i for i, e in enumerate(entries) if e.kind == ChunkKind.COMMANDS]
        self._cache = _Derived(entries, len(entries), keyframes, kf_seq, all(a <= b for a, b in zip(kf_seq, kf_seq[1:])),
                               commands, [entries[i].seq_last for i in commands], [entries[i].t_last for i in commands])
        return self._cache

    @property
    def keyframes(self) -> list[int]:
        """Chunk numbers of the keyframes (KEYFRAME and LINKED_KEYFRAME chunks)."""
        return list(self._derived().keyframes)

    def command_chunks(self) -> list[int]:
        """Chunk numbers of the COMMANDS chunks."""
        return list(self._derived().commands)

    @property
    def total_commands(self) -> int:
        """Commands in COMMANDS chunks (keyframes not counted)."""
        return sum(e.count for e in self.entries if e.kind == ChunkKind.COMMANDS)

    @property
    def total_frames(self) -> int:
        """Renderer.render commands in the session."""
        return sum(e.frames for e in self.entries if e.kind == ChunkKind.COMMANDS)

    def seq_range(self) -> tuple[int, int] | None:
        """(first, last) command seq, None when empty."""
        chunks = self._nonempty_command_ends()
        return (chunks[0].seq_first, chunks[1].seq_last) if chunks else None

    def time_range(self) -> tuple[int, int] | None:
        """(first, last) command time in ns, None when empty."""
        chunks = self._nonempty_command_ends()
        return (chunks[0].t_first, chunks[1].t_last) if chunks else None

    def _nonempty_command_ends(self) -> tuple[IndexEntry, IndexEntry] | None:
        """The first and last COMMANDS chunks that hold commands."""
        entries = self.entries
        commands = self._derived().commands
        first = next((entries[i] for i in commands if entries[i].count), None)
        last = next((entries[i] for i in reversed(commands) if entries[i].count), None)
        return (first, last) if first is not None and last is not None else None

    def keyframe_before_seq(self, seq: int) -> int | None:
        """The last keyframe chunk capturing a state strictly before ``seq`` (None: start over)."""
        derived = self._derived()
        if derived.keyframes_in_order:
            k = bisect.bisect_left(derived.keyframe_seq_last, seq)
            return derived.keyframes[k - 1] if k else None
        best = None
        for i, seq_last in zip(derived.keyframes, derived.keyframe_seq_last):
            if seq_last < seq:
                best = i
        return best

    def chunk_for_time(self, t_ns: int) -> int | None:
        """First COMMANDS chunk whose last command is at or after ``t_ns``."""
        derived = self._derived()
        k = bisect.bisect_left(derived.command_t_last, t_ns)
        return derived.commands[k] if k < len(derived.commands) else None

    def chunk_for_seq(self, seq: int) -> int | None:
        """First COMMANDS chunk whose last seq is at or after ``seq``."""
        derived = self._derived()
        k = bisect.bisect_left(derived.command_seq_last, seq)
        return derived.commands[k] if k < len(derived.commands) else None

    def chunk_for_frame(self, number: int) -> tuple[int, int] | None:
        """(chunk, frames before it) of the chunk holding the ``number``-th render (from 1)."""
        seen = 0
        for i in self.command_chunks():
            frames = self.entries[i].frames
            if seen + frames >= number:
                return i, seen
            seen += frames
        return None

    def count_problem(self) -> str | None:
        """Why an entry's counts cannot be a chunk's (None: every one can): negative commands, or
        more frames than commands. Checked without reading the chunks, as a log is opened."""
        for number, entry in enumerate(self.entries):
            if entry.count < 0:
                return f"chunk {number}: its entry count is {entry.count}"
            if not 0 <= entry.frames <= entry.count:
                return f"chunk {number}: its entry gives {entry.frames} frames for {entry.count} commands"
        return None

    def marker_problem(self) -> str | None:
        """Why a marker does not lie in the COMMANDS chunk it names (None: every one does)."""
        for m in self.markers:
            entry = self.entries[m.chunk]
            if entry.kind != ChunkKind.COMMANDS or not entry.seq_first <= m.seq <= entry.seq_last:
                return f"marker {m.label!r} (seq {m.seq}) is not in chunk {m.chunk}"
        return None

    def marker(self, label: str) -> Marker | None:
        """The first marker with this label."""
        return next((m for m in self.markers if m.label == label), None)

    # -- serialization -------------------------------------------------------------------------
    def to_payload(self) -> dict[str, Any]:
        """The footer payload: columnar chunk table, markers, keyframes."""
        columns = {name: [getattr(e, name) for e in self.entries] for name in _FIELDS}
        return {
            "index": 1,
            "chunks": columns,
            "markers": [[m.label, m.seq, m.t_ns, m.chunk] for m in self.markers],
            "keyframes": self.keyframes,
        }

    @classmethod
    def from_payload(cls, payload: Any, *, first_offset: int, footer_offset: int) -> LogIndex:
        """Rebuild from a footer payload, checking it is consistent (ValueError if not)."""
        if not isinstance(payload, dict) or payload.get("index") != 1:
            raise ValueError("footer payload is not an index")
        cols = payload.get("chunks")
        if not isinstance(cols, dict) or any(not isinstance(cols.get(n), list) for n in _FIELDS):
            raise ValueError("footer chunk table is malformed")
        n = len(cols["offset"])
        if any(len(cols[name]) != n for name in _FIELDS):
            raise ValueError("footer chunk table columns differ in length")
        index = cls(from_footer=True)
        # Column by column, not entry by entry: every seek opens the file and reads this table
        # (a 1 GB log has hundreds of chunks), so checks and entries are made with few Python steps.
        for name in _FIELDS:
            column = cols[name]
            if not set(map(type, column)) <= {int}:  # bool is not int here, as before
                i = next(i for i, v in enumerate(column) if type(v) is not int)
                raise ValueError(f"footer entry {i} is not made of integers")
        offsets, sizes = cols["offset"], cols["size"]
        expected = first_offset
        for i, (offset, size) in enumerate(zip(offsets, sizes)):
            if offset != expected or size <= 0:
                raise ValueError(f"footer entry {i} has offset {offset}, expected {expected}")
            expected = offset + size
        index.entries.extend(map(IndexEntry, *(cols[name] for name in _FIELDS)))
        if expected != footer_offset:
            raise ValueError(f"footer table ends at {expected}, the footer is at {footer_offset}")
        for m in payload.get("markers", []):
            if not (isinstance(m, list) and len(m) == 4 and isinstance(m[0], str)
                    and all(type(x) is int for x in m[1:]) and 0 <= m[3] < n):
                raise ValueError(f"footer marker {m!r} is malformed")
            index.markers.append(Marker(m[0], m[1], m[2], m[3]))
        return index
