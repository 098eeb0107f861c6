"""Session-log tools as library functions: info, dump, verify, repair, trim, cat.

The ``gsp info/dump/verify/repair/trim/cat`` commands (gsplog_cli/cmd_sessions.py) are thin
wrappers over these.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import enum
import itertools
import json
import math
import os
import uuid as uuid_module
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import IO, Any

import numpy as np

from sessions.chunk import HEADER_SIZE, KEYFRAME_KINDS, ChunkInfo, ChunkKind, decode_chunk, peek_chunk_header
from sessions.codec import UnknownValue, links_as_recorded, skipped_commands
from sessions.command import Command, Ref, linked_data
from sessions.errors import BadArgumentError, CommandError, LogFormatError, SkippedCommandWarning
from sessions.fileformat import TRAILER_SIZE, decode_header, decode_trailer, header_size_hint, is_newer_format
from sessions.index import MARK_OP, RENDER_OP, LogIndex, entry_problem, summarize_commands
from sessions.ledger import LINK_MIN_BYTES
from sessions.limits import DEFAULT_LIMITS, Limits
from sessions.position import marker_positions
from sessions.reader import LogReader, Position, find_next_chunk
from sessions.scene import KEYFRAME_OP
from sessions.sinks import FileSink
from sessions.survey import Survey, read_kept, standalone_keyframe

__all__ = ["info", "dump", "to_json_value", "VerifyReport", "RepairReport", "verify", "repair", "trim", "cat"]

Progress = Callable[[int], None] | None


# --------------------------------------------------------------------------------------------
# info
# --------------------------------------------------------------------------------------------
def info(path: str | os.PathLike[str], progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """A JSON-ready summary: sizes, version, metadata, chunk/command/frame counts, commands per
    op, ranges, markers (with the info each holds: ``recorder.mark("stimulus", intensity=0.5)``). Counting ops decodes every command chunk (arrays stay zero-copy views);
    ``progress(n)``, if given, is called with 1 per chunk read.

    Every count is of what a reader reads: the chunks up to the first damage. ``complete`` says
    whether that is the whole session (a valid footer, every chunk intact); ``footer`` holds the
    counts the footer declares, when there is a valid one (more than were read when a chunk it
    lists is damaged). docs/format.md §4 lists the fields. Transform links are counted as
    recorded, never rebuilt (:func:`sessions.codec.links_as_recorded`)."""
    with links_as_recorded(), LogReader(path, recover=True, check_index=True) as reader:
        idx = reader.index
        ops: dict[str, int] = {}
        marker_info: dict[int, Any] = {}  # seq -> the info a Recorder.mark holds (recorder.mark(label, **info))
        raw_total = read = 0
        for chunk in reader.chunks():
            if chunk.info.kind == ChunkKind.COMMANDS:  # keyframes are synthetic, not recorded calls
                try:
                    commands = chunk.commands(reader.limits)
                except LogFormatError as error:  # undecodable: damage, the log ends before it
                    reader._damage(error)
                    break
                for command in commands:
                    ops[command.op] = ops.get(command.op, 0) + 1
                    if command.op == MARK_OP and command.kwargs:
                        marker_info[command.seq] = _finite_json(to_json_value(command.kwargs))
            raw_total += chunk.info.raw_size
            read += 1
            if progress is not None:
                progress(1)
        damaged = read < len(idx)
        part = LogIndex(idx.entries[:read], [m for m in idx.markers if m.chunk < read]) if damaged else idx
        kinds: dict[str, int] = {}
        for entry in part.entries:
            name = ChunkKind(entry.kind).name if entry.kind in ChunkKind._value2member_map_ else f"UNKNOWN({entry.kind})"
            kinds[name] = kinds.get(name, 0) + 1
        footer = ({"chunks": len(idx), "commands": idx.total_commands, "frames": idx.total_frames}
                  if reader.complete else None)
        seqs, times = part.seq_range(), part.time_range()
        return {
            "path": os.fspath(path),
            "size_bytes": os.path.getsize(path),
            "format": f"{reader.header.major}.{reader.header.minor}",
            "metadata": _jsonable(reader.metadata),
            "complete": reader.complete and not damaged,
            "footer": footer,
            "chunks": len(part),
            "chunk_kinds": kinds,
            "raw_bytes": raw_total,
            "stored_bytes": sum(e.size for e in part.entries),
            "commands": part.total_commands,
            "commands_per_op": dict(sorted(ops.items(), key=lambda item: (-item[1], item[0]))),
            "frames": part.total_frames,
            "keyframes": len(part.keyframes),
            "seq_range": list(seqs) if seqs else None,
            "time_range_ns": list(times) if times else None,
            # Times from the session's start (t_ns 0), the clock of --from/--to seconds and markers.
            "first_t_s": times[0] / 1e9 if times else None,
            "last_t_s": times[1] / 1e9 if times else None,
            "duration_s": (times[1] - times[0]) / 1e9 if times else 0.0,
            "markers": [{"label": m.label, "seq": m.seq, "t_s": m.t_ns / 1e9, "position": position,
                         "info": marker_info.get(m.seq, {})}
                        for m, position in zip(part.markers, marker_positions([m.label for m in part.markers]))],
            "problems": [str(p) for p in reader.problems],
        }


def _jsonable(value: Any) -> Any:
    encoded = json.dumps(value, default=lambda v: base64.b64encode(v).decode() if isinstance(v, bytes) else str(v))
    return _finite_json(json.loads(encoded))


# --------------------------------------------------------------------------------------------
# dump
# --------------------------------------------------------------------------------------------
_JSON_PLAIN = frozenset({int, float, str, bool, type(None)})
# One encoder for every line: json.dumps with options builds a new one per call. No NaN or
# Infinity (not JSON): a line holding one is encoded again through _finite_json.
_JSON_LINE = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _float_json(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"$float": "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"}


def _finite_json(value: Any) -> Any:
    """``value`` (JSON-ready: dicts, lists, scalars) with every NaN or infinite float replaced by
    ``{"$float": "NaN" | "Infinity" | "-Infinity"}``: valid JSON, and no string that a command
    really held can be mistaken for one."""
    if isinstance(value, float):
        return _float_json(value)
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value


def _json_line(value: Any) -> str:
    """One compact JSON line (no newline) for a JSON-ready value; non-finite floats as
    :func:`_finite_json` writes them."""
    try:
        return _JSON_LINE.encode(value)
    except ValueError:  # a NaN or an infinity somewhere: rare, so checked only then
        return _JSON_LINE.encode(_finite_json(value))


def to_json_value(value: Any, full: bool = False) -> Any:
    """A JSON-ready form of a command value; arrays and byte strings summarised unless ``full``."""
    if type(value) in _JSON_PLAIN:  # most arguments: checked first
        return value
    if isinstance(value, Ref):
        return {"$ref": value.uuid}
    if isinstance(value, enum.Enum):
        return {"$enum": f"{type(value).__name__}.{value.name}", "value": value.value}
    if isinstance(value, np.ndarray):
        out: dict[str, Any] = {"$ndarray": value.dtype.str, "shape": list(value.shape)}
        if value.dtype.kind == "c":  # complex: no JSON form and no order, so [re, im] pairs and no min/max
            if full:
                out["data"] = _complex_pairs(value)
            elif value.size:
                out["head"] = _complex_pairs(value.reshape(-1)[:4])
        elif full:
            out["data"] = value.tolist()
        elif value.size:
            out.update(min=value.min().item(), max=value.max().item(), head=value.reshape(-1)[:4].tolist())
        return out
    if isinstance(value, (bytes, bytearray)):
        key = "$bytearray" if isinstance(value, bytearray) else "$bytes"
        if full:
            return {key: len(value), "hex": bytes(value).hex()}
        return {key: len(value), "head": bytes(value[:16]).hex()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v, full) for v in value]
    if isinstance(value, dict):
        return {k: to_json_value(v, full) for k, v in value.items()}
    if isinstance(value, UnknownValue):
        return {"$unknown": value.code}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    serialize = getattr(value, "serialize", None)
    if callable(serialize):
        return {"$link": to_json_value(serialize(), full)}
    return {"$repr": repr(value)[:200]}


def _complex_pairs(array: np.ndarray) -> Any:
    """A complex array's items as ``[re, im]`` pairs of floats, in nested lists of its shape."""
    return np.stack([array.real, array.imag], axis=-1).tolist()


def command_to_json(cmd: Command, full: bool = False) -> dict[str, Any]:
    """One command as a JSON-ready dict."""
    return {"seq": cmd.seq, "t_ns": cmd.t_ns, "op": cmd.op, "target": cmd.target,
            "args": to_json_value(list(cmd.args), full), "kwargs": to_json_value(cmd.kwargs, full)}


def _check_range(reader: LogReader, start: Position | None, stop: Position | None) -> None:
    """ValueError when the range ends before it starts, or, naming what the session holds, when
    ``start`` is past its last command (``--from #999`` on a session of 30 frames): a range
    there holds nothing, as gsp-replay says."""
    if start is None:
        return
    if stop is not None:
        reader.check_range(start, stop)
    from sessions.position import parse_at

    if reader.resolve(start) > reader.last_seq():
        idx = reader.index
        times, seqs = idx.time_range(), idx.seq_range()
        # On the clock of --from seconds: since the session started, not the span first to last.
        span = f", commands from {times[0] / 1e9:.3f} to {times[1] / 1e9:.3f} s since it started" if times else ""
        held = f"{idx.total_frames} frames{span}" + (f", seq {seqs[0]}..{seqs[1]}" if seqs else "")
        raise BadArgumentError(f"{reader.path}: the range starts past the end of the session: {parse_at(start)} "
                         f"(the session has {held})")


def dump(path: str | os.PathLike[str], out: IO[str], *, start: Position | None = None,
         stop: Position | None = None, full: bool = False, with_state: bool = False,
         progress: Progress = None) -> int:
    """Write the commands from ``start`` to ``stop`` as JSON lines to ``out``; returns how many
    were written. Keyframes are not commands of the session and are left out, the one a log cut
    by ``gsp trim`` opens with included.

    ``with_state``: before them, the commands that rebuild the scene at ``start`` (the last
    keyframe before it, as one ``Scene.keyframe`` command and the scene's commands, then the
    commands after the keyframe; from the log's start when no keyframe comes before ``start``);
    on a log that opens with a keyframe, that keyframe also without ``start``. A ``start``
    past the session's end is refused (ValueError), as a range that ends before it starts.
    Transform links print as recorded (``{"$link": {"link_type": ..., ...}}``), whether or not
    their type is registered here (:func:`sessions.codec.links_as_recorded`).
    """
    count = 0
    with links_as_recorded(), LogReader(path, check_index=True) as reader:
        _check_range(reader, start, stop)
        first = reader.resolve(start) if start is not None and not with_state else None
        keyframe_seq = -1  # the commands of a keyframe share its Scene.keyframe's seq
        for cmd in reader.commands(start=start, stop=stop):
            if not with_state:
                if cmd.op == KEYFRAME_OP:
                    keyframe_seq = cmd.seq
                if cmd.seq <= keyframe_seq or (first is not None and cmd.seq < first):
                    continue  # the state's catch-up, not asked for
            out.write(_json_line(command_to_json(cmd, full)) + "\n")
            count += 1
            if progress is not None:
                progress(1)
    return count


# --------------------------------------------------------------------------------------------
# verify / repair
# --------------------------------------------------------------------------------------------
@dataclass
class VerifyReport:
    """What :func:`verify` found. ``ok`` means every byte checked: the header, every chunk, a
    valid footer index and its trailer ending the file."""

    path: str
    header_ok: bool = False
    footer_ok: bool = False  # an END chunk ends the chunks, holding an index that matches them
    trailer_ok: bool = False  # right after that footer, a trailer pointing at it
    chunks_ok: int = 0
    commands_ok: int = 0
    damaged: list[dict[str, Any]] = field(default_factory=list)  # {offset, chunk, reason, seq_range}
    tail_incomplete_bytes: int = 0  # an unfinished last chunk (not the footer): a crash, a write going on
    after_end_bytes: int = 0  # bytes after the trailer (or where it should be): no reader reads them
    intact_prefix_bytes: int = 0  # bytes readable before the first damage, the header's included
    last_intact_seq: int | None = None  # of the last command before the first damage; None: none is intact
    footer_offset: int | None = None  # where the footer (END chunk) is; None: none found
    footer_problem: str | None = None  # why the footer found there is no valid index
    seq_range: list[int] | None = None  # the first and last seq of the intact commands (None: none)
    # Commands of the intact chunks, replayed from their start, that name an object no earlier
    # intact command (or the keyframe the log opens with) creates: a replay stops at the first.
    dangling_commands: int = 0
    dangling: list[dict[str, Any]] = field(default_factory=list)  # the first few: {seq, op, object}
    # A replay from the start would stop at a command naming an object lost with damage before
    # it, having drawn no frame: the seq of the first intact keyframe after that damage, where
    # `gsp repair` starts its output (None: no such keyframe, or nothing to start again).
    restart_keyframe_seq: int | None = None
    # Intact chunks out of the log's order (docs/format.md §2: seqs strictly increasing, a
    # keyframe one seq for all its commands, Scene.keyframe first, not before the commands it
    # follows): seeks and positions, found by bisecting seqs, go wrong there. The first few:
    # {offset, chunk, reason}.
    out_of_order: list[dict[str, Any]] = field(default_factory=list)
    out_of_order_chunks: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is damaged or missing, every object a command names is created
        before it, and the chunks are in order."""
        return (self.header_ok and self.footer_ok and self.trailer_ok and not self.damaged
                and not self.tail_incomplete_bytes and not self.after_end_bytes and not self.dangling_commands
                and not self.out_of_order_chunks)

    def note(self, survey: Survey) -> None:
        """Take what ``survey`` (of the chunks this report lists intact) found."""
        commands = [k.info for k in survey.kept if k.info.kind == ChunkKind.COMMANDS]
        self.seq_range = [commands[0].seq_first, commands[-1].seq_last] if commands else None
        self.dangling_commands = survey.from_start.count
        self.dangling = [d.to_dict() for d in survey.from_start.first]
        if survey.restarts:
            assert survey.keyframe is not None
            self.restart_keyframe_seq = survey.kept[survey.keyframe].info.seq_last

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "ok": self.ok}


def _read_header_bytes(f: IO[bytes], path: str, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The header's bytes, from the start of the open file ``f`` (LogFormatError for a file that
    does not start like a log; :func:`decode_header` checks the rest)."""
    f.seek(0)
    first = f.read(16)
    hint = header_size_hint(first)
    if hint is None:
        if len(first) < 16:
            raise LogFormatError(f"file too short for a gsplog header ({len(first)} bytes)", offset=0, path=path)
        raise LogFormatError("not a gsplog file", offset=0, path=path)
    f.seek(0)
    return f.read(min(hint, limits.max_header_metadata + 24))


def _header_metadata(path: str) -> dict[str, Any]:
    """The header metadata of the log at ``path``, read without scanning its chunks."""
    with open(path, "rb") as f:
        return decode_header(_read_header_bytes(f, path), path=path).metadata


def _scan_all(path: str, report: VerifyReport | None = None,
              big_writes: dict[int, tuple[str, int]] | None = None) -> Iterator[tuple[int, bytes, Any]]:
    """Every intact chunk before the footer (offset, bytes, decoded Chunk), resynchronising past
    damage. Chunks are numbered by their place in the file, damaged ones counted. The scan ends
    at the first END chunk (the footer), as a reader's does: what follows is not read.
    ``big_writes`` receives, by seq, the target and chunk offset of every whole write a linked
    keyframe may point at (:func:`_note_big_writes`)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        first_damage: int | None = None
        try:
            pos = decode_header(_read_header_bytes(f, path), path=path).size
        except LogFormatError as error:
            # The chunks carry their own magic and checksums: they are found and kept without
            # the header (a file with none is no log, or has nothing to keep, and a newer
            # format is no damage: the error stands).
            found = _first_chunk(path)
            if found is None:
                raise
            pos = first_damage = found
            if report is not None:
                report.damaged.append({"offset": error.offset, "chunk": None, "reason": error.reason,
                                       "seq_range": None})
        else:
            if report is not None:
                report.header_ok = True
        header_end = pos
        if report is not None and report.header_ok:
            report.intact_prefix_bytes = header_end
        number = 0
        if big_writes is None:
            big_writes = {}  # seq -> (target, chunk offset) of the big Buffer.set_data seen intact
        footer_offset = None
        # offset -> (header, frames, markers) of each intact chunk, for the footer's check
        intact: dict[int, tuple[ChunkInfo, int | None, list[tuple[str, int, int]] | None]] = {}
        if size >= header_end + TRAILER_SIZE:
            f.seek(size - TRAILER_SIZE)
            footer_offset = decode_trailer(f.read(TRAILER_SIZE))
        while pos < size:
            if footer_offset is not None and pos == size - TRAILER_SIZE:
                break  # the trailer, reached past a footer damaged beyond recognition
            f.seek(pos)
            head = f.read(HEADER_SIZE)
            info = None
            try:
                if len(head) < HEADER_SIZE:
                    raise LogFormatError("incomplete chunk header at the end of the file", offset=pos)
                info = peek_chunk_header(head, offset=pos, chunk_index=number)
                if pos + info.size > size:
                    raise LogFormatError(f"chunk of {info.size} bytes cut short by the end of the file", offset=pos)
                f.seek(pos)
                data = f.read(info.size)
                chunk = decode_chunk(data, offset=pos, chunk_index=number, info=info)
                commands = chunk.commands() if info.holds_commands else []
                if info.kind == ChunkKind.LINKED_KEYFRAME:
                    _check_links(commands, big_writes, pos)
            except LogFormatError as error:
                if pos == footer_offset or (info is not None and info.kind == ChunkKind.END):
                    # The footer: the session's chunks are all before it.
                    if report is not None:
                        report.footer_offset = pos
                        report.footer_problem = error.reason
                        if info is not None and pos + info.size <= size:
                            _check_trailer(f, report, pos, pos + info.size, size)
                        else:  # its size unknown (or past the end): is the file's last trailer its?
                            report.trailer_ok = pos == footer_offset
                    break
                if first_damage is None:
                    first_damage = pos
                if info is not None and pos + info.size <= size:
                    nxt: int | None = pos + info.size  # the header is intact: the next chunk is there
                else:
                    nxt = find_next_chunk(f, pos + 1, size)
                if report is not None:
                    if nxt is None and ("cut short" in error.reason or "incomplete chunk header" in error.reason):
                        report.tail_incomplete_bytes = size - pos
                    else:
                        # The seqs it held, when its header says (a damaged payload): what was lost.
                        seqs = ([info.seq_first, info.seq_last] if info is not None and info.kind == ChunkKind.COMMANDS
                                else None)
                        report.damaged.append({"offset": pos, "chunk": number, "reason": error.reason,
                                               "seq_range": seqs})
                if nxt is None or nxt >= size:
                    break
                number += 1
                pos = nxt
                continue
            if info.kind == ChunkKind.END:  # the footer: the end of the log
                if report is not None:
                    report.footer_offset = pos
                    mismatch = _footer_mismatch(chunk, header_end, pos, intact)
                    report.footer_ok = mismatch is None
                    if mismatch is not None:
                        report.footer_problem = f"its index does not match the chunks before it: {mismatch}"
                    _check_trailer(f, report, pos, pos + info.size, size)
                break
            if info.kind == ChunkKind.COMMANDS:
                _note_big_writes(commands, big_writes, pos)
            if report is not None:
                # A chunk with commands this version skips (a newer protocol's values) is checked
                # against its header only: its writer counted frames and markers it cannot see.
                intact[pos] = ((info, None, None) if chunk.skipped else
                               (info, *summarize_commands(commands)) if info.kind == ChunkKind.COMMANDS
                               else (info, 0, []))
                report.chunks_ok += 1
                if info.kind == ChunkKind.COMMANDS:
                    report.commands_ok += len(commands)
                    if first_damage is None:
                        report.last_intact_seq = info.seq_last
                if first_damage is None:
                    report.intact_prefix_bytes = pos + info.size
            yield pos, data, chunk
            number += 1
            pos += info.size


def _first_chunk(path: str) -> int | None:
    """Where the first chunk magic of the file at ``path`` is (None: there is none, or the file
    is a log of a newer format, whose header is not damage to mend)."""
    with open(path, "rb") as f:
        if is_newer_format(f.read(16)):
            return None
        return find_next_chunk(f, 0, os.path.getsize(path))


def _check_trailer(f: IO[bytes], report: VerifyReport, footer: int, after_footer: int, size: int) -> None:
    """Note whether a trailer pointing at the footer at ``footer`` follows it, at
    ``after_footer``, and how many bytes come after that trailer."""
    f.seek(after_footer)
    report.trailer_ok = decode_trailer(f.read(TRAILER_SIZE)) == footer
    report.after_end_bytes = max(0, size - after_footer - TRAILER_SIZE)


def _note_big_writes(commands: list[Command], big_writes: dict[int, tuple[str, int]], offset: int) -> None:
    """Remember the whole writes a LINKED_KEYFRAME may point at (big Buffer.set_data): their
    target, and the offset of the chunk ``commands`` come from."""
    for cmd in commands:
        if cmd.op == "Buffer.set_data" and cmd.args:
            data = cmd.args[0]
            size = len(data) if isinstance(data, (bytes, bytearray)) else getattr(data, "nbytes", 0)
            if size >= LINK_MIN_BYTES:
                big_writes[cmd.seq] = (cmd.target, offset)


def _check_links(commands: list[Command], big_writes: dict[int, tuple[str, int]], offset: int) -> None:
    """LogFormatError unless every LogRef of a linked keyframe names an intact earlier write."""
    for cmd in commands:
        link = linked_data(cmd)
        if link is not None and big_writes.get(link.seq, ("", 0))[0] != cmd.target:
            raise LogFormatError(f"keyframe refers to command {link.seq}, which no intact earlier chunk holds "
                                 f"as a write of {cmd.target}", offset=offset)


def _footer_mismatch(chunk: Any, first_offset: int, footer_offset: int,
                     intact: dict[int, tuple[ChunkInfo, int | None, list[tuple[str, int, int]] | None]]) -> str | None:
    """Why the footer ``chunk`` is no index of the chunks before it (None: it is one): its table
    must be consistent, and agree with every intact chunk (header, frames, markers)."""
    try:
        index = LogIndex.from_payload(chunk.payload_object(), first_offset=first_offset, footer_offset=footer_offset)
    except (ValueError, LogFormatError) as error:
        return str(error)
    for number, entry in enumerate(index.entries):
        found = intact.get(entry.offset)
        if found is None:
            continue
        problem = entry_problem(entry, found[0], found[1])
        if problem is None:
            said = [(m.label, m.seq, m.t_ns) for m in index.markers if m.chunk == number]
            if found[2] is not None and said != found[2]:
                problem = f"its markers are {said}, the chunk holds {found[2]}"
        if problem is not None:
            return f"chunk {number} at offset {entry.offset}: {problem}"
    return index.marker_problem()


class _Order:
    """Checks, chunk after chunk, the order docs/format.md §2 gives a log's seqs: strictly
    increasing over the COMMANDS chunks, each within its header's range; a keyframe at one seq,
    stamped on each of its commands, ``Scene.keyframe`` first, not before the commands it follows."""

    def __init__(self) -> None:
        self.last_command: int | None = None  # seq of the last command seen
        self.keyframe: int | None = None  # seq of a keyframe seen since then

    def problem(self, chunk: Any) -> str | None:
        """Why ``chunk`` (decoded, intact) breaks the order (None: it does not); it then counts
        as read, so that one chunk out of place is one problem, not one per later chunk."""
        info = chunk.info
        commands = chunk.commands() if info.holds_commands else []
        last, keyframe, why = self.last_command, self.keyframe, None
        if info.kind == ChunkKind.COMMANDS and commands:
            seqs = [c.seq for c in commands]
            if any(a >= b for a, b in itertools.pairwise(seqs)):
                why = "its commands' seqs do not increase"
            elif not (info.seq_first <= seqs[0] and seqs[-1] <= info.seq_last):
                why = f"its commands' seqs {seqs[0]}..{seqs[-1]} are outside its header's {info.seq_first}..{info.seq_last}"
            elif last is not None and seqs[0] <= last:
                why = f"its first seq {seqs[0]} does not follow seq {last}, before it"
            elif keyframe is not None and seqs[0] <= keyframe:
                why = f"its first seq {seqs[0]} does not follow the keyframe at seq {keyframe}, before it"
            self.last_command = seqs[-1] if last is None else max(last, seqs[-1])
            self.keyframe = None
        elif info.kind in KEYFRAME_KINDS:
            seq = info.seq_first
            if info.seq_last != seq:
                why = f"a keyframe of seqs {seq}..{info.seq_last}: it captures one"
            elif any(c.seq != seq for c in commands):
                why = f"a keyframe at seq {seq} holding commands of other seqs"
            elif commands and commands[0].op != KEYFRAME_OP:
                why = f"a keyframe that opens with {commands[0].op}, not {KEYFRAME_OP}"
            elif last is not None and seq < last:
                why = f"a keyframe at seq {seq}, after seq {last}"
            self.keyframe = seq
        return why


def verify(path: str | os.PathLike[str], progress: Progress = None) -> VerifyReport:
    """Check the header, every chunk's checksums and decoding, the footer index (transform
    links decoded as recorded: a link type not registered here is no damage), and that every
    object a command of the intact chunks names is created before it (by a command, or by the
    keyframe a cut log opens with): a log that lost the chunk creating an object cannot replay
    past the first command naming it (:mod:`sessions.survey`)."""
    report = VerifyReport(os.fspath(path))
    survey = Survey(report.damaged)
    order = _Order()
    try:
        with links_as_recorded():
            for pos, data, chunk in _scan_all(report.path, report):
                survey.add(pos, chunk)
                problem = order.problem(chunk)
                if problem is not None:
                    report.out_of_order_chunks += 1
                    if len(report.out_of_order) < 5:
                        report.out_of_order.append({"offset": pos, "chunk": chunk.chunk_index, "reason": problem})
                if progress is not None:
                    progress(len(data))
    except LogFormatError as error:
        report.damaged.append({"offset": error.offset, "chunk": None, "reason": error.reason, "seq_range": None})
    report.note(survey)
    return report


def _check_output(tool: str, sources: list[str], dst: str) -> None:
    """ValueError when ``dst`` is one of ``sources``: the writer would truncate a file still
    being read (by another name too: a link, a relative path)."""
    for src in sources:
        try:
            same = os.path.samefile(src, dst)
        except OSError:  # no dst yet (so not a source), or a source its reader will report
            same = False
        if same:
            raise BadArgumentError(f"{tool}: the output {dst} is the input {src}: write to a different file")


@dataclass
class RepairReport(VerifyReport):
    """What :func:`repair` found in its input (as :func:`verify` reports it) and what it wrote."""

    output: str = ""
    output_chunks: int = 0  # chunks written (the footer not counted)
    output_commands: int = 0  # commands of the COMMANDS chunks written
    #: the seq of the keyframe the output starts at, when the input's start was lost (else None)
    started_at_keyframe_seq: int | None = None
    dropped_chunks: int = 0  # intact chunks before that keyframe, left out: they could not replay
    dropped_seq_range: list[int] | None = None  # the seqs of their commands
    # Commands of the output naming an object none of its earlier commands creates: it does
    # not replay from its start (the first few: {seq, op, object}).
    output_dangling_commands: int = 0
    output_dangling: list[dict[str, Any]] = field(default_factory=list)
    #: what the output's header metadata says under "repaired" (docs/format.md §1)
    provenance: dict[str, Any] = field(default_factory=dict)


#: At most this many damaged regions are listed in a repaired log's metadata (all are counted).
LOST_LISTED = 100


def repair(src: str | os.PathLike[str], dst: str | os.PathLike[str], progress: Progress = None, *,
           keep_all: bool = False) -> RepairReport:
    """Write ``dst`` with the intact chunks of ``src`` and a valid footer; returns what was
    found and written (``progress(n)``: n bytes read or copied, twice the file's size in all).

    Every intact chunk is kept, except when damage took the chunks that create the scene (the
    log's start, its setup): a replay of the intact chunks from their start would stop at a
    command naming an object created there before drawing a frame. When an intact keyframe
    follows the damage, ``dst`` then starts at it (a linked one written as the KEYFRAME it
    stands for) and replays from its start, the chunks before it left out unless ``keep_all``.
    ``dst``'s header metadata is ``src``'s, plus ``repaired``: the source, what was lost (each
    damaged region with the seqs it held when its header says), an incomplete tail, the footer,
    the chunks left out before a keyframe, and the commands that still name lost objects
    (docs/format.md §1). The report's ``output_dangling_commands`` counts those: ``dst`` is
    then written, but does not replay from its start.

    ``dst`` is written under a hidden name beside it and takes its name only when finished: a
    failure part way (a full disk, a file size limit, Ctrl-C) leaves no output (a valid log
    holding part of what was recovered would pass for the whole) and a file already at ``dst``
    as it was."""
    src, dst = os.fspath(src), os.fspath(dst)
    _check_output("repair", [src], dst)
    report = RepairReport(src, output=dst)
    metadata: dict[str, Any] = {}
    header_lost: str | None = None
    try:
        metadata = _header_metadata(src)
    except LogFormatError as error:  # the chunks are kept under a new header, if there are any
        if _first_chunk(src) is None:
            raise
        header_lost = error.reason
    # The chunks are decoded once, to check them and follow a replay (sessions.survey), then
    # copied byte for byte: a value this build cannot decode is not left out of anything.
    survey = Survey(report.damaged)
    big_writes: dict[int, tuple[str, int]] = {}
    with links_as_recorded(), skipped_commands("quiet"):  # the survey lists them
        for pos, data, chunk in _scan_all(src, report, big_writes):
            survey.add(pos, chunk)
            if progress is not None:
                progress(len(data))
    report.note(survey)
    start = survey.keyframe if survey.restarts and not keep_all else None
    refs = survey.from_start
    if start is not None:
        assert survey.from_keyframe is not None
        refs = survey.from_keyframe
        report.started_at_keyframe_seq = survey.kept[start].info.seq_last
        report.dropped_chunks, report.dropped_seq_range = survey.dropped(start)
    report.output_dangling_commands = refs.count
    report.output_dangling = [d.to_dict() for d in refs.first]
    report.provenance = _provenance(report, metadata.get("repaired"), header_lost)
    from sessions.writer import LogWriter

    header = LogWriter.make_header({**metadata, "repaired": report.provenance})  # the defaults under it
    kept = survey.kept[start or 0:]
    report.output_chunks = len(kept)
    report.output_commands = sum(k.info.count for k in kept if k.info.kind == ChunkKind.COMMANDS)
    sink = FileSink(dst, header=header, atomic=True)
    with _discarded_on_failure(sink), links_as_recorded(), open(src, "rb") as f:
        for entry in kept:
            data = read_kept(f, entry, src)
            # A linked keyframe pointing at chunks left out stands on its own: the first, and
            # any later one whose data was written before the first and not since.
            if start is not None and entry.links_from is not None and entry.links_from <= kept[0].info.seq_last:
                data = standalone_keyframe(f, data, entry, big_writes, src)
                entry_info = dataclasses.replace(peek_chunk_header(data), frames=0, markers=())
            else:
                entry_info = entry.info
            sink.write_chunk(data, entry_info)
            if progress is not None:
                progress(entry.info.size)
        sink.close()  # the footer and trailer: a failure there is a failure of the whole
    return report


def _provenance(report: RepairReport, earlier: Any, header_lost: str | None) -> dict[str, Any]:
    """The ``repaired`` header metadata of a repaired log: what was lost and left out."""
    lost = [d for d in report.damaged if d["chunk"] is not None]
    out: dict[str, Any] = {"from": report.path, "lost": lost[:LOST_LISTED], "lost_regions": len(lost)}
    if header_lost is not None:
        out["header"] = f"lost: {header_lost}"
    if report.tail_incomplete_bytes:
        out["incomplete_tail_bytes"] = report.tail_incomplete_bytes
    if report.footer_offset is None:
        out["footer"] = "missing: the log was not closed"
    elif not report.footer_ok or not report.trailer_ok:
        out["footer"] = f"damaged: {report.footer_problem or 'its trailer'}"
    if report.started_at_keyframe_seq is not None:
        out["started_at_keyframe_seq"] = report.started_at_keyframe_seq
        out["dropped_before_keyframe"] = {"chunks": report.dropped_chunks, "seq_range": report.dropped_seq_range}
    if report.output_dangling_commands:
        out["dangling"] = {"commands": report.output_dangling_commands, "first": report.output_dangling}
    if earlier is not None:  # repaired before: that repair's own record
        out["earlier"] = earlier
    return out


# --------------------------------------------------------------------------------------------
# trim / cat
# --------------------------------------------------------------------------------------------
#: Header metadata keys every LogWriter writes for itself, and those the tools add: not copied
#: from an input to the top level of the output.
_OWN_KEYS = frozenset({"created", "created_unix_ns", "monotonic_anchor_ns", "host", "versions", "format",
                       "protocol", "platform", "source", "sources", "source_start_ns", "source_offsets_ns",
                       "source_file", "source_files", "repaired"})


def _writer(tool: str, dst: str, metadata: dict[str, Any], added: dict[str, Any]) -> Any:
    """A LogWriter for ``dst``: the input's own metadata (``user``, ``recorder``, ...) at the top
    level, plus ``added`` (``source`` or ``sources``: what the inputs were). ValueError, before
    anything is written, when that metadata is over what a reader accepts."""
    from sessions.writer import LogWriter

    meta = {**{k: v for k, v in metadata.items() if k not in _OWN_KEYS}, **added}
    try:
        header = LogWriter.make_header(meta)  # refuses a header no reader would accept
    except (TypeError, ValueError) as error:
        raise ValueError(f"{tool}: the inputs' metadata cannot make one header: {error}") from None
    return LogWriter(dst, header=header, atomic=True)


@contextlib.contextmanager
def _discarded_on_failure(output: Any) -> Iterator[None]:
    """Around the writing of a tool's output (a LogWriter or FileSink made ``atomic``), its
    closing included (the last chunks, the footer and the trailer are written then): on any
    failure, give the output up, then let the failure go on. The output is written under a
    hidden name and takes its path only when closed: a valid log holding part of what was asked
    for would pass for the whole, and a file already at the path stays as it was."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):  # the failure that matters is the first one
            output.discard()
        raise


@contextlib.contextmanager
def _copying(tool: str, src: str) -> Iterator[None]:
    """Around a tool's reading of ``src`` to copy its commands (trim, cat): every transform link
    is decoded as recorded (:func:`sessions.codec.links_as_recorded`: never rebuilt, so a type of
    the user's own needs no class here, and written back with its recorded fields), and a
    command the codec still cannot decode (a value of a newer protocol's) is refused: skipped,
    it would be missing from an output that reads as whole. ValueError naming it. A command the
    rebuilt scene refuses (over ``--max-scene-gib``) is a CommandError naming the log too."""
    try:
        with links_as_recorded(), skipped_commands("raise"):
            yield
    except SkippedCommandWarning as skipped:
        raise ValueError(f"{tool}: {src}: command seq={skipped.seq} op={skipped.op} holds a value this version "
                         f"cannot decode ({skipped.reason}): it would be left out of the output, so nothing is "
                         "written (a newer gsplog may read it)") from None
    except CommandError as error:  # the scene rebuilt for trim's keyframe: say which log it came from
        error.args = (f"{tool}: {src}: {error}",)
        raise


def trim(src: str | os.PathLike[str], dst: str | os.PathLike[str], start: Position | None = None,
         stop: Position | None = None, progress: Progress = None, limits: Limits = DEFAULT_LIMITS) -> int:
    """Write the part of ``src`` from ``start`` to ``stop`` as a self-contained log ``dst``.

    ``dst`` starts with a keyframe of the state at ``start`` (at the start of ``src`` when that
    is a log cut by trim: the keyframe it opens with); times are shifted so that ``start`` is 0.
    Returns the number of commands after the keyframe. The scene rebuilt for that keyframe is
    held to ``limits.max_scene_bytes`` (CommandError past it). A state too big for one keyframe
    chunk opens with a keyframe of what fits and the rest as plain commands after it (see
    :meth:`LogWriter.seed`); the cut's commands then keep their order but not their seqs (each
    moves on by as many). ``dst``'s metadata: ``src``'s own
    at the top level (``user``, ``recorder``), and the whole of it under ``source``. A range
    that ends before it starts, or starts past the session's end, is refused (ValueError)
    before anything is written; a failure
    part way leaves no output, and a file already at ``dst`` as it was. Transform links are
    copied as recorded, whatever their type (no chain runs); a command holding a value this
    version cannot decode is refused (ValueError), not left out.
    """
    from sessions.scene import SceneState

    src, dst = os.fspath(src), os.fspath(dst)
    _check_output("trim", [src], dst)
    count = 0
    with _copying("trim", src), LogReader(src, limits=limits, check_index=True) as reader:
        _check_range(reader, start, stop)
        target = reader.resolve(start) if start is not None else None
        # The source's time of the cut's t_ns 0, for the header (written first): a wall-clock
        # time stays source.created_unix_ns + source_start_ns + t_ns. It costs reading the
        # catch-up (at most a keyframe interval) twice.
        start_ns = next((cmd.t_ns for cmd, catch_up in _trim_stream(reader, start, stop, target) if not catch_up), None)
        _warn_unfinished("trim", reader, dst)
        writer = _writer("trim", dst, reader.metadata, {"source": reader.metadata, "source_start_ns": start_ns,
                                                         "source_file": source_state(reader)})
        with _discarded_on_failure(writer):
            state = SceneState(limits)
            shift: int | None = None
            seq_shift = 0
            last: Command | None = None
            for cmd, catch_up in _trim_stream(reader, start, stop, target):
                if catch_up:
                    state.apply(cmd)  # becomes the opening keyframe
                    last = cmd
                    continue
                if shift is None:
                    shift = cmd.t_ns
                    if last is not None:
                        _seed(writer, state, last.seq)
                if cmd.seq + seq_shift <= writer.last_seq:
                    # The opening state took seqs after its keyframe (too big for one chunk), or
                    # the writer wrote a command in pieces: the cut's seqs move on past them.
                    seq_shift = writer.last_seq + 1 - cmd.seq
                writer.append(Command(cmd.seq + seq_shift, cmd.t_ns - shift, cmd.op, cmd.target, cmd.args, cmd.kwargs))
                count += 1
                if progress is not None:
                    progress(1)
            if shift is None and last is not None:  # no command in the range: just the state at its start
                _seed(writer, state, last.seq)
            writer.close()  # the last chunks, the footer and the trailer
    return count


def _seed(writer: Any, state: Any, seq: int) -> None:
    """Open ``writer``'s log with ``state`` as of ``seq``, then forget it: the writer holds it
    now. Buffer contents are lent to the writer, not copied (a big scene would be held thrice)."""
    loans: list[Any] = []
    try:
        writer.seed(state.snapshot(seq, 0, loans=loans))
    finally:
        for loan in loans:
            loan.release()
    state.reset()


def _cat_time_offsets(paths: list[str], gap_ns: int, dst: str) -> tuple[list[int], list[dict[str, Any]]]:
    """What cat adds to each input's times: each one starts ``gap_ns`` after the previous one's
    last command, the first at 0. Known before writing (from the inputs' indexes), so that the
    header can say it: an input's wall-clock time stays its ``created_unix_ns`` + ``t_ns`` - offset.
    With each input's :func:`source_state` (a warning for one that did not end cleanly)."""
    offsets: list[int] = []
    states: list[dict[str, Any]] = []
    next_t = 0
    for path in paths:
        with _copying("cat", path), LogReader(path, check_index=True) as reader:
            times = reader.index.time_range()
            states.append(source_state(reader))
            _warn_unfinished("cat", reader, dst)
        offsets.append(next_t - times[0] if times else next_t)
        if times:
            next_t = times[1] + offsets[-1] + gap_ns
    return offsets, states


def source_state(reader: LogReader) -> dict[str, Any]:
    """How an input of trim or cat ended, for its output's metadata (``source_file``,
    ``source_files``): its path, ``ended`` (:attr:`LogReader.end_state`: ``"complete"``,
    ``"footer damaged"``, ``"unterminated"``), whether its last chunk was cut short, and its
    last intact command's seq and time (seconds since it started)."""
    seqs, times = reader.index.seq_range(), reader.index.time_range()
    return {"path": reader.path, "ended": reader.end_state, "incomplete_tail": reader.tail_incomplete,
            "last_seq": seqs[1] if seqs else None, "last_t_s": times[1] / 1e9 if times else None}


class UnfinishedInputWarning(UserWarning):
    """An input of trim or cat that did not end cleanly (no footer, or a damaged one): its output
    holds what the input holds, and says so in its metadata."""


def _warn_unfinished(tool: str, reader: LogReader, dst: str) -> None:
    """Warn that ``reader``'s log did not end cleanly, naming it, what is wrong and what ``dst``
    gets of it (nothing for a footer whose damage the reader has already warned of)."""
    state = reader.end_state
    if state == "complete" or (state == "footer damaged" and reader.problems):
        return
    seqs, times = reader.index.seq_range(), reader.index.time_range()
    last = f"seq {seqs[1]}, {times[1] / 1e9:.3f} s since it started" if seqs and times else "none"
    held = ("every command, all intact" if state == "footer damaged"
            else f"its commands up to the last intact one ({last})")
    warnings.warn(UnfinishedInputWarning(f"{tool}: {reader.path}: {reader.end_text()}: {dst} holds {held}, and its "
                                         "metadata says so"), stacklevel=3)


def _trim_stream(reader: LogReader, start: Position | None, stop: Position | None,
                 target: int | None) -> Iterator[tuple[Command, bool]]:
    """The commands trim reads, each with whether it only catches up to ``start`` (the keyframe
    it starts from and the commands before ``target``: they become the cut's opening keyframe)."""
    keyframe_seq = -1  # the commands of a keyframe share its Scene.keyframe's seq
    for cmd in reader.commands(start=start, stop=stop):
        if cmd.op == KEYFRAME_OP:
            keyframe_seq = cmd.seq
        yield cmd, cmd.seq <= keyframe_seq or (target is not None and cmd.seq < target)


def _remap(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, Ref):
        return Ref(mapping.get(value.uuid, value.uuid))
    if isinstance(value, list):
        return [_remap(v, mapping) for v in value]
    if isinstance(value, tuple):
        return tuple(_remap(v, mapping) for v in value)
    if isinstance(value, dict):
        return {k: _remap(v, mapping) for k, v in value.items()}
    return value


def cat(sources: list[str | os.PathLike[str]], dst: str | os.PathLike[str], *, gap_ns: int = 1_000_000,
        progress: Progress = None) -> int:
    """Concatenate sessions into ``dst``; each one's seq/time continue after the previous one's.

    A later session that re-creates objects under UUIDs already used (e.g. recorded twice with
    deterministic UUIDs) gets fresh UUIDs for them, so both scenes replay as recorded. A session
    that opens with a snapshot (a ``gsp trim`` output) has it written as plain commands, one seq
    each, less its ``Scene.keyframe`` reset (the scenes before it stay, as they do for a session
    that starts from nothing) and its record of the last render before the cut (a replay never
    draws it: it is state, and as a plain command it would become a frame). ``dst``'s metadata:
    the first input's own at the top level (``user``, ``recorder``), and every input's whole
    header metadata, in order, as the list ``sources``. Returns the number of commands written;
    a failure part way leaves no output, and a file already at ``dst`` as it was. Transform links
    are copied as recorded, whatever their type; a command holding a value this version cannot
    decode is refused (ValueError), not left out.
    """
    if not sources:
        raise ValueError("cat: no input logs")
    paths = [os.fspath(src) for src in sources]
    _check_output("cat", paths, os.fspath(dst))
    metadata = [_header_metadata(path) for path in paths]  # every input is a log: checked before writing
    offsets, states = _cat_time_offsets(paths, gap_ns, os.fspath(dst))
    count = 0
    used: set[str] = set()
    next_seq = 1
    writer = _writer("cat", os.fspath(dst), metadata[0], {"sources": metadata, "source_offsets_ns": offsets,
                                                          "source_files": states})
    with _discarded_on_failure(writer):
        for src, t_shift in zip(paths, offsets):
            with _copying("cat", src), LogReader(src, check_index=True) as reader:
                seq_shift = None
                mapping: dict[str, str] = {}
                targets: set[str] = set()
                snapshot_seq = -1  # the commands of a snapshot share its Scene.keyframe's seq
                for cmd in reader.commands():
                    if cmd.op == KEYFRAME_OP:
                        snapshot_seq = cmd.seq
                        continue
                    if cmd.op == RENDER_OP and cmd.seq <= snapshot_seq:
                        continue
                    if seq_shift is None:
                        seq_shift = next_seq - cmd.seq
                    elif cmd.seq + seq_shift <= writer.last_seq:  # in a snapshot: one seq each
                        seq_shift = writer.last_seq + 1 - cmd.seq
                    if cmd.method == "new" and cmd.target in used and cmd.target not in mapping:
                        mapping[cmd.target] = str(uuid_module.uuid5(uuid_module.NAMESPACE_URL, f"gsplog-cat:{len(used)}:{cmd.target}"))
                    target = mapping.get(cmd.target, cmd.target)
                    if cmd.target:
                        targets.add(target)
                    out = Command(cmd.seq + seq_shift, cmd.t_ns + t_shift, cmd.op, target,
                                  _remap(cmd.args, mapping), _remap(cmd.kwargs, mapping))
                    writer.append(out)
                    count += 1
                    if progress is not None:
                        progress(1)
                used |= targets
                next_seq = writer.last_seq + 1
        writer.close()  # the last chunks, the footer and the trailer
    return count
