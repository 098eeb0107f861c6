"""Which commands of a log name an object that no earlier command creates: dangling references.

A recorded log is self-contained (docs/recording.md): every object a command calls or passes
is created earlier in the log, or by the keyframe a cut log opens with. A log that lost the
chunk creating an object (a damaged log, repaired) still holds the commands naming it, and a
replay stops at the first (``unknown target object``). :class:`References` finds them without
building the scene (``SceneState`` would allocate every buffer): one set of UUIDs and a look at
each command's arguments, cheap beside decoding the commands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from sessions.command import Command, Ref
from sessions.errors import SkippedCommandWarning
from sessions.scene import KEYFRAME_OP, RECORD_FAMILIES, RELEASE_METHOD

__all__ = ["Dangling", "References"]

# Argument types that hold no Ref: most arguments, checked first.
_ATOMIC = frozenset({int, float, str, bool, type(None), bytes, bytearray, np.ndarray, memoryview})
# What an op does, found once per op: (needs its target, creates its target, passes references).
_Role = tuple[bool, bool, bool]


@dataclass(frozen=True)
class Dangling:
    """A command naming an object no earlier command creates: its seq and op, and the object."""

    seq: int
    op: str
    uuid: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"seq": self.seq, "op": self.op, "object": self.uuid}


@dataclass
class References:
    """Fed the commands a replay from the log's start applies, in order (a keyframe's too, when
    the replay starts from it: its ``Scene.keyframe`` forgets what came before, as the scene
    does), notes every command that names an object not created before it.

    Not counted as names: a ``Recorder`` or ``Scene`` command, a ``<Type>.release`` (a replay
    ignores the release of an object it does not hold), the events of a record family
    (``Animator.frame``, ``ViewportEvents.event``: state the replay does not need the object
    for). A command left out when its chunk was decoded (a value of a newer protocol) still
    creates its object (:meth:`skipped`): that is no damage of the log's.
    """

    shown: int = 5  # how many dangling commands are kept (all are counted)
    created: set[str] = field(default_factory=set)
    count: int = 0  # commands naming an object never created before them
    first: list[Dangling] = field(default_factory=list)  # the first ``shown`` of them
    last_seq: int | None = None  # the last such command's seq
    _roles: dict[str, _Role] = field(default_factory=dict, repr=False)

    def __bool__(self) -> bool:
        return self.count > 0

    def skipped(self, warnings: Iterable[SkippedCommandWarning]) -> None:
        """Commands left out of a chunk's decoding: those that create an object still do."""
        for warning in warnings:
            if warning.op.endswith(".new") and warning.target:
                self.created.add(warning.target)

    def feed(self, commands: Iterable[Command]) -> None:
        """Check ``commands``, in the order a replay applies them."""
        created, roles, atomic = self.created, self._roles, _ATOMIC
        for cmd in commands:
            role = roles.get(cmd.op)
            if role is None:
                if cmd.op == KEYFRAME_OP:  # the whole scene follows: what came before is gone
                    created.clear()
                    continue
                role = roles[cmd.op] = _role(cmd.op)
            needs_target, creates, passes = role
            missing = None
            if needs_target and cmd.target not in created and cmd.target:
                missing = cmd.target
            elif passes:
                for value in cmd.args:  # most arguments are plain values: no call for them
                    if type(value) not in atomic:
                        missing = _missing_ref(cmd.args, created)
                        break
                if missing is None and cmd.kwargs:
                    missing = _missing_ref(cmd.kwargs, created)
            if creates:
                created.add(cmd.target)
            if missing is not None:
                self._note(cmd, missing)

    def _note(self, cmd: Command, missing: str) -> None:
        self.count += 1
        self.last_seq = cmd.seq
        if len(self.first) < self.shown:
            self.first.append(Dangling(cmd.seq, cmd.op, missing))

    def text(self) -> str:
        """The dangling commands in words: how many, and the first ones."""
        listed = "; ".join(f"seq {d.seq} {d.op} names {d.uuid}" for d in self.first)
        more = "; ..." if self.count > len(self.first) else ""
        plural = "s name objects" if self.count > 1 else " names an object"
        return f"{self.count} command{plural} that no earlier command creates ({listed}{more})"


def _role(op: str) -> _Role:
    family, _, method = op.partition(".")
    if family in ("Recorder", "Scene") or method == RELEASE_METHOD:
        return False, False, False
    if family in RECORD_FAMILIES and method in ("frame", "event"):
        return False, False, False
    creates = method == "new"
    return not creates, creates, True


def _missing_ref(value: object, created: set[str]) -> str | None:
    """The UUID of the first :class:`Ref` in ``value`` (lists, tuples, dicts, deeply) that is
    not in ``created``. Two levels of lists and tuples are looked at here, without a call for
    each: a render passes lists of Refs, and this runs for every such command of the log."""
    kind = type(value)
    if kind is tuple or kind is list:
        for item in value:  # type: ignore[attr-defined]
            item_kind = type(item)
            if item_kind in _ATOMIC:
                continue
            if item_kind is Ref:
                if item.uuid not in created:
                    return item.uuid  # type: ignore[no-any-return]
            elif item_kind is list or item_kind is tuple:
                for sub in item:
                    sub_kind = type(sub)
                    if sub_kind is Ref:
                        if sub.uuid not in created:
                            return sub.uuid  # type: ignore[no-any-return]
                    elif sub_kind not in _ATOMIC:
                        missing = _missing_ref(sub, created)
                        if missing is not None:
                            return missing
            else:
                missing = _missing_ref(item, created)
                if missing is not None:
                    return missing
        return None
    if kind in _ATOMIC:
        return None
    if kind is dict:
        return _missing_ref(list(value.values()), created)  # type: ignore[attr-defined]
    if isinstance(value, Ref):
        return None if value.uuid in created else value.uuid
    return None
