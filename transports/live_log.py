"""Between the live stream and session logs: commands for a player, an exact .gsplog copy.

Scene-aware (uses ``sessions``); the rest of the transport layer treats payloads as opaque.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Iterator

from sessions import ChunkKind, Command, FileSink, decode_chunk
from sessions.chunk import KEYFRAME_KINDS, Chunk, ChunkInfo, split_chunks
from sessions.errors import LogFormatError
from sessions.fileformat import decode_header, encode_header
from sessions.index import summarize_commands
from transports.protocol import session_id_hex
from transports.subscriber import Event, EventType, Subscriber
from transports.watch import LogLimit

__all__ = ["LiveCopy", "LiveTally", "live_commands"]

log = logging.getLogger(__name__)


@dataclasses.dataclass
class LiveTally:
    """What :func:`live_commands` delivered: the session's own commands (each once, also when a
    resync's snapshot brings them again), and the whole scenes (the snapshot a node starts
    from, one per resync, the stream's periodic keyframes) it applied besides."""

    commands: int = 0
    keyframes: int = 0
    ended: bool = False  # the session's END arrived (not: its publisher went silent or restarted, or none came)
    #: Why the session will not END, when the stream said so: the REPLACED event's reason (its
    #: publisher restarted: another session came first) or the GONE event's (silent too long).
    #: None after an END, and when the consumer stopped the iteration itself.
    lost: str | None = None
    errors: int = 0  # chunks of a snapshot that could not be decoded, left out
    session_id: bytes | None = None  # the session's (None: none came)
    last_seq: int = 0  # the last update applied (the sequence number of its snapshot or update)
    # The highest update number of the session the node heard of (its snapshot's, updates', END's):
    # 0 for a session that published nothing (a `gsp serve` stopped during its --wait).
    last_update: int = 0
    _session: bytes = dataclasses.field(default=b"", repr=False, compare=False)
    _last_seq: int = dataclasses.field(default=-1, repr=False, compare=False)  # of the last chunk counted

    def count(self, event: Event, info: ChunkInfo, commands: list[Command]) -> None:
        """Count one chunk the node applies: a keyframe as one whole scene (one per resync), any
        other's commands as the session's own, each once: the chunks an opaque relay's snapshot
        repeats after a resync were counted when they first came."""
        if not commands:
            return
        if event.session_id != self._session:  # a restarted publisher numbers its commands anew
            self._session, self._last_seq = event.session_id, -1
        repeated = _repeated(event, info, self._last_seq)
        if info.kind in KEYFRAME_KINDS:
            self.keyframes += 1
        elif not repeated:
            self.commands += len(commands)
        if not repeated:
            self._last_seq = info.seq_last


def _repeated(event: Event, info: ChunkInfo, last_seq: int) -> bool:
    """Whether a chunk is one the node already has, ``last_seq`` being the command seq of the
    last chunk it took: an opaque relay's snapshot repeats every chunk since its keyframe (a
    keyframe at ``last_seq`` is a periodic one: new). Every update is new, whatever its seqs."""
    return event.type == EventType.SNAPSHOT and (
        info.seq_last < last_seq or (info.seq_last == last_seq and info.kind not in KEYFRAME_KINDS)
    )


class LiveCopy:
    """Writes what a node receives as a .gsplog: the session's own header, then its chunks.

    A node that joined at the start (empty snapshot) writes a byte-identical copy of the
    publisher's file; a late joiner's copy starts with the snapshot's KEYFRAME chunk. Only the
    first session is saved; a publisher restart closes the copy, unterminated (the first
    session never ended).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._sink: FileSink | None = None
        self._session: bytes | None = None
        self._written_seq = -1  # the command seq of the copy's last chunk: a resync's snapshot may bring chunks again
        self._written_update = -1  # the last update (transport seq) the copy holds
        self.closed = False
        self.error: str | None = None  # why the copy is incomplete (None while it is whole)

    def add(self, event: Event, chunks: list[tuple[memoryview, ChunkInfo, list[Command]]]) -> None:
        """Record one snapshot or update: its chunks, already decoded (bytes, header, commands).

        What the copy already holds is decided by the stream's update numbers: every update is
        new and written whole (whatever its commands' seqs say); a snapshot at or below the
        last update written brings nothing new; a newer one is written, less the chunks of an
        opaque relay's snapshot that the copy already holds (told by their command seqs).
        """
        if self.closed:
            return
        if event.type == EventType.SNAPSHOT:
            if self._sink is None:
                self._sink = FileSink(self.path, header=self._header(event))
                self._session = event.session_id
            elif event.session_id != self._session:
                # The first session never sent its END (that ends the copy before any other
                # session's snapshot): its publisher died, and the copy is left unterminated as
                # the publisher's own file is, for `gsp verify` to say so and `gsp repair` to mend.
                log.warning("publisher restarted before its session's END: the copy %s holds its first session, "
                            "unterminated (gsp repair gives it a footer)", self.path)
                self.close(source_died=True)
                return
            if event.seq <= self._written_update or event.seq == 0:
                self._written_update = max(self._written_update, event.seq)
                return  # nothing new (joined before the first update, or a resync that missed nothing)
        if self._sink is None:
            return
        skipped = written = 0
        for data, info, commands in chunks:
            kind = info.kind
            if kind == ChunkKind.END:
                continue
            if _repeated(event, info, self._written_seq):  # an opaque relay's snapshot: already in the copy
                skipped += bool(commands)
                continue
            self._written_seq = info.seq_last
            # As LogWriter indexes its keyframes: their renders and markers are not new ones.
            frames, markers = summarize_commands(commands) if kind == ChunkKind.COMMANDS else (0, [])
            chunk = event.payload if len(data) == len(event.payload) else bytes(data)  # no copy for the common case
            self._sink.write_chunk(chunk, dataclasses.replace(info, frames=frames, markers=tuple(markers)))
            written += 1
        if skipped and not written and self.error is None:
            # Updates the copy lacks, but every chunk looked older than the copy's last one (command
            # seqs out of order in the stream): say so rather than leave a copy short without a word.
            self.error = (f"updates {self._written_update + 1}..{event.seq} are missing: the snapshot's chunks "
                          f"end at command seq {max(info.seq_last for _, info, _ in chunks)}, the copy's last "
                          f"chunk at {self._written_seq}")
            log.warning("--save copy %s: %s", self.path, self.error)
        self._written_update = event.seq

    def _header(self, event: Event) -> bytes:
        """The session's own file header, from the snapshot reply, once ``sessions`` reads it back
        whole; otherwise (none came, or it is damaged or hostile) a fresh one naming the session."""
        fresh = encode_header({"live": session_id_hex(event.session_id)})
        if not event.session_header:
            return fresh
        try:
            if decode_header(event.session_header).size != len(event.session_header):
                raise LogFormatError("bytes after the header's checksum")
        except LogFormatError as error:
            log.warning("the session header of the snapshot reply is not a .gsplog header (%s): the copy %s "
                        "gets a fresh header naming the session, without the session's metadata", error, self.path)
            return fresh
        return event.session_header

    def close(self, *, source_died: bool = False) -> None:
        """Write the footer index (idempotent). ``source_died``: the stream went silent before
        its END: the copy is left unterminated, as the publisher's own file is after a crash."""
        if self._sink is not None and not self.closed:
            self._sink.close(terminate=not source_died)
        self.closed = True


def _commands(chunk: Chunk, event: Event) -> list[Command]:
    """A chunk's commands; none for END, and none for a kind this reader does not know (a newer
    writer's), which is logged (``Chunk.commands`` would print a bare ``UserWarning``)."""
    if not chunk.info.holds_commands:
        if chunk.info.kind != ChunkKind.END:
            log.warning("%s %d: skipped a chunk of unknown kind %d (a newer writer's?)", event.type.value, event.seq,
                        chunk.info.kind)
        return []
    return chunk.commands()


def _decode_parts(
    event: Event, parts: list[memoryview], tally: LiveTally | None
) -> tuple[list[tuple[memoryview, Chunk]], list[list[Command]]]:
    """The chunks of a snapshot made of several that decode, and their commands; one that does
    not is logged, counted in ``tally.errors`` and left out (its commands are lost to this node
    as they are to every other: an opaque relay kept it as it came)."""
    chunks: list[tuple[memoryview, Chunk]] = []
    decoded: list[list[Command]] = []
    for index, part in enumerate(parts):
        try:
            chunk = decode_chunk(part)
            commands = _commands(chunk, event)
        except Exception as error:
            if tally is not None:
                tally.errors += 1
            log.warning("%s %d: chunk %d of %d cannot be decoded: %s; skipped, the others applied",
                        event.type.value, event.seq, index + 1, len(parts), error)
            continue
        chunks.append((part, chunk))
        decoded.append(commands)
    return chunks, decoded


def live_commands(
    subscriber: Subscriber,
    stop: threading.Event | None = None,
    copy: LiveCopy | None = None,
    tally: LiveTally | None = None,
) -> Iterator[Command]:
    """The decoded commands of one session of a live stream until its END (or GONE, or REPLACED:
    the next session is left for the next call), counted in ``tally``.

    A snapshot's commands start with ``Scene.keyframe``, which makes a ``SceneState`` forget the
    previous scene. The stream's periodic keyframes come through too: a node that could not
    apply a command is whole again at the next one. A chunk that cannot be decoded is logged
    with the reason and triggers a resync; it never ends the stream. ``copy`` is closed at the
    end, unterminated unless the session's END came or the iteration was stopped.
    """
    died = False  # the session will not END: its publisher went silent, or restarted
    failures = LogLimit(first=1, every=10)
    try:
        for event in subscriber.events(stop):
            if tally is not None and event.type != EventType.GONE:
                tally.session_id = event.session_id
                tally.last_update = max(tally.last_update, event.seq)
                if event.type in (EventType.SNAPSHOT, EventType.UPDATE):
                    tally.last_seq = event.seq
            if event.type == EventType.END:
                if tally is not None:
                    tally.ended = True
                return
            if event.type in (EventType.GONE, EventType.REPLACED):
                died = True
                if tally is not None:
                    tally.lost = event.reason or event.type.value
                return
            try:
                # One chunk, or several end to end: an opaque relay's snapshot is its keyframe
                # and the chunks since, glued together.
                parts = split_chunks(event.payload) if event.payload else []
                if len(parts) > 1:  # a bad one is skipped, the others applied
                    chunks, decoded = _decode_parts(event, parts, tally)
                else:
                    chunks = [(part, decode_chunk(part)) for part in parts]
                    decoded = [_commands(chunk, event) for _, chunk in chunks]
            except Exception as error:  # bytes from the network: report, resync, never crash
                if failures(str(error)):  # the same error again (a snapshot asked for anew) is counted
                    again = f" ({failures.count} times in a row)" if failures.count > 1 else ""
                    log.error("%s %d: cannot decode the chunk%s: %s; resynchronising", event.type.value, event.seq,
                              again, error)
                subscriber.resync(f"undecodable chunk in {event.type.value} {event.seq}")
                continue
            if event.type == EventType.UPDATE:  # the run of failures ends with an update, as the resync backoff's
                failures.reset()
            if copy is not None:
                copy.add(event, [(part, chunk.info, commands) for (part, chunk), commands in zip(chunks, decoded)])
            for (_, chunk), commands in zip(chunks, decoded):
                if tally is not None:
                    tally.count(event, chunk.info, commands)
                yield from commands
    finally:
        if copy is not None:
            copy.close(source_died=died)
