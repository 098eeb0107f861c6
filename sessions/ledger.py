"""SceneLedger: the log writer's scene state for keyframes, at almost no cost per command.

Applying every command to real ``gsp`` objects (a :class:`~sessions.scene.SceneState`) costs
microseconds per small command and a full copy per ``Buffer.set_data``. The ledger instead keeps
the commands appended since the state was last brought up to date, *coalesced*: a setter that
is called again replaces its previous pending call, and only when a keyframe (or a snapshot)
is asked for are the remaining commands applied to the SceneState. Buffer contents stay
referenced (the recorder's immutable copies), never copied, until then.

A pending command is replaced only when that is invisible to the state the SceneState
reaches: same target, same method, same argument shape (positional count and keyword names),
and no other command touched that target since (called a method on it or referenced it
directly). ``Buffer.set_data`` replaces only a previous write when it covers the whole buffer
(offset 0, the buffer's count). Renderer / animator / viewport-event records keep only their
latest ``render``. A release (``<Type>.release``) takes a buffer's bytes out of the scene's
count and its whole write out of :attr:`whole_writes`. Everything else stays in order. The
snapshot is therefore the one the SceneState gives after applying every command
(tests/sessions checks state hashes).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from sessions.codec import Row
from sessions.command import Command, Ref
from sessions.limits import RECORDER_LIMITS

__all__ = ["SceneLedger", "MATERIALISE_EVERY", "HOLD_MIN_BYTES", "LINK_MIN_BYTES", "ENV_NO_C_LEDGER", "use_ledger"]

#: Payloads at least this big are counted as held (the recorder's pool recycles copies of 256 KiB
#: and more: those must not be reused while a pending command references them).
HOLD_MIN_BYTES = 64 * 1024
#: Whole writes at least this big are what keyframes in the same file point at instead of storing.
LINK_MIN_BYTES = 64 * 1024
#: Pending commands beyond this are applied at once (bounds the memory they hold).
MATERIALISE_EVERY = 50_000

_PLAIN = frozenset({int, float, str, bool, type(None), bytes})
_RECORD_FAMILIES = ("Renderer.", "Animator.", "ViewportEvents.")


_OTHER, _SETTER, _SET_DATA, _RECORD_RENDER, _BUFFER_NEW, _IGNORED, _RELEASE = range(7)

#: Set to "1" to note every row in Python even when ``sessions._ledger`` is built.
ENV_NO_C_LEDGER = "GSP_NO_C_LEDGER"


def _load_ledger_c() -> Any:
    if os.environ.get(ENV_NO_C_LEDGER, "") not in ("", "0"):
        return None
    try:
        from sessions import _ledger
    except ImportError:  # not built (no compiler at install time): Python notes every row
        return None
    return _ledger


_ledger_c = _load_ledger_c()
#: "c" when ledgers note plain setters and small writes with ``sessions._ledger``, "python" otherwise.
LEDGER_BACKEND = "c" if _ledger_c is not None else "python"


def use_ledger(backend: str) -> None:
    """Note rows with ``"c"`` or ``"python"`` from every ledger's next
    :meth:`SceneLedger.append_rows` on (tests and benchmarks run both in one process).
    ``ValueError`` for an unknown name; ``ImportError`` for ``"c"`` when the extension is not built."""
    global LEDGER_BACKEND, _ledger_c
    if backend == "python":
        _ledger_c = None
    elif backend == "c":
        from sessions import _ledger

        _ledger_c = _ledger
    else:
        raise ValueError(f"unknown ledger backend {backend!r}: 'c' or 'python'")
    LEDGER_BACKEND = backend


def _classify(op: str) -> int:
    """How the ledger treats an op (cached per op string)."""
    if op == "Buffer.set_data":
        return _SET_DATA
    if op == "Buffer.new":
        return _BUFFER_NEW
    if op.startswith(_RECORD_FAMILIES):
        if op.endswith(".render"):
            return _RECORD_RENDER
        return _IGNORED if op.endswith((".frame", ".event")) else _OTHER  # SceneState ignores events
    if op.startswith("Recorder."):
        return _IGNORED  # markers are not scene state
    method = op.partition(".")[2]
    if method.startswith("set_"):
        return _SETTER
    return _RELEASE if method == "release" else _OTHER


def _refs_in(values: Any, out: list[str]) -> None:
    """UUIDs of the Refs directly in ``values`` or in lists / tuples / dicts one level down."""
    for value in values:
        kind = type(value)
        if kind is Ref:
            out.append(value.uuid)
        elif kind is list or kind is tuple:
            out.extend(v.uuid for v in value if type(v) is Ref)
        elif kind is dict:
            out.extend(v.uuid for v in value.values() if type(v) is Ref)


class SceneLedger:
    """Coalesced pending commands in front of a lazily built SceneState (see module doc)."""

    def __init__(self) -> None:
        self.state: Any = None  # the SceneState, built on first use
        self.failed: str | None = None  # why keyframes were disabled
        self._pending: dict[int, Row] = {}  # append number -> command row, in append order
        self._latest: dict[tuple[Any, ...], int] = {}  # coalescing key -> number of its pending command
        self._touched: dict[str, int] = {}  # uuid -> number of the last command that touched it
        self._counts: dict[str, int] = {}  # buffer uuid -> item count (from Buffer.new)
        self._held: dict[int, int] = {}  # id(payload) -> pending commands holding it
        self._buffer_bytes: dict[str, int] = {}  # buffer uuid -> bytes of its latest full write
        #: Bytes of buffer contents in the scene (latest full writes): the writer spaces keyframes by it.
        self.scene_bytes = 0
        #: buffer uuid -> seq of the whole write (of LINK_MIN_BYTES or more) that still holds all its
        #: contents: a keyframe in the same file may point at that command instead of storing them.
        self.whole_writes: dict[str, int] = {}
        #: Buffers whose latest whole write the last ``materialise(defer_linked=True)`` left pending
        #: (their state may still read as never written: the keyframe keeps their set_data to link).
        self.deferred: set[str] = set()
        # buffer uuid -> (seq, [(offset, count)]): a whole write the file holds as pieces (see
        # sessions/pieces.py) at seq, seq + 1, ...; valid while whole_writes names that seq.
        self._pieces: dict[str, tuple[int, list[tuple[int, int]]]] = {}
        self._kinds: dict[str, int] = {}  # op -> how the ledger treats it (_classify)
        self._n = 0  # append counter: keys of _pending (keyframe commands share one seq)
        self._c: Any = None  # sessions._ledger.Coalescer over the dicts above, made on first use

    def __len__(self) -> int:
        return len(self._pending)

    def holds(self, payload: Any) -> bool:
        """Whether a pending command still references ``payload`` (a recycled copy must not be reused)."""
        return id(payload) in self._held

    def note_pieces(self, target: str, seq: int, pieces: list[tuple[int, int]]) -> None:
        """The write of ``target`` at ``seq`` is in the file as partial writes of these (offset,
        count), at seq, seq + 1, ...: a linked keyframe points at each of them."""
        self._pieces[target] = (seq, pieces)

    def pieces_of(self, target: str, seq: int) -> list[tuple[int, int]] | None:
        """The (offset, count) of the pieces the write of ``target`` at ``seq`` was written as;
        None when it was written whole."""
        noted = self._pieces.get(target)
        return noted[1] if noted is not None and noted[0] == seq else None

    # -- appending -------------------------------------------------------------------------------
    def append(self, cmd: Command) -> None:
        """Note one command (cheap: a few dict operations); nothing once keyframes failed."""
        if self.failed is None:
            self.append_row((cmd.seq, cmd.t_ns, cmd.op, cmd.target, cmd.args, cmd.kwargs))

    def append_rows(self, rows: list[Row]) -> None:
        """Note commands kept as ``(seq, t_ns, op, target, args, kwargs)`` rows, in order.

        Plain setters (scalar arguments, no keywords), the bulk of small calls, and small
        ``Buffer.set_data`` writes are coalesced inline (by ``sessions._ledger`` when it is used);
        every other row takes :meth:`append_row`.
        """
        if self.failed is not None:
            return
        coalescer = self._coalescer()
        if coalescer is None or type(rows) is not list:  # C reads a list's items directly
            self._coalesce(rows, 0, len(rows))
        else:
            # C notes what it can and stops at a row it leaves to Python: that one, then C again.
            end = len(rows)
            i = coalescer.take(self, rows, 0, HOLD_MIN_BYTES)
            while i < end:
                self._coalesce(rows, i, i + 1)
                if self.failed is not None:
                    return
                i = coalescer.take(self, rows, i + 1, HOLD_MIN_BYTES)
        if len(self._pending) > MATERIALISE_EVERY:
            self.materialise()

    def _coalescer(self) -> Any:
        """This ledger's ``sessions._ledger.Coalescer`` over its own dicts, or None without C."""
        module = _ledger_c
        if module is None:
            return None
        if self._c is None:
            self._c = module.Coalescer(self._kinds, self._latest, self._touched, self._pending, self._counts,
                                       self._buffer_bytes, self.whole_writes, _SETTER, _SET_DATA)
        return self._c

    def _coalesce(self, rows: list[Row], start: int, stop: int) -> None:
        """Note ``rows[start:stop]`` (the next row, if any, may replace the last at once)."""
        kinds = self._kinds
        latest = self._latest
        touched = self._touched
        pending = self._pending
        counts = self._counts
        buffer_bytes = self._buffer_bytes
        whole_writes = self.whole_writes
        plain = _PLAIN
        last = len(rows) - 1
        for i in range(start, stop):
            row = rows[i]
            op = row[2]
            kind = kinds.get(op)
            if kind is None:
                kind = kinds[op] = _classify(op)
            if kind == _SETTER and not row[5]:
                args = row[4]
                for a in args:
                    if type(a) not in plain:
                        break
                else:
                    target = row[3]
                    if i < last:  # the same setter on the same target next replaces this row at once
                        following = rows[i + 1]
                        if following[2] == op and following[3] == target and not following[5] \
                                and len(following[4]) == len(args):
                            continue
                    self._n += 1
                    n = self._n
                    setter_key = (target, op, len(args))
                    previous = latest.get(setter_key)
                    if previous is not None and touched.get(target) == previous:
                        del pending[previous]  # a setter row holds no payload
                    latest[setter_key] = n
                    pending[n] = row
                    touched[target] = n
                    continue
            elif kind == _SET_DATA and not row[5]:
                args = row[4]
                if len(args) == 3 and type(args[0]) in (bytes, bytearray) and len(args[0]) < HOLD_MIN_BYTES:
                    # :meth:`append_row` inline for a small write: small payloads are never held
                    # (so the full write it replaces, of the same size, holds none either).
                    target = row[3]
                    whole = args[1] == 0 and args[2] == counts.get(target, -1)
                    if whole and i < last:  # a whole write of the same buffer next replaces this one
                        following = rows[i + 1]
                        if following[2] == op and following[3] == target and not following[5] \
                                and len(following[4]) == 3 and following[4][1] == 0 and following[4][2] == args[2]:
                            continue
                    self._n += 1
                    n = self._n
                    whole_writes.pop(target, None)  # small contents: stored in keyframes
                    if whole:
                        key = (target, op)
                        size = len(args[0])
                        self.scene_bytes += size - buffer_bytes.get(target, 0)
                        buffer_bytes[target] = size
                        previous = latest.get(key)
                        if previous is not None and touched.get(target) == previous:
                            pending.pop(previous, None)
                        latest[key] = n
                    pending[n] = row
                    touched[target] = n
                    continue
            self.append_row(row)
            if self.failed is not None:
                return

    def append_row(self, row: Row) -> None:
        """Note one command row (see :meth:`append_rows`)."""
        if self.failed is not None:
            return
        op = row[2]
        kind = self._kinds.get(op)
        if kind is None:
            kind = self._kinds[op] = _classify(op)
        if kind == _IGNORED:
            return
        target = row[3]
        self._n += 1
        n = self._n
        args = row[4]
        kwargs = row[5]
        key: tuple[Any, ...] | None = None
        release_now = False
        if kind == _SETTER:
            key = (target, op, len(args), *kwargs) if kwargs else (target, op, len(args))
        elif kind == _SET_DATA:
            payload = args[0] if args else b""
            size = getattr(payload, "nbytes", None)
            if size is None:
                if not isinstance(payload, (bytes, bytearray)):
                    # No buffer contents (a hostile log's value, copied by trim or cat): the
                    # scene refuses the write, so the buffer keeps what it held.
                    return
                size = len(payload)
            self.whole_writes.pop(target, None)
            if len(args) == 3 and not kwargs and args[1] == 0 and args[2] == self._counts.get(target, -1):
                key = (target, op)
                self.scene_bytes += size - self._buffer_bytes.get(target, 0)
                self._buffer_bytes[target] = size
                if size >= LINK_MIN_BYTES:
                    self.whole_writes[target] = row[0]
            if size >= HOLD_MIN_BYTES:
                self._hold(payload, 1)
        elif kind == _RECORD_RENDER:
            key = (target, op)
        elif kind == _BUFFER_NEW and args and type(args[0]) is int:
            self._counts[target] = args[0]
            self.whole_writes.pop(target, None)
        elif kind == _RELEASE:
            # A released buffer's contents leave the scene: no keyframe links to them (nor
            # defers its write past the release), and keyframes are spaced without them.
            # A big write of it still pending holds the recorder's copy or loan until the next
            # keyframe, which a compressible scene reaches late or never: a script making new
            # big buffers every frame grew by a frame's data each frame. Apply it now instead.
            latest_write = self._latest.get((target, "Buffer.set_data"))
            pending_write = self._pending.get(latest_write) if latest_write is not None else None
            release_now = (pending_write is not None and bool(pending_write[4])
                           and id(pending_write[4][0]) in self._held)
            self.whole_writes.pop(target, None)
            self._pieces.pop(target, None)
            self.scene_bytes -= self._buffer_bytes.pop(target, 0)
            self._counts.pop(target, None)
        if key is not None:
            previous = self._latest.get(key)
            # Replace only what nothing has seen since (records are never validated against).
            if previous is not None and (kind == _RECORD_RENDER or self._touched.get(target) == previous):
                self._drop(previous)
            self._latest[key] = n
        self._pending[n] = row
        if target:
            self._touched[target] = n
        if kind != _SET_DATA:
            if kwargs:
                self._touch_refs(args, kwargs, n)
            else:
                for a in args:
                    if type(a) not in _PLAIN:  # only calls with objects pay for the reference walk
                        self._touch_refs(args, kwargs, n)
                        break
        if len(self._pending) > MATERIALISE_EVERY:
            self.materialise()
        elif release_now:
            self.materialise(defer_linked=True)  # whole writes a keyframe may link stay pending

    def _touch_refs(self, args: Any, kwargs: dict[str, Any], seq: int) -> None:
        found: list[str] = []
        _refs_in(args, found)
        _refs_in(kwargs.values(), found)
        touched = self._touched
        for uuid in found:
            touched[uuid] = seq

    def _hold(self, payload: Any, delta: int) -> None:
        if payload is None or type(payload) in _PLAIN:
            return
        key = id(payload)
        n = self._held.get(key, 0) + delta
        if n > 0:
            self._held[key] = n
        else:
            self._held.pop(key, None)

    def _drop(self, seq: int) -> None:
        row = self._pending.pop(seq, None)
        if row is not None and row[2] == "Buffer.set_data" and row[4] and id(row[4][0]) in self._held:
            self._hold(row[4][0], -1)

    # -- the state -------------------------------------------------------------------------------
    def materialise(self, defer_linked: bool = False) -> Any:
        """Apply the pending commands to the SceneState and return it (None once failed).

        ``defer_linked``: keep pending, unapplied, each buffer's whole write that
        :attr:`whole_writes` names (the buffer's contents in the state are then stale): for a
        keyframe that points at those writes instead of storing the contents, the copy would be
        wasted. A later call without it applies them.
        """
        if self.failed is not None:
            self._clear()
            return None
        if self.state is None:
            try:
                from sessions.scene import SceneState

                self.state = SceneState(RECORDER_LIMITS)
            except Exception as error:  # gsp unavailable: no keyframes
                self._fail(f"keyframes disabled: {error}")
                return None
        state = self.state
        whole_writes = self.whole_writes
        deferred = []
        for row in self._pending.values():
            if defer_linked and row[2] == "Buffer.set_data" and whole_writes.get(row[3]) == row[0]:
                deferred.append(row)
                continue
            try:
                state.apply(Command(*row))
            except Exception as error:
                # The log itself is fine; only seeking gets slower. Say so once.
                self._fail(f"keyframes disabled after seq {row[0]} ({row[2]}): {error}")
                return None
        self._clear()
        self.deferred = {row[3] for row in deferred}
        for row in deferred:  # pending again, with their holds and coalescing keys
            self.append_row(row)
        return state

    def _clear(self) -> None:
        self._pending.clear()
        self._latest.clear()
        self._touched.clear()
        self._held.clear()

    def _fail(self, message: str) -> None:
        self.failed = message
        self.state = None
        self._clear()
        warnings.warn(message, stacklevel=4)
