"""The unit of a session log: one recorded API call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to a GSP object by UUID, as it travels in commands."""

    uuid: str


@dataclass(frozen=True, slots=True)
class LogRef:
    """In a LINKED_KEYFRAME chunk only: "the data argument of the ``Buffer.set_data`` command
    ``seq`` of this same file", which holds the buffer's contents at the keyframe. Readers replace
    it by that argument (:meth:`sessions.LogReader.keyframe_commands`) before anyone sees it."""

    seq: int


@dataclass(frozen=True, slots=True)
class Command:
    """One recorded call: ``op`` is ``"<CaptureName>.<method>"`` (``"Points.new"``).

    ``t_ns`` is monotonic nanoseconds since the session started (the header keeps the wall-clock
    anchor). ``args``/``kwargs`` hold plain values, numpy arrays, bytes, GSP enums, transform
    links and :class:`Ref` in place of GSP objects.
    """

    seq: int
    t_ns: int
    op: str
    target: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def type_name(self) -> str:
        """The capture name of the target's type (``"Points"`` for ``"Points.new"``)."""
        return self.op.partition(".")[0]

    @property
    def method(self) -> str:
        """The method part of ``op`` (``"new"`` for constructors)."""
        return self.op.partition(".")[2]


def _command_factory() -> Callable[[int, int, str, str, Any, Any], Command]:
    """A fast way to build Commands: a frozen dataclass's ``__init__`` goes through
    ``object.__setattr__`` per field (about 2 us a command in the development VM); setting the
    slots directly is the same object, built in a third of the time. Falls back to the plain
    constructor if Command is not a slots class."""
    fields = ("seq", "t_ns", "op", "target", "args", "kwargs")
    found = [getattr(Command.__dict__.get(name), "__set__", None) for name in fields]
    setters: list[Callable[[Command, Any], None]] = [s for s in found if s is not None]
    if len(setters) != len(fields) or not hasattr(Command, "__slots__"):
        return Command
    s_seq, s_t, s_op, s_target, s_args, s_kwargs = setters
    new = object.__new__

    def make(seq: int, t_ns: int, op: str, target: str, args: Any, kwargs: Any) -> Command:
        cmd = new(Command)
        s_seq(cmd, seq)
        s_t(cmd, t_ns)
        s_op(cmd, op)
        s_target(cmd, target)
        s_args(cmd, args)
        s_kwargs(cmd, kwargs)
        return cmd

    return make


#: ``make_command(seq, t_ns, op, target, args, kwargs)``: a :class:`Command`, built in a third of
#: the time of its constructor (the writer thread and the decoder build one per command).
make_command = _command_factory()


def linked_data(cmd: Command) -> LogRef | None:
    """The LogRef standing for the data of a linked keyframe's ``Buffer.set_data`` (else None)."""
    if cmd.op == "Buffer.set_data" and cmd.args and type(cmd.args[0]) is LogRef:
        return cmd.args[0]
    return None
