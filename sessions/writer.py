"""LogWriter: batches commands into chunks, writes keyframes, feeds the file and other sinks.

Single-threaded and synchronous: the recorder owns the thread that calls it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Literal

import numpy as np

from sessions.chunk import (
    ChunkKind,
    Part,
    encode_chunk_parts,
    encode_chunk_rows,
    encode_end_chunk,
    peek_chunk_header,
)
from sessions.codec import Row, encode_rows
from sessions.command import Command, LogRef
from sessions.errors import LogWriteError
from sessions.fileformat import decode_header, default_metadata, encode_header
from sessions.index import MARK_OP, RENDER_OP
from sessions.ledger import LINK_MIN_BYTES, SceneLedger
from sessions.limits import DEFAULT_LIMITS, Limits, size_text
from sessions.pieces import MIN_PIECE_BYTES, PIECE_BYTES, SET_DATA_OP, payload_bytes, split_write
from sessions.sinks import ChunkSink, FileSink

__all__ = ["LogWriter", "KEYFRAME_SPACING"]

#: A keyframe by bytes waits for this many times the scene's size (its buffers' latest contents,
#: or the last keyframe's size) of log since the previous one: keyframes stay near 1/9 of the log.
KEYFRAME_SPACING = 8


_SCALARS = frozenset({int, float, bool, type(None)})
#: (index of its first command in a keyframe, buffer, its pieces' (offset, count) or None: not cut).
_WholeWrite = tuple[int, str, list[tuple[int, int]] | None]
#: For reading back the header of a chunk this writer made: the size check is the writer's own.
_NO_LIMITS = Limits(max_chunk_bytes=1 << 62, max_commands_per_chunk=1 << 62)


def _summarize_rows(rows: list[Row]) -> tuple[int, list[tuple[str, int, int]]]:
    """(Renderer.render commands, markers as (label, seq, t_ns)) of command rows
    (``sessions.index.summarize_commands`` for rows)."""
    frames = 0
    markers: list[tuple[str, int, int]] = []
    for row in rows:
        op = row[2]
        if op == RENDER_OP:
            frames += 1
        elif op == MARK_OP:
            label = row[4][0] if row[4] else row[5].get("label", "")
            markers.append((str(label), row[0], row[1]))
    return frames, markers


def _estimate_bytes(value: Any, depth: int = 0) -> int:
    """A cheap upper-ish estimate of a value's encoded size (to cut chunks near max_chunk_bytes)."""
    kind = type(value)
    if kind is tuple or kind is list:  # the usual arguments: scalars (9 bytes each) and short bytes
        if depth >= 3:
            return 9
        total = 2
        scalars = _SCALARS
        for v in value:
            item_kind = type(v)
            if item_kind in scalars:
                total += 9
            elif item_kind is bytes or item_kind is str:
                total += len(v) + 5
            else:
                total += _estimate_bytes(v, depth + 1)
        return total
    if kind is dict and not value:
        return 2
    if isinstance(value, np.ndarray):
        return value.nbytes + 16
    if isinstance(value, (bytes, bytearray, memoryview, str)):
        return len(value) + 5
    if depth < 3 and isinstance(value, (list, tuple)):
        return 2 + sum(_estimate_bytes(v, depth + 1) for v in value)
    if depth < 3 and isinstance(value, dict):
        return 2 + sum(len(k) + _estimate_bytes(v, depth + 1) for k, v in value.items())
    return 9


class LogWriter:
    """Write a session log to a file and/or any number of :class:`ChunkSink`.

    - ``path``: the ``.gsplog`` to create (None: sinks only).
    - ``metadata``: extra header metadata, merged over the defaults (created, host, versions,
      protocol); put user data under ``"user"``.
    - ``flush_interval_s``: a pending chunk is written once its first command is this old
      (checked by :meth:`flush_if_due`); a killed process loses at most this interval.
    - ``max_chunk_bytes``: a chunk is cut when its estimated raw size reaches this.
    - ``keyframe_interval_s`` / ``keyframe_interval_bytes``: a KEYFRAME chunk (the whole scene as
      synthetic commands) is written after a flush once this much session time or this many
      bytes have passed since the last one (the byte interval grows to KEYFRAME_SPACING times
      what a keyframe costs, so keyframes stay a small share of the file: its own size for a
      linked keyframe written to the file alone, else the scene's). ``keyframes=False`` disables them.
    - ``shuffle``: byte-shuffle float arrays before lz4 ("auto": when a sample shows it pays).
    - ``background_writes``: the file's chunks are written by a thread of their own (see
      :mod:`sessions.background`), overlapping the encoding of the next ones; ``on_written`` is
      called on that thread after each. A chunk stored uncompressed references the commands'
      arrays themselves, so they must not change until :attr:`released_seq` has passed their
      command; :meth:`sync` waits for the writes.
    - :attr:`on_unencodable`: None (a command the codec refuses is left out, the chunk's other
      commands are written, then :class:`LogWriteError` names it), or ``f(seq, op, error, kept)``,
      called for each such command instead (the recorder's choice: one odd value, say a marker's
      ``{1: "x"}`` or ``2**70``, never ends a session). A command whose only fault is a string
      with lone surrogates (a file name's undecodable bytes) is kept, ``kept`` True, with each
      of them written as U+FFFD: leaving out a ``Texts.new`` would fail every later render
      that draws it. Any other is left out, ``kept`` False.

    - ``atomic``: the file takes ``path`` only once :meth:`close` has finished it (see
      :class:`FileSink`); after a failure, :meth:`discard` leaves ``path`` as it was.
    - ``piece_bytes``: a ``Buffer.set_data`` whose data is bigger is written as several partial
      writes of about this size, numbered ``cmd.seq``, ``cmd.seq + 1``, ... (:attr:`last_seq`
      tells the last; see :mod:`sessions.pieces`); keyframes hold big buffers in such pieces too.
    - ``limits``: what readers accept (``Limits.max_chunk_bytes``): no chunk bigger is written.
      A chunk of several commands over it is written as several chunks; a command that alone
      is over it is left out, as a value the codec refuses is (see ``on_unencodable``); a
      keyframe over it is not written (seeking replays from an earlier one), with a warning,
      and neither is a keyframe bigger than a sink's ``max_payload`` (a live publisher's
      message limit) for that sink.

    Write failures raise :class:`LogWriteError`; the file stays readable up to the last chunk.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        sinks: Iterable[ChunkSink] = (),
        metadata: dict[str, Any] | None = None,
        flush_interval_s: float = 0.1,
        max_chunk_bytes: int = 4 << 20,
        keyframe_interval_s: float = 5.0,
        keyframe_interval_bytes: int = 4 << 20,
        keyframes: bool = True,
        shuffle: bool | Literal["auto"] = "auto",
        compress: bool = True,
        background_writes: bool = False,
        on_written: Callable[[], Any] | None = None,
        header: bytes | None = None,
        atomic: bool = False,
        piece_bytes: int = PIECE_BYTES,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        if header is not None and metadata is not None:
            raise ValueError("LogWriter: give metadata or a header made by LogWriter.make_header, not both")
        if not MIN_PIECE_BYTES <= piece_bytes <= limits.max_chunk_bytes // 4:
            raise ValueError(f"LogWriter: piece_bytes must be from {size_text(MIN_PIECE_BYTES)} to a quarter of "
                             f"Limits.max_chunk_bytes ({size_text(limits.max_chunk_bytes // 4)}), got {piece_bytes}")
        self.header: bytes = header if header is not None else self.make_header(metadata)
        self.metadata: dict[str, Any] = decode_header(self.header).metadata
        self.file_sink: FileSink | None = (
            FileSink(path, header=self.header, background=background_writes, on_written=on_written, atomic=atomic)
            if path is not None else None
        )
        self.sinks: list[ChunkSink] = ([self.file_sink] if self.file_sink else []) + list(sinks)
        self.flush_interval_ns = int(flush_interval_s * 1e9)
        self.max_chunk_bytes = max_chunk_bytes
        self.keyframe_interval_ns = int(keyframe_interval_s * 1e9)
        self.keyframe_interval_bytes = keyframe_interval_bytes
        self.shuffle = shuffle
        self.compress = compress
        self.piece_bytes = piece_bytes
        self.limits = limits
        self._in_pieces = False  # appending the pieces of one write: no keyframe between them
        self._warned: set[str] = set()  # keyframes left out: warned once for the file, once per sink
        self._too_big_for: dict[int, int] = {}  # id(sink) -> smallest estimated keyframe over its max_payload
        self.last_seq = 0
        self.last_t_ns = 0
        self._started = False  # a command was appended or seeded: the next must come after it
        self.chunks_written = 0
        self.bytes_written = 0
        self._released_seq = 0
        self._unreleased: deque[tuple[int, int]] = deque()  # (file chunks handed, last seq) per chunk
        self._keyframe_loans: deque[tuple[int, list[Any]]] = deque()  # (file chunks handed, loans)
        self.closed = False
        self._pending: list[Row] = []  # commands as (seq, t_ns, op, target, args, kwargs)
        self._pending_bytes = 0
        self._pending_since: int | None = None
        self._ledger: SceneLedger | None = SceneLedger() if keyframes else None
        self._bytes_since_keyframe = 0
        self._last_keyframe_t = 0
        self._last_keyframe_size = 0
        self._last_keyframe_linked = False
        self.on_unencodable: Callable[[int, str, Exception, bool], Any] | None = None

    @staticmethod
    def make_header(metadata: dict[str, Any] | None = None) -> bytes:
        """The file header a LogWriter given ``metadata`` writes (the defaults merged under it).
        Made beforehand and passed as ``header``, it lets a publisher bind (and fail) before
        the file is created: an existing log at the path is not lost to a recording that never
        started."""
        return encode_header({**default_metadata(), **(metadata or {})})

    # -- scene state for keyframes ---------------------------------------------------------------
    @property
    def _keyframes(self) -> bool:
        return self._ledger is not None and self._ledger.failed is None

    def holds(self, payload: Any) -> bool:
        """Whether the keyframe ledger still references ``payload`` (recycled copies must wait)."""
        return self._ledger is not None and self._ledger.holds(payload)

    # -- appending -------------------------------------------------------------------------------
    def append(self, cmd: Command, nbytes: int | None = None) -> None:
        """Add one command (seq must increase); a full chunk is written at once.

        ``nbytes``: the size of the command's binary payloads when the caller knows it (the
        recorder does: it copied them); otherwise the arguments are walked to estimate it.
        """
        if self.closed:
            raise LogWriteError("append() on a closed LogWriter")
        if type(cmd) is not Command and not isinstance(cmd, Command):
            raise TypeError(f"LogWriter.append expects a Command, got {type(cmd).__name__}")
        self._check_order(cmd.seq, cmd.t_ns, "append")
        if nbytes is None:
            nbytes = _estimate_bytes(cmd.args) + _estimate_bytes(cmd.kwargs)
        row = (cmd.seq, cmd.t_ns, cmd.op, cmd.target, cmd.args, cmd.kwargs)
        if cmd.op == SET_DATA_OP:  # whatever nbytes says: data the caller did not count, immutable bytes
            pieces = split_write(cmd.args, cmd.kwargs, self.piece_bytes)
            if pieces is not None:
                self._append_pieces(row, pieces)
                return
        pending = self._pending
        if not pending:
            self._pending_since = time.monotonic_ns()
        pending.append(row)
        self._pending_bytes += 48 + nbytes
        self.last_seq = cmd.seq
        self.last_t_ns = cmd.t_ns
        if self._ledger is not None:
            self._ledger.append_row(row)
        if self._pending_bytes >= self.max_chunk_bytes:
            self.flush()

    def _append_pieces(self, row: Row, pieces: list[tuple[Any, int, int]]) -> None:
        """Write one big ``Buffer.set_data`` as its pieces, seq ``row[0]`` on, each in the chunk
        it fills (no keyframe between two of them); the keyframe ledger notes it as one write
        and where its pieces are, so that linked keyframes point at each piece."""
        seq, t_ns, op, target = row[:4]
        self._in_pieces = True
        try:
            for i, args in enumerate(pieces):
                self._append_unnoted((seq + i, t_ns, op, target, args, {}), args[0].nbytes)
        finally:
            self._in_pieces = False
        if self._ledger is not None:
            self._ledger.append_row(row)
            self._ledger.note_pieces(target, seq, [(offset, count) for _, offset, count in pieces])

    def _append_unnoted(self, row: Row, nbytes: int) -> None:
        """Add one row to the pending chunk (not to the keyframe ledger), writing it once full."""
        if not self._pending:
            self._pending_since = time.monotonic_ns()
        self._pending.append(row)
        self._pending_bytes += 48 + nbytes
        self.last_seq = row[0]
        self.last_t_ns = row[1]
        if self._pending_bytes >= self.max_chunk_bytes:
            self.flush()

    def append_rows(self, rows: list[Row], nbytes: int = 0) -> None:
        """Add commands given as ``(seq, t_ns, op, target, args, kwargs)`` tuples, seq increasing
        (the recorder's hot path: no Command objects). ``nbytes``: their payload bytes in all."""
        if self.closed:
            raise LogWriteError("append_rows() on a closed LogWriter")
        if not rows:
            return
        self._check_order(rows[0][0], rows[0][1], "append_rows")  # the rows' own order is the caller's
        pending = self._pending
        if not pending:
            self._pending_since = time.monotonic_ns()
        pending.extend(rows)
        self._pending_bytes += 48 * len(rows) + nbytes
        last = rows[-1]
        self.last_seq = last[0]
        self.last_t_ns = last[1]
        if self._ledger is not None:
            self._ledger.append_rows(rows)
        if self._pending_bytes >= self.max_chunk_bytes:
            self.flush()

    def _check_order(self, seq: int, t_ns: int, where: str) -> None:
        """A command must come after the last one: seq greater, time not earlier (the index and
        every seek rely on it)."""
        if self._started and (seq <= self.last_seq or t_ns < self.last_t_ns):
            raise ValueError(f"LogWriter.{where}: command seq={seq} t_ns={t_ns} comes after seq={self.last_seq} "
                             f"t_ns={self.last_t_ns}: seq must increase and time must not go back")
        self._started = True

    def append_many(self, commands: Iterable[Command]) -> None:
        """Append several commands."""
        for cmd in commands:
            self.append(cmd)

    def mark(self, label: str, *, seq: int | None = None, t_ns: int | None = None) -> Command:
        """Append a ``Recorder.mark`` command (indexed as a marker); seq/time default to last + 1/last."""
        cmd = Command(self.last_seq + 1 if seq is None else seq, self.last_t_ns if t_ns is None else t_ns,
                      MARK_OP, "", (str(label),))
        self.append(cmd)
        return cmd

    # -- flushing --------------------------------------------------------------------------------
    def flush_if_due(self, now_ns: int | None = None) -> bool:
        """Write the pending chunk if its first command waited ``flush_interval_s``.

        ``now_ns`` is a ``time.monotonic_ns()`` reading (default: now). Returns True if written.
        """
        if not self._pending or self._pending_since is None:
            return False
        now = time.monotonic_ns() if now_ns is None else now_ns
        if now - self._pending_since < self.flush_interval_ns:
            return False
        self.flush()
        return True

    def flush(self) -> None:
        """Write the pending commands as one chunk (and a keyframe if one is due)."""
        if not self._pending:
            return
        # Keyframes' loans go back here too, not only when someone reads released_seq (a
        # recorder whose payloads are all small never does): each kept a copy of the scene.
        self._release_keyframe_loans(self._file_chunks_done())
        rows, self._pending = self._pending, []
        self._pending_bytes = 0
        self._pending_since = None
        refused: list[str] = []
        self._write_rows(rows, refused)
        if self._keyframe_due():
            self.write_keyframe()
        if refused:
            raise LogWriteError(f"{'; '.join(refused)} (the chunk's other commands were written)")

    def _write_rows(self, rows: list[Row], refused: list[str]) -> None:
        """Write ``rows`` as one COMMANDS chunk, or as several when one would be bigger than
        readers accept; a row over that alone is left out (see ``on_unencodable``)."""
        parts: list[Part] | None
        try:
            parts = encode_chunk_rows(rows, ChunkKind.COMMANDS, shuffle=self.shuffle, compress=self.compress)
        except TypeError:
            # One bad value costs its own command only: the chunk's others are written.
            rows = self._encodable(rows, refused)
            parts = encode_chunk_rows(rows, ChunkKind.COMMANDS, shuffle=self.shuffle, compress=self.compress) if rows else None
        if parts is None:
            return
        if not self._fits(parts):
            del parts  # the encoded copy of the rows' values may be big: gone before the halves
            if len(rows) > 1:
                half = len(rows) // 2
                self._write_rows(rows[:half], refused)
                self._write_rows(rows[half:], refused)
            else:
                self._refuse_too_big(rows[0], refused)
            return
        frames, markers = _summarize_rows(rows)
        size = self._emit(parts, frames, tuple(markers))
        self._unreleased.append((self._file_chunks_handed(), rows[-1][0]))
        self._bytes_since_keyframe += size

    def _fits(self, parts: list[Part]) -> bool:
        """Whether the chunk ``parts`` makes is within the readers' limits."""
        info = peek_chunk_header(parts[0], limits=_NO_LIMITS)
        return (max(info.raw_size, info.stored_size) <= self.limits.max_chunk_bytes
                and info.count <= self.limits.max_commands_per_chunk)

    def _refuse_too_big(self, row: Row, refused: list[str]) -> None:
        reason = ValueError(f"its chunk would be bigger than the {size_text(self.limits.max_chunk_bytes)} readers accept "
                            f"(Limits.max_chunk_bytes); only a Buffer.set_data that big is written in pieces")
        if self.on_unencodable is not None:
            self.on_unencodable(row[0], row[2], reason, False)
        else:
            refused.append(f"cannot write command seq={row[0]} op={row[2]}: {reason}")

    def _encodable(self, rows: list[Row], refused: list[str]) -> list[Row]:
        """The rows the codec accepts one by one. With ``on_unencodable``, lone surrogates are
        replaced where that is all a row needs, and it hears of each row changed or left out;
        without, each row left out is described in ``refused``."""
        return [kept for row in rows if (kept := self._encodes_alone(row, refused)) is not None]

    def _encodes_alone(self, row: Row, refused: list[str]) -> Row | None:
        try:
            encode_rows([row])
            return row
        except TypeError as error:  # the codec's own reason (the error wraps it with the seqs)
            cause = error.__cause__
            reason = cause if isinstance(cause, Exception) else error
        if self.on_unencodable is None:
            refused.append(f"cannot encode command seq={row[0]} op={row[2]}: {reason}")
            return None
        mended = (*row[:4], without_lone_surrogates(row[4]), without_lone_surrogates(row[5]))
        try:
            encode_rows([mended])
        except TypeError:
            self.on_unencodable(row[0], row[2], reason, False)
            return None
        self.on_unencodable(row[0], row[2], reason, True)
        return mended

    @property
    def released_seq(self) -> int:
        """Seq of the last command whose chunk every sink is done with: payloads of commands up
        to it are referenced by no chunk any more (the keyframe ledger aside, see :meth:`holds`)."""
        done = self._file_chunks_done()
        unreleased = self._unreleased
        while unreleased and unreleased[0][0] <= done:
            self._released_seq = unreleased.popleft()[1]
        self._release_keyframe_loans(done)
        return self._released_seq

    def _file_chunks_done(self) -> int:
        return self.file_sink.chunks_done if self.file_sink is not None else 0

    def _release_keyframe_loans(self, file_chunks_done: float) -> None:
        """Give back the scene-state contents of keyframes the file has (all: ``math.inf``)."""
        keyframe_loans = self._keyframe_loans
        while keyframe_loans and keyframe_loans[0][0] <= file_chunks_done:
            for loan in keyframe_loans.popleft()[1]:
                loan.release()

    def _file_chunks_handed(self) -> int:
        return self.file_sink.chunks_handed if self.file_sink is not None else 0

    def sync(self) -> None:
        """Wait until every chunk written so far is in the file (see ``background_writes``)."""
        if self.file_sink is not None:
            self.file_sink.sync()

    def _keyframe_due(self) -> bool:
        if not self._keyframes or self._in_pieces:
            return False
        assert self._ledger is not None
        # Spaced by what a keyframe costs: a linked one written to the file alone costs its own
        # few bytes (its contents are the file's own), any other the scene's contents.
        if self._last_keyframe_linked and len(self.sinks) == 1:
            cost = self._last_keyframe_size
        else:
            cost = max(self._last_keyframe_size, self._ledger.scene_bytes)
        by_bytes = max(self.keyframe_interval_bytes, KEYFRAME_SPACING * cost)
        return (self.last_t_ns - self._last_keyframe_t >= self.keyframe_interval_ns
                or self._bytes_since_keyframe >= by_bytes)

    def _emit(self, parts: list[Part], frames: int = 0, markers: tuple[tuple[str, int, int], ...] = (), *,
              only_file: bool | None = None, count: bool = True, sinks: list[ChunkSink] | None = None) -> int:
        """Hand one chunk (header first, then payload parts) to every sink; returns its size.

        Sinks with ``write_parts`` (the file) get the parts as they are, written with one
        ``os.writev``; the others get the chunk joined once into bytes. ``only_file``: True for
        the file sink alone, False for every other sink. ``sinks``: these sinks only.
        ``count``: add it to the statistics (not for a second form of the same chunk).
        """
        info = dataclasses.replace(peek_chunk_header(parts[0], limits=self.limits), frames=frames, markers=markers)
        joined: bytes | None = None
        failure: Exception | None = None
        for sink in self.sinks if sinks is None else sinks:
            if only_file is not None and (sink is self.file_sink) != only_file:
                continue
            try:
                write_parts = getattr(sink, "write_parts", None)
                if write_parts is not None:
                    write_parts(parts, info)
                else:
                    if joined is None:
                        joined = b"".join(parts)
                    sink.write_chunk(joined, info)
            except Exception as error:  # one failing sink must not starve the others
                failure = failure or error
        if count:
            self.chunks_written += 1
            self.bytes_written += info.size
        if failure is not None:
            if isinstance(failure, LogWriteError):
                raise failure
            raise LogWriteError(f"a sink failed to take chunk {self.chunks_written - 1}: {failure}") from failure
        return info.size

    def seed(self, commands: Iterable[Command]) -> None:
        """Start from a known state: apply ``commands`` (e.g. a snapshot) to the writer's scene
        state without writing them, then write that state as a keyframe.

        Used by ``trim`` so that a cut-out log opens with the state at its start. The last
        command's seq/time become the writer's current ones. A state too big for one keyframe
        chunk (see ``limits``) opens with a keyframe of what fits, the rest following as plain
        commands numbered on from there (the buffers' contents in pieces): :attr:`last_seq`
        then tells the last of them.
        """
        ledger = self._ledger
        if ledger is None or ledger.materialise() is None:
            raise LogWriteError(f"seed() needs keyframes ({ledger.failed if ledger else 'keyframes=False'})")
        for cmd in commands:
            ledger.append(cmd)
            self.last_seq, self.last_t_ns = cmd.seq, cmd.t_ns
            self._started = True
        ledger.whole_writes.clear()  # those commands are not in this file: nothing to point at
        state = ledger.materialise()
        if state is None:
            raise LogWriteError(f"seed(): the state cannot be rebuilt ({ledger.failed})")
        loans: list[Any] = []
        try:
            pieced, whole = self._pieced(state.snapshot(self.last_seq, self.last_t_ns, loans=loans))
            head, tail = _split_keyframe(pieced, self.limits.max_chunk_bytes * 3 // 4)
            parts = self._keyframe_parts(head, ChunkKind.KEYFRAME)
            if not self._fits(parts):  # records alone that big: nothing a reader would take
                raise LogWriteError(f"seed(): the keyframe's records take {size_text(sum(len(p) for p in parts))}, "
                                    f"over the {size_text(self.limits.max_chunk_bytes)} a chunk may hold")
            size = self._emit(parts)
            if tail:
                self._append_tail(pieced, tail, whole)
        finally:  # the chunks' parts may reference the lent contents until the file has them
            self._keyframe_loans.append((self._file_chunks_handed(), loans))
        self._bytes_since_keyframe = 0
        self._last_keyframe_t = self.last_t_ns
        self._last_keyframe_size = size
        self._last_keyframe_linked = False

    def _append_tail(self, pieced: list[Command], tail: list[int], whole: list[_WholeWrite]) -> None:
        """Write the commands of a seeded state (``pieced[i]`` for each ``i`` of ``tail``) that its
        keyframe could not hold, one seq each after it (in the writer's state already: not noted
        again), and note each buffer written whole there, so that later keyframes point at it."""
        seqs = {index: self.last_seq + 1 + n for n, index in enumerate(tail)}
        self._in_pieces = True
        try:
            for index in tail:
                cmd = pieced[index]
                self._append_unnoted((seqs[index], self.last_t_ns, cmd.op, cmd.target, cmd.args, cmd.kwargs),
                                     int(_estimate_bytes(cmd.args)))
            self.flush()  # before the loans can go back
        finally:
            self._in_pieces = False
        assert self._ledger is not None
        for index, target, ranges in whole:
            if index in seqs:
                self._ledger.whole_writes[target] = seqs[index]
                if ranges is not None:
                    self._ledger.note_pieces(target, seqs[index], ranges)

    # -- keyframes -------------------------------------------------------------------------------
    def snapshot_chunk(self) -> tuple[bytes, int] | None:
        """(KEYFRAME chunk bytes of the current state, its seq), without writing it.

        Covers every appended command, pending ones included. None when keyframes are off.
        """
        state = self._ledger.materialise() if self._ledger is not None else None
        if state is None:
            return None
        loans: list[Any] = []
        try:
            return b"".join(self._snapshot_parts(state, loans)), self.last_seq
        finally:  # joined: the chunk holds its own bytes now
            for loan in loans:
                loan.release()

    def _snapshot_parts(self, state: Any, loans: list[Any]) -> list[Part]:
        # Buffer contents are lent by the scene state (no copy); ``loans`` receives the loans.
        commands = self._pieced(state.snapshot(self.last_seq, self.last_t_ns, loans=loans))[0]
        return self._keyframe_parts(commands, ChunkKind.KEYFRAME)

    def _keyframe_parts(self, commands: list[Command], kind: int) -> list[Part]:
        def encode(chosen: list[Command]) -> list[Part]:
            return encode_chunk_parts(chosen, kind, seq_range=(self.last_seq, self.last_seq),
                                      time_range=(self.last_t_ns, self.last_t_ns), shuffle=self.shuffle,
                                      compress=self.compress)

        try:
            return encode(commands)
        except TypeError:
            # The scene holds a value the codec refused when its command came (and said so
            # then): the keyframe mends or leaves it out as that command was, or every keyframe
            # would fail.
            rows = [(c.seq, c.t_ns, c.op, c.target, c.args, c.kwargs) for c in commands]
            return encode([Command(*row) for row in self._encodable(rows, [])])

    def _pieced(self, commands: list[Command]) -> tuple[list[Command], list[_WholeWrite]]:
        """``commands`` with each ``Buffer.set_data`` bigger than ``piece_bytes`` in pieces (views
        of its data, as :meth:`append` writes one); and, for each whole write a keyframe could
        point at (``LINK_MIN_BYTES`` or more), (index of its first command, buffer, the pieces'
        (offset, count), or None when it is not cut)."""
        out: list[Command] = []
        whole: list[_WholeWrite] = []
        for cmd in commands:
            if cmd.op != SET_DATA_OP:
                out.append(cmd)
                continue
            pieces = split_write(cmd.args, cmd.kwargs, self.piece_bytes)
            if pieces is None:
                if len(cmd.args) == 3 and cmd.args[1] == 0 and payload_bytes(cmd.args[0]) >= LINK_MIN_BYTES:
                    whole.append((len(out), cmd.target, None))
                out.append(cmd)
                continue
            if pieces[0][1] == 0:
                whole.append((len(out), cmd.target, [(offset, count) for _, offset, count in pieces]))
            out.extend(Command(cmd.seq, cmd.t_ns, cmd.op, cmd.target, args) for args in pieces)
        return out, whole

    def _linked(self, commands: list[Command]) -> tuple[list[Command], set[str]]:
        """The keyframe for the file: each big buffer's contents replaced by a LogRef to the
        whole write, already in the file, that still holds them (one per piece of a write the
        file holds in pieces); and the buffers so linked."""
        assert self._ledger is not None
        whole_writes = self._ledger.whole_writes
        linked: list[Command] = []
        targets = set()
        for cmd in commands:
            seq = whole_writes.get(cmd.target) if cmd.op == SET_DATA_OP else None
            if seq is not None and len(cmd.args) == 3 and cmd.args[1] == 0:
                pieces = self._ledger.pieces_of(cmd.target, seq)
                if pieces is None:
                    linked.append(Command(cmd.seq, cmd.t_ns, cmd.op, cmd.target, (LogRef(seq), *cmd.args[1:]), cmd.kwargs))
                else:
                    linked.extend(Command(cmd.seq, cmd.t_ns, cmd.op, cmd.target, (LogRef(seq + i), offset, count))
                                  for i, (offset, count) in enumerate(pieces))
                targets.add(cmd.target)
            else:
                linked.append(cmd)
        return linked, targets

    def write_keyframe(self) -> bool:
        """Flush, then write a KEYFRAME chunk of the current state now. False when keyframes are
        off, or when the keyframe was not written (over ``limits``, with a warning).

        The file gets a LINKED_KEYFRAME when buffers' contents are those of whole writes it
        already holds (it points at them instead of storing them again; with the file as the
        only sink, the scene state does not even copy those contents); other sinks (live
        streams) always get a self-contained KEYFRAME.
        """
        if self._pending:
            self.flush()
        ledger = self._ledger
        file_only = self.file_sink is not None and len(self.sinks) == 1
        state = ledger.materialise(defer_linked=file_only) if ledger is not None else None
        if state is None:
            return False
        assert ledger is not None
        loans: list[Any] = []
        try:
            # A deferred write's buffer may still read as never written here: it keeps its set_data.
            commands = state.snapshot(self.last_seq, self.last_t_ns, loans=loans, stale=ledger.deferred)
            linked, targets = self._linked(commands) if self.file_sink is not None else (commands, set())
            if not ledger.deferred <= targets:  # never expected: store the contents after all
                for loan in loans:
                    loan.release()
                loans.clear()
                state = ledger.materialise()
                commands = state.snapshot(self.last_seq, self.last_t_ns, loans=loans)
                linked, targets = self._linked(commands)
            if not targets:
                size = self._emit_keyframe(self._pieced(commands)[0], ChunkKind.KEYFRAME, list(self.sinks))
            else:
                size = self._emit_keyframe(self._pieced(linked)[0], ChunkKind.LINKED_KEYFRAME, [self.file_sink])
                others = [sink for sink in self.sinks if sink is not self.file_sink]
                if others:
                    self._emit_keyframe(self._pieced(commands)[0], ChunkKind.KEYFRAME, others, count=False)
        finally:  # the chunk's parts may reference the lent contents until the file has them
            self._keyframe_loans.append((self._file_chunks_handed(), loans))
        self._bytes_since_keyframe = 0
        self._last_keyframe_t = self.last_t_ns
        self._last_keyframe_size = size
        self._last_keyframe_linked = bool(targets)
        return bool(size)

    def _emit_keyframe(self, commands: list[Command], kind: int, sinks: list[Any], *, count: bool = True) -> int:
        """Write a keyframe to those of ``sinks`` that can take it: not at all when it is over
        ``limits`` (readers would refuse it), not to a sink whose ``max_payload`` it is over (a
        live publisher's message limit), each with a warning. Its size, or 0 when not written;
        the size is estimated before it is encoded, so that a keyframe too big costs no encoding."""
        estimate = sum(_estimate_bytes(c.args) + _estimate_bytes(c.kwargs) + 48 for c in commands)
        if estimate > self.limits.max_chunk_bytes:  # the raw size, which readers bound too
            self._skip_keyframe(estimate, None)
            return 0
        # A sink's max_payload bounds the compressed chunk, known once encoded; a scene at least
        # as big as one that was over it for that sink is not encoded for it again.
        takers = [sink for sink in sinks if estimate < self._too_big_for.get(id(sink), estimate + 1)]
        if not takers:
            return 0
        parts = self._keyframe_parts(commands, kind)
        size = sum(len(part) for part in parts)
        if not self._fits(parts):
            self._skip_keyframe(size, None)
            return 0
        takers = [sink for sink in takers if not self._over_payload(sink, size, estimate)]
        if not takers:
            return 0
        self._emit(parts, sinks=takers, count=count)
        return size if any(sink is self.file_sink for sink in takers) or self.file_sink is None else 0

    def _over_payload(self, sink: Any, size: int, estimate: int) -> bool:
        """Whether a keyframe of ``size`` bytes is over ``sink``'s ``max_payload`` (warned)."""
        limit = getattr(sink, "max_payload", None)
        if not isinstance(limit, int) or size <= limit:
            return False
        self._too_big_for[id(sink)] = min(estimate, self._too_big_for.get(id(sink), estimate))
        self._skip_keyframe(size, sink)
        return True

    def _skip_keyframe(self, size: int, sink: Any) -> None:
        """Warn, once per log and per sink, that a keyframe was left out."""
        key = "file" if sink is None else f"sink {id(sink)}"
        if key in self._warned:
            return
        self._warned.add(key)
        if sink is None:
            what = (f"written: it would take {size_text(size)}, over the {size_text(self.limits.max_chunk_bytes)} a "
                    "chunk may hold (Limits.max_chunk_bytes); seeking replays from an earlier keyframe")
        else:
            what = (f"sent to {type(sink).__name__}: it would take {size_text(size)}, over its max_payload of "
                    f"{size_text(sink.max_payload)}; the stream goes on without it")
        warnings.warn(f"the keyframe at seq {self.last_seq} is not {what} (said once)", stacklevel=4)

    # -- closing ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Flush, tell sinks the session ended (END chunk), write the file footer, close sinks."""
        if self.closed:
            return
        self.closed = True
        failure: Exception | None = None
        try:
            if self._pending:
                self.flush()
        except Exception as error:
            failure = error
        end = encode_end_chunk({"end": True, "last_seq": self.last_seq, "last_t_ns": self.last_t_ns},
                               seq=self.last_seq, t_ns=self.last_t_ns)
        info = peek_chunk_header(end)
        for sink in self.sinks:
            try:
                if sink is not self.file_sink:
                    sink.write_chunk(end, info)
                sink.close()
            except Exception as error:
                failure = failure or error
        self._release_keyframe_loans(math.inf)  # the sinks are closed: nothing reads them any more
        self._ledger = None  # the scene state (and its buffers' spare storages) served keyframes only
        if failure is not None:
            if isinstance(failure, LogWriteError):
                raise failure
            raise LogWriteError(f"closing the log failed: {failure}") from failure

    def discard(self) -> None:
        """Give the log up after a failure (idempotent): nothing more is written, an atomic file
        is removed (its path left as it was) and the other sinks are closed."""
        if self.file_sink is not None:
            self.file_sink.discard()
        if self.closed:
            return
        self.closed = True
        self._pending = []
        for sink in self.sinks:
            if sink is not self.file_sink:
                with contextlib.suppress(Exception):
                    sink.close()
        self._release_keyframe_loans(math.inf)
        self._ledger = None

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def without_lone_surrogates(value: Any) -> Any:
    """``value`` with every string that UTF-8 cannot hold mended: surrogate pairs joined, lone
    surrogates replaced by U+FFFD (through containers; anything else as it is)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if type(value) in (list, tuple):
        return type(value)(without_lone_surrogates(item) for item in value)
    if type(value) is dict:
        return {without_lone_surrogates(k): without_lone_surrogates(v) for k, v in value.items()}
    return value


#: Ops a keyframe holds as records (``sessions.scene.RECORD_FAMILIES``): kept in a seeded keyframe.
_RECORD_PREFIXES = ("Scene.", "Renderer.", "Animator.", "ViewportEvents.")


def _split_keyframe(commands: list[Command], budget: int) -> tuple[list[Command], list[int]]:
    """(head, tail) of a keyframe's commands: the head, what fits in about ``budget`` bytes, in
    order, with every record (a renderer's, animator's or viewport events' commands and each
    renderer's last render: state, which as a plain command would become a frame); the tail,
    the indexes of everything from the first object command that does not fit, in order.
    Objects keep their order (dependencies first): the tail replays after the head as it would
    have inside it."""
    head: list[Command] = []
    tail: list[int] = []
    used = 0
    index = 0
    while index < len(commands):
        cmd = commands[index]
        if cmd.op.startswith(_RECORD_PREFIXES):
            head.append(cmd)
            index += 1
            continue
        # The pieces of one buffer's contents go together: all in the head or all in the tail,
        # where a later keyframe can point at them.
        end = index + 1
        if cmd.op == SET_DATA_OP:
            while end < len(commands) and commands[end].op == SET_DATA_OP and commands[end].target == cmd.target:
                end += 1
        size = sum(_estimate_bytes(c.args) + _estimate_bytes(c.kwargs) + 48 for c in commands[index:end])
        if not tail and used + size <= budget:
            head.extend(commands[index:end])
            used += size
        else:
            tail.extend(range(index, end))
        index = end
    return head, tail
