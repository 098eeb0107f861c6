"""LogReader: open a ``.gsplog``, load or rebuild its index, iterate chunks and commands, seek, follow.

A complete file (its footer read) is mapped into memory, and compressed chunks are decompressed
straight from the page cache: reading them into a buffer first was one more pass over every
stored byte (a recorded session read whole, 2-core VM: 25.2 -> 19.6 ms). The map is only for
files that are done: a recorder truncates its file after a failed write, and a mapped page past
the end of a file kills the process that touches it (SIGBUS); gsplog never cuts a complete file
(a new recording to the same path replaces it), but another program might (``cp`` over it). The
file's size is checked before each chunk is taken from the map: a file cut since then is
unmapped and the chunk read, which reports it cut short (a cut during that one chunk's decoding
still kills the process). ``GSP_NO_MMAP=1`` (read at import) reads every chunk with ``read``.
Stored (uncompressed) chunks are still copied, so no decoded array refers to the map, and the
pages of decoded chunks leave the process every :data:`DROP_MAPPED_EVERY` bytes
(``MADV_DONTNEED``; they stay in the page cache), so a log read whole does not count in the
reader's resident memory.
"""

from __future__ import annotations

import mmap
import os
import threading
import time
import warnings
from collections.abc import Container, Iterator
from typing import Any

from sessions import spare
from sessions.chunk import (
    _HEADER,
    CHUNK_MAGIC,
    FLAGS_OFFSET,
    HEADER_SIZE,
    KEYFRAME_KINDS,
    Chunk,
    ChunkFlags,
    ChunkInfo,
    ChunkKind,
    decode_chunk,
    encode_chunk,
    peek_chunk_header,
)
from sessions.command import Command, LogRef, linked_data
from sessions.errors import BadArgumentError, LogFormatError
from sessions.fileformat import TRAILER_SIZE, FileHeader, decode_header, decode_trailer, header_size_hint
from sessions.index import MARK_OP, RENDER_OP, LogIndex, Marker, entry_problem, summarize_commands
from sessions.limits import DEFAULT_LIMITS, Limits
from sessions.position import (
    At,
    RepeatedMarkerWarning,
    backwards_range,
    ends_before_start,
    literal_label,
    parse_at,
)

__all__ = ["DROP_MAPPED_EVERY", "ENV_NO_MMAP", "LogReader", "Position", "use_map"]

#: Set to "1" (before this module is imported) to read chunks with ``read``, never from a map.
ENV_NO_MMAP = "GSP_NO_MMAP"
_USE_MMAP = os.environ.get(ENV_NO_MMAP) != "1"
#: Bytes of compressed chunks decoded from a map between two drops of its pages: what a reader of
#: a mapped file keeps resident at most, besides the chunk it is decoding.
DROP_MAPPED_EVERY = 32 << 20


def use_map(mapped: bool) -> bool:
    """Map the complete files opened from now on (``True``) or read them (``False``); for
    benchmarks and tests. Returns the previous choice."""
    global _USE_MMAP
    previous, _USE_MMAP = _USE_MMAP, mapped
    return previous

Position = At | str | int | float
#: Seconds without new data after which following a growing log ends (``commands(follow=True)``).
FOLLOW_TIMEOUT_S = 10.0


class LogReader:
    """Read a session log.

    ``recover=False`` (default): a damaged chunk raises :class:`LogFormatError` (offset, chunk,
    reason). An unterminated file (no footer: crashed or still being written) is normal: its
    index is rebuilt by scanning and an incomplete last chunk is ignored.
    ``recover=True``: damage ends the log with a warning; what precedes it is returned.
    A footer's index is checked as the log opens for what needs no reading (counts, markers);
    each entry is compared with its chunk's header as that chunk is read (a mismatch is a
    LogFormatError naming the chunk). ``check_index=True`` (the tools) compares every entry
    with its chunk's header as the log opens, and rebuilds the index by scanning, with a
    warning, when one disagrees (about 2 ms for a 1 GB log, which a seek would pay each time).
    """

    def __init__(self, path: str | os.PathLike[str], *, recover: bool = False,
                 limits: Limits = DEFAULT_LIMITS, check_index: bool = False) -> None:
        self.path = os.fspath(path)
        self.recover = recover
        self.check_index = check_index
        self.limits = limits
        self.problems: list[LogFormatError] = []  # damage seen (recover mode, or a bad footer)
        self.complete = False  # a valid footer was found
        self.ended = False  # the session's end is in the file (footer or END chunk)
        self.footer_seen = False  # an END chunk (a footer) ends the chunks, its index usable or not
        self.tail_incomplete = False  # bytes after the last complete chunk
        self._follow_cache: dict[int, Chunk] = {}
        # close() may come from another thread (to end a follower): it takes this lock, which
        # chunks() holds around each read, so that no read runs on a closed descriptor.
        self._io_lock = threading.RLock()
        self._closing = False
        self._footer_hint: int | None = None  # where the trailer says the footer is
        self._last_chunk: tuple[int, Chunk] | None = None
        # Chunks read ahead of a replay, each handed to it once (read_chunk): the one resolve()
        # found a time or frame in, the one after a keyframe (commands()). Between those reads
        # and the replay's, a seek reads the keyframe and the chunks its links point at.
        self._read_ahead: dict[int, Chunk] = {}
        self._map: mmap.mmap | None = None  # the whole file, once it is known to be complete
        self._mapped_since_drop = 0  # bytes decoded from the map since its pages were last dropped
        self._file = open(self.path, "rb")  # noqa: SIM115 - kept open for the reader's life
        try:
            self.header: FileHeader = self._read_header()
            self.index = LogIndex()
            self._scan_pos = self.header.size
            self._load_index()
            if self.complete and _USE_MMAP:
                self._map = self._map_file()
        except BaseException:
            self._file.close()
            raise

    # -- basics ----------------------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, Any]:
        """The header metadata dict."""
        return self.header.metadata

    def close(self) -> None:
        """Close the file (idempotent). A follower iterating in another thread then ends, as at
        the log's end: the file is closed between two of its reads, never under one (its
        descriptor could otherwise be closed, or even reused, while it reads)."""
        self._closing = True
        with self._io_lock:
            self._unmap()
            self._file.close()

    def _unmap(self) -> None:
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # a view is still held (a traceback's frame): unmapped when it goes
                pass
            self._map = None

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _size(self) -> int:
        return os.fstat(self._file.fileno()).st_size

    def _pread(self, offset: int, size: int) -> memoryview:
        # Not a bytearray: its memory would be zeroed first, one more pass over fresh pages.
        buf = spare.empty(size).data
        self._file.seek(offset)
        n = self._file.readinto(buf)
        return buf if n == size else buf[:n]

    def _map_file(self) -> mmap.mmap | None:
        """The whole file mapped read-only; None where it cannot be (some FUSE and network file
        systems), and chunks are read."""
        try:
            return mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None

    def _decoded_from_map(self, size: int) -> None:
        """Count ``size`` bytes decoded from the map; past :data:`DROP_MAPPED_EVERY`, drop the
        map's pages from this process (they stay in the page cache), or a file read whole would
        count in full in its resident memory. One call for many chunks: each one costs a system
        call and a page-table walk (3-11 % of a read when made per chunk)."""
        assert self._map is not None
        self._mapped_since_drop += size
        if self._mapped_since_drop >= DROP_MAPPED_EVERY:
            self._map.madvise(mmap.MADV_DONTNEED)
            self._mapped_since_drop = 0

    def _chunk_bytes(self, offset: int, size: int) -> memoryview:
        """The bytes of a chunk: a view of the map when the file is mapped and the chunk is
        compressed (it decodes into new memory, so nothing decoded refers to the map), else a
        copy (a stored chunk's arrays are views of these bytes)."""
        if self._map is not None and size >= HEADER_SIZE and offset + size <= len(self._map):
            if self._size() < offset + size:  # cut in place since it was mapped: its pages there kill
                self._unmap()
            # The flags byte is trusted only this far: decode_chunk checks the header either way.
            elif self._map[offset + FLAGS_OFFSET] & ChunkFlags.LZ4:
                return memoryview(self._map)[offset:offset + size]
        return self._pread(offset, size)

    def _error(self, reason: str, offset: int | None, chunk: int | None = None) -> LogFormatError:
        return LogFormatError(reason, offset=offset, chunk_index=chunk, path=self.path)

    def _read_header(self) -> FileHeader:
        first = self._pread(0, 16)
        hint = header_size_hint(bytes(first))
        if hint is None:
            if len(first) < 16:
                raise self._error(f"file too short for a gsplog header ({len(first)} bytes)", 0)
            raise self._error(f"not a gsplog file (magic {bytes(first[:8])!r})", 0)
        hint = min(hint, self.limits.max_header_metadata + 24)
        return decode_header(bytes(self._pread(0, hint)), path=self.path, limits=self.limits)

    @property
    def end_state(self) -> str:
        """How the log ends, as this reader found it: ``"complete"`` (a valid footer index),
        ``"footer damaged"`` (a footer ends the chunks, but its index or the trailer after it
        cannot be used, or bytes follow the trailer: the chunks before it, every one intact,
        were found by scanning) or ``"unterminated"`` (no footer: its recorder was killed, or
        is still writing; :attr:`tail_incomplete` when its last chunk is cut short)."""
        if self.complete:
            return "complete"
        return "footer damaged" if self.footer_seen else "unterminated"

    def end_text(self) -> str:
        """:attr:`end_state` in words, for a message about this log (empty when complete)."""
        state = self.end_state
        if state == "complete":
            return ""
        if state == "footer damaged":
            return "the log's footer is damaged (its index or its trailer; every chunk before it is intact, found by scanning)"
        tail = "; its last chunk is cut short" if self.tail_incomplete else ""
        return f"the log has no footer (its recorder was killed or is still writing{tail})"

    # -- index -----------------------------------------------------------------------------------
    def _load_index(self) -> None:
        size = self._size()
        if size >= self.header.size + TRAILER_SIZE + HEADER_SIZE:
            footer_offset = decode_trailer(bytes(self._pread(size - TRAILER_SIZE, TRAILER_SIZE)))
            self._footer_hint = footer_offset
            if footer_offset is not None:
                try:
                    self.index = self._read_footer(footer_offset, size)
                    self.complete = self.ended = self.footer_seen = True
                    self._scan_pos = footer_offset
                    return
                except LogFormatError as error:
                    error = self._located(error)
                    self.problems.append(error)
                    where = f"offset {error.offset}: " if error.offset is not None else ""
                    warnings.warn(f"{self.path}: the footer index cannot be used ({where}{error.reason}); "
                                  "rebuilding the index by scanning (`gsp repair` writes a valid one)", stacklevel=3)
        self.index = LogIndex()
        self._scan_pos = self.header.size
        self._scan()

    def _read_footer(self, footer_offset: int, size: int) -> LogIndex:
        end = size - TRAILER_SIZE
        if not self.header.size <= footer_offset <= end - HEADER_SIZE:
            raise self._error(f"trailer points at {footer_offset}, outside the file", end)
        data = self._pread(footer_offset, end - footer_offset)
        info = peek_chunk_header(data, offset=footer_offset, limits=self.limits)
        if info.kind != ChunkKind.END:
            raise self._error("trailer does not point at an END chunk", footer_offset)
        chunk = decode_chunk(data, offset=footer_offset, limits=self.limits, info=info)
        try:
            index = LogIndex.from_payload(chunk.payload_object(self.limits), first_offset=self.header.size,
                                          footer_offset=footer_offset)
        except ValueError as error:
            raise self._error(f"footer index is inconsistent: {error}", footer_offset) from None
        problem = index.count_problem() or index.marker_problem()
        if problem is not None:
            raise self._error(problem, footer_offset)
        if self.check_index:
            self._check_footer_entries(index, footer_offset)
        return index

    def _check_footer_entries(self, index: LogIndex, footer_offset: int) -> None:
        """LogFormatError unless each footer entry says what its chunk's header says
        (``sessions.index.entry_problem``): a footer calling a COMMANDS chunk a keyframe made
        replays fail, and one giving -100 commands was shown as it said. A chunk whose header is
        damaged is left to be found when it is read. The headers are read from a map of the
        file, and checksummed only where they disagree: a few µs a chunk (2 ms for the 445 chunks
        of a 1 GB log on the VM), which is why only ``check_index`` readers (the tools) do it as
        they open the log; other readers compare each entry with its chunk as they read or skip
        it (:meth:`_check_entry`)."""
        mapped = self._map_file()
        try:
            for number, entry in enumerate(index.entries):
                if mapped is not None:
                    fields = _HEADER.unpack_from(mapped, entry.offset)
                    if (HEADER_SIZE + fields[12], *fields[2:3], *fields[5:6], *fields[7:11]) == (
                            entry.size, entry.kind, entry.count, entry.seq_first, entry.seq_last, entry.t_first,
                            entry.t_last) and 0 <= entry.frames <= entry.count:
                        continue
                    head: bytes | memoryview = mapped[entry.offset : entry.offset + HEADER_SIZE]
                else:
                    head = self._pread(entry.offset, HEADER_SIZE)
                try:
                    info = peek_chunk_header(head, offset=entry.offset, chunk_index=number, limits=self.limits)
                except LogFormatError:
                    continue
                problem = entry_problem(entry, info)
                if problem is not None:
                    raise self._error(f"chunk {number}: {problem}", footer_offset)
        finally:
            if mapped is not None:
                mapped.close()

    def _check_entry(self, number: int, info: ChunkInfo) -> None:
        """LogFormatError unless chunk ``number``'s header (``info``) says what the footer's
        index entry says: the index chose it, and chooses by its entries."""
        if self.index.from_footer:
            problem = entry_problem(self.index.entries[number], info)
            if problem is not None:
                raise self._error(f"chunk {number}: the footer index does not describe it ({problem}); "
                                  "`gsp repair` rewrites the index", info.offset, number)

    def _located(self, error: LogFormatError) -> LogFormatError:
        if error.path is not None:
            return error
        return LogFormatError(error.reason, offset=error.offset, chunk_index=error.chunk_index, path=self.path)

    def _damage(self, error: LogFormatError) -> None:
        error = self._located(error)
        if not self.recover:
            raise error
        self.problems.append(error)
        warnings.warn(f"{error}; the log is read up to offset {error.offset}", stacklevel=4)

    def _scan(self, cache: bool = False) -> int:
        """Index the chunks after ``_scan_pos``; returns how many were added."""
        added = 0
        size = self._size()
        while not self.ended:
            pos = self._scan_pos
            chunk_no = len(self.index)
            head = self._pread(pos, HEADER_SIZE)
            if len(head) < HEADER_SIZE:
                self.tail_incomplete = len(head) > 0
                break
            try:
                info = peek_chunk_header(head, offset=pos, chunk_index=chunk_no, limits=self.limits)
            except LogFormatError as error:
                if size - pos < HEADER_SIZE + TRAILER_SIZE and decode_trailer(bytes(self._pread(pos, TRAILER_SIZE))):
                    self.ended = self.footer_seen = True  # a trailer without its footer (repair output never has this)
                    break
                self._damage(error)
                self.ended = True
                break
            if pos + info.size > size:
                self.tail_incomplete = True
                size = self._size()
                if pos + info.size > size:
                    break
            data = self._pread(pos, info.size)
            try:
                chunk = decode_chunk(data, offset=pos, chunk_index=chunk_no, limits=self.limits, info=info)
                frames, markers = 0, list[tuple[str, int, int]]()
                if info.kind == ChunkKind.COMMANDS:
                    frames, markers = summarize_commands(chunk.commands(self.limits))
            except LogFormatError as error:
                if pos == self._footer_hint:  # only the footer is damaged: every command is intact
                    self.ended = self.footer_seen = True
                    break
                self._damage(error)
                self.ended = True
                break
            self.tail_incomplete = False
            if info.kind == ChunkKind.END:
                self.ended = self.footer_seen = True
                break
            self.index.add(info, pos, frames, markers)
            if cache:
                self._follow_cache[chunk_no] = chunk
            self._scan_pos = pos + info.size
            added += 1
        return added

    # -- chunks ----------------------------------------------------------------------------------
    def read_chunk(self, number: int) -> Chunk:
        """Read, check and decompress chunk ``number`` of the index."""
        cached = self._follow_cache.pop(number, None)
        if cached is not None:
            return cached
        if self._last_chunk is not None and self._last_chunk[0] == number:
            return self._last_chunk[1]  # seeking reads the target's chunk twice: resolve, then replay
        ahead = self._read_ahead.pop(number, None)  # once: the replay has reached it
        if ahead is not None:
            self._last_chunk = (number, ahead)
            return ahead
        entry = self.index.entries[number]
        data = self._chunk_bytes(entry.offset, entry.size)
        if len(data) < entry.size:
            raise self._error(f"chunk cut short ({len(data)} of {entry.size} bytes): the file is {self._size()} bytes, "
                              "cut or written over since it was opened", entry.offset, number)
        try:
            chunk = decode_chunk(data, offset=entry.offset, chunk_index=number, limits=self.limits)
        except LogFormatError as error:
            raise self._located(error) from None
        finally:
            if data.obj is self._map:
                self._decoded_from_map(entry.size)
        self._check_entry(number, chunk.info)
        self._last_chunk = (number, chunk)
        return chunk

    def _is_skippable(self, number: int, skip_kinds: Container[int]) -> bool:
        """Whether chunk ``number`` is of ``skip_kinds`` by its index entry, and by its own
        header too where the entry came from a footer (one calling a COMMANDS chunk a keyframe
        would have its commands left out): its header is read, not the chunk."""
        entry = self.index.entries[number]
        if entry.kind not in skip_kinds:
            return False
        if self.index.from_footer and number not in self._follow_cache:
            head = self._pread(entry.offset, HEADER_SIZE)
            try:
                info = peek_chunk_header(head, offset=entry.offset, chunk_index=number, limits=self.limits)
            except LogFormatError:
                return True  # damaged, and not needed
            self._check_entry(number, info)
        return True

    def keyframe_commands(self, number: int) -> list[Command]:
        """The commands of keyframe chunk ``number``: a whole scene (``Scene.keyframe`` first)
        that applies on its own. The :class:`~sessions.command.LogRef` of a LINKED_KEYFRAME are
        replaced by the data they name, read from the earlier chunk holding it; a reference that
        does not resolve raises LogFormatError (like a damaged keyframe)."""
        return self._keyframe_commands(number, {})

    def _keyframe_commands(self, number: int, writes_ahead: dict[str, list[tuple[int, int]]]) -> list[Command]:
        """:meth:`keyframe_commands`, less each ``Buffer.set_data`` whose range ``writes_ahead``
        (:meth:`_writes_ahead`) covers: its data is not read (nor, for a link, its chunk)."""
        chunk = self.read_chunk(number)
        if chunk.info.kind not in KEYFRAME_KINDS:
            raise self._error(f"chunk {number} is not a keyframe ({chunk.info.kind_name})", chunk.info.offset, number)
        commands = chunk.commands(self.limits)
        if writes_ahead:
            commands = [cmd for cmd in commands if not _covered(cmd, writes_ahead)]
        if chunk.info.kind == ChunkKind.KEYFRAME:
            return commands
        sources: dict[int, dict[int, Command]] = {}  # chunk number -> its commands by seq
        resolved = []
        for cmd in commands:
            link = linked_data(cmd)
            if link is not None:
                cmd = Command(cmd.seq, cmd.t_ns, cmd.op, cmd.target,
                              (self._resolve_link(link, cmd, number, sources), *cmd.args[1:]), cmd.kwargs)
            elif any(type(a) is LogRef for a in (*cmd.args, *cmd.kwargs.values())):
                raise self._error(f"keyframe command {cmd.op} (seq {cmd.seq}) holds a log reference where none "
                                  "may be", chunk.info.offset, number)
            resolved.append(cmd)
        return resolved

    def standalone_keyframe(self, number: int) -> bytes:
        """Keyframe chunk ``number`` as bytes that stand on their own: a LINKED_KEYFRAME is
        re-encoded as the KEYFRAME it stands for (what a live stream sends), others as stored."""
        entry = self.index.entries[number]
        if entry.kind != ChunkKind.LINKED_KEYFRAME:
            return bytes(self._pread(entry.offset, entry.size))
        return encode_chunk(self.keyframe_commands(number), ChunkKind.KEYFRAME, seq_range=(entry.seq_first, entry.seq_last),
                            time_range=(entry.t_first, entry.t_last))

    def _resolve_link(self, link: LogRef, cmd: Command, keyframe: int,
                     sources: dict[int, dict[int, Command]]) -> Any:
        """The data argument of command ``link.seq``: a Buffer.set_data of the same buffer, offset
        and count as ``cmd`` in an earlier COMMANDS chunk."""
        number = self.index.chunk_for_seq(link.seq)
        if number is None or number > keyframe or self.index.entries[number].seq_first > link.seq:
            raise self._error(f"keyframe refers to command {link.seq}, which no earlier chunk holds",
                              self.index.entries[keyframe].offset, keyframe)
        by_seq = sources.get(number)
        if by_seq is None:
            by_seq = sources[number] = {c.seq: c for c in self.read_chunk(number).commands(self.limits)}
        source = by_seq.get(link.seq)
        if source is None or source.op != "Buffer.set_data" or source.target != cmd.target \
                or source.args[1:] != cmd.args[1:] or source.kwargs != cmd.kwargs:
            raise self._error(f"keyframe refers to command {link.seq}, which is not a Buffer.set_data of {cmd.target} "
                              f"with arguments {list(cmd.args[1:])}", self.index.entries[keyframe].offset, keyframe)
        return source.args[0]

    def _chunk_commands(self, chunk: Chunk) -> list[Command] | None:
        """The chunk's commands; None (recover mode) or LogFormatError when they do not decode."""
        try:
            return chunk.commands(self.limits)
        except LogFormatError as error:
            self._damage(error)
            return None

    def chunks(self, start: int = 0, *, follow: bool = False, timeout: float | None = FOLLOW_TIMEOUT_S,
               poll_interval: float = 0.02) -> Iterator[Chunk]:
        """Chunks in file order from chunk number ``start``.

        ``follow=True`` keeps polling a file that is being written and stops at its END chunk,
        after ``timeout`` seconds without new data (None: wait for the END chunk forever), or
        once :meth:`close` is called (from another thread: the way to end a follower early).
        """
        for _number, chunk in self._numbered_chunks(start, follow=follow, timeout=timeout, poll_interval=poll_interval):
            yield chunk

    def _numbered_chunks(self, start: int, *, follow: bool, timeout: float | None, poll_interval: float,
                         skip_kinds: Container[int] = ()) -> Iterator[tuple[int, Chunk]]:
        """(number, chunk) as :meth:`chunks` yields them; chunks of ``skip_kinds`` (by the
        index) are not read at all."""
        number = start
        while True:
            while number < len(self.index):
                with self._io_lock:  # close() from another thread waits for this read
                    if self._closing:
                        if follow:  # the way to end a follower
                            return
                        raise ValueError(f"{self.path}: the reader is closed")
                    try:
                        if skip_kinds and self._is_skippable(number, skip_kinds):
                            self._follow_cache.pop(number, None)  # a followed file's scan may have decoded it
                            number += 1
                            continue
                        chunk = self.read_chunk(number)
                    except LogFormatError as error:
                        self._damage(error)
                        return
                yield number, chunk
                number += 1
            if not follow or self.ended:
                return
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                with self._io_lock:
                    if self._closing:
                        return
                    added = self._scan(cache=True)
                if added or self.ended:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    return
                time.sleep(poll_interval)

    # -- positions -------------------------------------------------------------------------------
    def last_seq(self) -> int:
        """The last command seq in the index (0 when empty)."""
        rng = self.index.seq_range()
        return rng[1] if rng else 0

    def resolve(self, position: Position) -> int:
        """The seq of the first command at or after ``position`` (last seq + 1 past the end).

        Positions: an :class:`At`, text (``"2.5s"``, ``"#12"``, ``"@label"``, ``"@label#2"``,
        ``"seq:40"``), an int (ns) or a float (s). :class:`BadArgumentError` (a ``ValueError``) for an unknown marker (or
        fewer markers of the label than asked for).
        """
        at = parse_at(position)
        past_end = self.last_seq() + 1
        if at.kind == "seq":
            return int(at.value)
        if at.kind == "marker":
            return self.find_marker(at).seq
        if at.kind == "time":
            number = self.index.chunk_for_time(int(at.value))
            if number is None:
                return past_end
            found_cmds = self._chunk_commands(self._read_chunk_ahead(number)) or []
            return next((c.seq for c in found_cmds if c.t_ns >= int(at.value)), past_end)
        found = self.index.chunk_for_frame(int(at.value))
        if found is None:
            return past_end
        number, seen = found
        for cmd in self._chunk_commands(self._read_chunk_ahead(number)) or []:
            if cmd.op == RENDER_OP:
                seen += 1
                if seen == int(at.value):
                    return cmd.seq
        return past_end

    def find_marker(self, position: Position) -> Marker:
        """The marker a position names: ``@label`` the first with that label (with a
        :class:`sessions.position.RepeatedMarkerWarning` naming how many there are when it
        repeats), ``@label#N`` the N-th, counted from the session's start; a log with no marker
        ``label`` whose labels end in ``#N`` themselves is read as before (``@epoch#3`` names the
        marker labelled ``epoch#3``). :class:`BadArgumentError` (a ``ValueError``) naming the markers there
        are otherwise."""
        at = parse_at(position)
        label = str(at.value)
        same = [m for m in self.index.markers if m.label == label]
        literal = literal_label(at)
        if not same and literal is not None:
            same, at = [m for m in self.index.markers if m.label == literal], At.marker(literal)
        if not same:
            labels = list(dict.fromkeys(m.label for m in self.index.markers))
            raise BadArgumentError(f"{self.path}: no marker {label!r} (markers: {labels})")
        if at.occurrence is not None and at.occurrence > len(same):
            raise BadArgumentError(f"{self.path}: no marker {at}: {_marker_list(at.value, same)}")
        if at.occurrence is None and len(same) > 1:
            warnings.warn(RepeatedMarkerWarning(
                f"{self.path}: {_marker_list(at.value, same)}: @{label} is the first; @{label}#2 names the second, "
                "and so on"), stacklevel=3)
        return same[(at.occurrence or 1) - 1]

    def stop_seq(self, stop: Position) -> int:
        """The first seq *not* taken by a range that ends at ``stop``: the command at ``stop``,
        or, for a frame, the command after its render (a frame ends with its render)."""
        at = parse_at(stop)
        return self.resolve(at) + (at.kind == "frame")

    def check_range(self, start: Position, stop: Position) -> None:
        """:class:`BadArgumentError` (a ``ValueError``) naming both positions when ``stop`` comes before ``start`` (a range cut
        backwards would otherwise quietly hold nothing, or only the state at ``start``)."""
        start_at, stop_at = parse_at(start), parse_at(stop)
        backwards = ends_before_start(start_at, stop_at)
        detail = ""
        if backwards is None:  # markers or different kinds: compare where they fall in the log
            first, end = self.resolve(start_at), self.stop_seq(stop_at)
            backwards = end < first
            detail = f" (seq {end - (stop_at.kind == 'frame')} < {first})"
        if backwards:
            error = backwards_range(start_at, stop_at, detail)
            raise BadArgumentError(f"{self.path}: {error}")

    def _seq_so_far(self, at: At) -> int | None:
        """:meth:`resolve` in the chunks read so far; None where they do not reach ``at`` yet (a
        log still being written may bring it: a later time or frame, a marker not recorded yet)."""
        if at.kind == "seq":
            return int(at.value)
        try:
            seq = self.resolve(at)
        except BadArgumentError:
            if at.kind == "marker":
                return None
            raise
        return None if seq > self.last_seq() else seq

    def _stop_so_far(self, at: At) -> int | None:
        """:meth:`stop_seq` in the chunks read so far, None as :meth:`_seq_so_far`."""
        seq = self._seq_so_far(at)
        return None if seq is None else seq + (at.kind == "frame")

    def _may_hold(self, at: At, number: int) -> bool:
        """Whether chunk ``number``, just read, may hold position ``at`` (cheap checks that spare a
        follower looking again at every chunk that cannot)."""
        entry = self.index.entries[number]
        if at.kind == "time":
            return entry.t_last >= int(at.value)
        if at.kind == "frame":
            return entry.frames > 0
        return True

    def _read_chunk_ahead(self, number: int) -> Chunk:
        """Chunk ``number``, kept for the replay that reads it next (at most two are kept)."""
        chunk = self.read_chunk(number)
        while len(self._read_ahead) >= 2:
            del self._read_ahead[next(iter(self._read_ahead))]
        self._read_ahead[number] = chunk
        return chunk

    def _writes_ahead(self, keyframe: int, target: int) -> dict[str, list[tuple[int, int]]]:
        """The ranges (offset, count) that the commands right after keyframe chunk ``keyframe``
        and before seq ``target`` write with ``Buffer.set_data``, by buffer UUID, as long as
        nothing comes between them but renders and markers (an animation's next frames): what
        the keyframe holds there is written over before the state at ``target``, and no command
        but a render before ``target`` (not drawn: a seek's catch-up) could use it. Only the
        next chunk is looked at; it is kept for the replay, which reads it next. Empty where it
        is not a COMMANDS chunk or does not decode (the replay meets that damage where it would
        have)."""
        number = keyframe + 1
        if number >= len(self.index) or self.index.entries[number].kind != ChunkKind.COMMANDS:
            return {}
        try:
            commands = self._read_chunk_ahead(number).commands(self.limits)
        except LogFormatError:
            return {}
        after = self.index.entries[keyframe].seq_last
        writes: dict[str, list[tuple[int, int]]] = {}
        for cmd in commands:
            if cmd.seq <= after:
                continue
            if cmd.seq >= target:
                break
            if cmd.op in _CATCH_UP_ONLY:
                continue
            written = _written_range(cmd)
            if written is None:
                break
            writes.setdefault(cmd.target, []).append(written)
        return writes

    def seek(self, position: Position) -> tuple[int | None, int]:
        """(keyframe chunk number or None, target seq): where replay to ``position`` starts."""
        target = self.resolve(position)
        return self.index.keyframe_before_seq(target), target

    def commands(self, start: Position | None = None, stop: Position | None = None, *,
                 follow: bool = False, timeout: float | None = FOLLOW_TIMEOUT_S,
                 poll_interval: float = 0.02) -> Iterator[Command]:
        """Commands in order, keyframes skipped.

        With ``start``, iteration begins with the commands of the last keyframe before it (the
        whole scene, one ``Scene.keyframe`` command first), then every later command: the
        commands before ``start`` that follow the keyframe are included so the state is
        complete at ``start`` (compare seqs with :meth:`resolve` to tell them apart). A
        keyframe's ``Buffer.set_data`` that those catch-up commands write over, with nothing but
        renders and markers before the write (an animation's next frames), is left out: the
        state at ``start`` is the same, and a seek then does not read (for a linked keyframe)
        the chunk holding that data. The renders before ``start`` see that buffer as its
        ``Buffer.new`` left it: they are catch-up, not frames to draw. A log
        that opens with a keyframe (cut by ``gsp trim``) yields it first also without ``start``
        and for a ``start`` before its first command: every command there starts from it.
        A keyframe's commands follow its ``Scene.keyframe`` and share its seq.
        ``stop`` excludes the command at ``stop`` and everything after, except that a frame
        ends with its render: ``stop="#10"`` keeps frame 10's ``Renderer.render`` (as
        ``gsp-replay --to '#10'`` draws frame 10) and stops before the commands of frame 11.
        A ``stop`` before ``start`` raises ``ValueError`` (:meth:`check_range`).
        ``follow=True`` on a log still being written: a position past what the file holds yet
        (a later time or frame, a marker not recorded yet) is looked for in the chunks as they
        come: ``stop`` ends the commands there, not at the end the file had when iteration began.
        """
        after_seq: int | None = None
        first = 0
        growing = follow and not self.ended
        start_at = None if start is None else parse_at(start)
        stop_at = None if stop is None else parse_at(stop)
        if start_at is not None and stop_at is not None:
            if growing and (self._seq_so_far(start_at) is None or self._seq_so_far(stop_at) is None):
                if ends_before_start(start_at, stop_at):  # what can be told before both are in the file
                    raise BadArgumentError(f"{self.path}: {backwards_range(start_at, stop_at)}")
            else:
                self.check_range(start_at, stop_at)
        keyframe, target = None, None
        if start_at is not None:
            target = self._seq_so_far(start_at) if growing else self.resolve(start_at)
            # A start the file does not hold yet: from the last keyframe, so its state is whole there.
            keyframe = self.index.keyframe_before_seq(self.last_seq() + 1 if target is None else target)
        if keyframe is None and self.index.keyframes[:1] == [0]:
            # A log cut by trim opens with a keyframe: the state its first command starts from,
            # from the start as from any position before its first command.
            keyframe = 0
        if keyframe is not None:
            try:
                keyframe_commands = self._keyframe_commands(
                    keyframe, {} if target is None else self._writes_ahead(keyframe, target))
            except LogFormatError as error:  # a damaged keyframe: replay from the start
                self._damage(error)
            else:
                yield from keyframe_commands
                # The whole scene's contents, decoded: a big one must not stay for the whole replay.
                del keyframe_commands
                after_seq = self.index.entries[keyframe].seq_last
                first = keyframe + 1
        stop_seq = None
        if stop_at is not None:
            stop_seq = self._stop_so_far(stop_at) if growing else self.stop_seq(stop_at)
        pending_stop = stop_at if stop_seq is None else None  # a stop in chunks not written yet
        # Keyframes after the first are never yielded: not read either (a 1 GB log has hundreds).
        for number, chunk in self._numbered_chunks(first, follow=follow, timeout=timeout, poll_interval=poll_interval,
                                                   skip_kinds=KEYFRAME_KINDS):
            if chunk.info.kind != ChunkKind.COMMANDS:
                if chunk.info.kind != ChunkKind.END:
                    chunk.commands()  # warns about the unknown kind
                continue
            if pending_stop is not None and self._may_hold(pending_stop, number):
                stop_seq = self._stop_so_far(pending_stop)  # the index holds this chunk now
                pending_stop = None if stop_seq is not None else pending_stop
            if after_seq is not None and chunk.info.seq_last <= after_seq:
                continue
            commands = self._chunk_commands(chunk)
            if commands is None:
                return
            for cmd in commands:
                if after_seq is not None and cmd.seq <= after_seq:
                    continue
                if stop_seq is not None and cmd.seq >= stop_seq:
                    return
                yield cmd


def _marker_list(label: str | int, markers: list[Marker], shown: int = 3) -> str:
    """``'half' labels 2 markers (seq 62 at 0.375 s, seq 153 at 0.764 s)``."""
    listed = ", ".join(f"seq {m.seq} at {m.t_ns / 1e9:.3f} s" for m in markers[:shown])
    more = ", ..." if len(markers) > shown else ""
    count = f"{len(markers)} markers" if len(markers) > 1 else "1 marker"
    return f"{str(label)!r} labels {count} ({listed}{more})"


def find_next_chunk(reader_file: Any, start: int, size: int, block: int = 1 << 20) -> int | None:
    """Offset of the next chunk magic at or after ``start`` (for resynchronising past damage)."""
    pos = start
    while pos < size:
        reader_file.seek(pos)
        data = reader_file.read(block + len(CHUNK_MAGIC) - 1)
        hit = data.find(CHUNK_MAGIC)
        if hit >= 0:
            return pos + hit
        pos += block
    return None


#: Commands a keyframe's catch-up may hold before a write that :meth:`LogReader._writes_ahead`
#: counts: they read no buffer's contents into the state (a render is recorded, not drawn).
_CATCH_UP_ONLY = frozenset({RENDER_OP, MARK_OP})


def _written_range(cmd: Command) -> tuple[int, int] | None:
    """(offset, count) that ``cmd`` writes when it is a plain ``Buffer.set_data(data, offset,
    count)``; None for any other command."""
    if cmd.op != "Buffer.set_data" or cmd.kwargs or len(cmd.args) != 3:
        return None
    offset, count = cmd.args[1], cmd.args[2]
    if type(offset) is not int or type(count) is not int or offset < 0 or count <= 0:
        return None
    return offset, count


def _covered(cmd: Command, writes: dict[str, list[tuple[int, int]]]) -> bool:
    """Whether ``cmd`` is a ``Buffer.set_data`` whose range one of ``writes`` to its buffer covers."""
    ranges = writes.get(cmd.target)
    written = _written_range(cmd) if ranges else None
    if ranges is None or written is None:
        return False
    offset, count = written
    return any(o <= offset and o + c >= offset + count for o, c in ranges)
