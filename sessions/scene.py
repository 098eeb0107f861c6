"""SceneState: the scene a command stream describes, as real ``gsp`` objects.

Used by the writer (to emit keyframes), the player (to rebuild the scene it renders) and the
transports (to serve late joiners and compare nodes with :meth:`SceneState.state_hash`).
Objects are constructed only from ``gsp.capture.captured_classes()`` and only captured methods
are called: nothing named in a log is imported or evaluated.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Collection
from typing import Any

import numpy as np

from sessions.codec import encode_value
from sessions.command import Command, Ref
from sessions.errors import CommandError, UnknownObjectError
from sessions.limits import DEFAULT_LIMITS, Limits, size_text

__all__ = ["SceneState", "KEYFRAME_OP", "RECORD_FAMILIES", "RELEASE_METHOD", "UnknownRef"]

#: First command of every keyframe: "what follows is the whole scene; forget the previous one".
KEYFRAME_OP = "Scene.keyframe"
#: Families kept as records (the player supplies the backend), not constructed here.
RECORD_FAMILIES = ("Renderer", "Animator", "ViewportEvents")
#: ``<Type>.release``: the recorded script dropped the object (its last reference went away), so
#: the scene forgets it; kept while a renderer's latest render still draws it (protocol 1.2).
RELEASE_METHOD = "release"
_EVENT_METHODS = ("frame", "event")
#: Removes a link from a chain: logs of older recorders may name it by another value (see
#: :func:`_remove_by_type`).
_CHAIN_REMOVE_OP = "TransformChain.remove"
# Argument types that hold no Ref: a command with only these needs no resolving (most calls).
_ATOMIC = frozenset({int, float, str, bool, type(None), bytes, bytearray, np.ndarray})


_GSP_MODULES = ("gsp.core", "gsp.types", "gsp.visuals", "gsp.geometry", "gsp.materials", "gsp.lights",
                "gsp.transforms")


def _import_gsp_classes() -> None:
    """Import gsp's public modules so every Captured class is registered (fixed names, ours)."""
    import importlib

    for name in _GSP_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # a part of gsp not written yet


class UnknownRef(KeyError):
    """A :class:`Ref` to an object the scene does not hold (``uuid``)."""

    def __init__(self, uuid: str) -> None:
        super().__init__(f"unknown object {uuid}")
        self.uuid = uuid


class SceneState:
    """Applies commands to ``gsp`` objects rebuilt under their recorded UUIDs.

    The bytes the scene's objects hold (buffer contents, canvas frames: ``Captured._footprint_``)
    add up to ``limits.max_scene_bytes`` at most: a command that would take them past it raises
    :class:`CommandError` before anything is allocated, so that a log or a live stream cannot
    make a player or a relay allocate without bound.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        from gsp import capture

        _import_gsp_classes()
        self._capture = capture
        self.limits = limits
        self._classes = capture.captured_classes()
        self._methods: dict[type, frozenset[str]] = {}
        self._warned: set[str] = set()
        self.reset()

    def reset(self) -> None:
        """Forget everything."""
        self.objects: dict[str, Any] = {}  # uuid -> gsp object, in creation order
        self.records: dict[str, Command] = {}  # uuid -> Renderer/Animator/ViewportEvents "new" command
        self.last_render: dict[str, Command] = {}  # renderer uuid -> its latest Renderer.render
        self.last_seq = 0
        self._footprints: dict[str, int] = {}  # uuid -> bytes its object holds, when not 0
        self.footprint = 0  # their sum: bytes the scene holds
        self.releasing: dict[str, str] = {}  # uuid -> release op, for objects a latest render still draws

    # -- lookups ---------------------------------------------------------------------------------
    def get(self, uuid: str) -> Any:
        """The object with this UUID (KeyError when unknown)."""
        return self.objects[uuid]

    def resolve(self, value: Any) -> Any:
        """``value`` with every :class:`Ref` replaced by its object (lists/tuples/dicts deeply);
        :class:`UnknownRef` (a KeyError) for a Ref to an object the scene does not hold."""
        if isinstance(value, Ref):
            try:
                return self.objects[value.uuid]
            except KeyError:
                raise UnknownRef(value.uuid) from None
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, stacklevel=3)

    def _captured(self, cls: type) -> frozenset[str]:
        names = self._methods.get(cls)
        if names is None:
            names = frozenset(self._capture.captured_methods(cls))
            self._methods[cls] = names
        return names

    # -- applying --------------------------------------------------------------------------------
    def apply(self, cmd: Command) -> Any:
        """Apply one command; returns the object it created or called (None for records/events).

        Unknown types and methods are skipped with a warning (forward compatibility). A command
        that cannot be applied raises :class:`CommandError` naming its seq and op.
        """
        self.last_seq = cmd.seq
        family, _, method = cmd.op.partition(".")
        if cmd.op == KEYFRAME_OP:
            self.reset()
            self.last_seq = cmd.seq
            return None
        if family == "Recorder" or method in _EVENT_METHODS and family in RECORD_FAMILIES:
            return None
        if family in RECORD_FAMILIES:
            self._apply_record(cmd, method)
            return None
        if method == RELEASE_METHOD:
            if cmd.target in self.objects:
                self.releasing[cmd.target] = cmd.op
                self._forget_released()
            return None
        try:
            args = cmd.args
            for value in args:
                if type(value) not in _ATOMIC:  # a reference, perhaps inside a container
                    args = self.resolve(args)
                    break
            kwargs = self.resolve(cmd.kwargs) if cmd.kwargs else {}
        except UnknownRef as error:
            raise UnknownObjectError(f"seq {cmd.seq} {cmd.op}: unknown object {error.uuid}", seq=cmd.seq, op=cmd.op,
                                     uuid=error.uuid) from None
        if method == "new":
            cls = self._classes.get(family)
            if cls is None:
                self._classes = self._capture.captured_classes()  # classes imported since
                cls = self._classes.get(family)
            if cls is None:
                self._warn_once(cmd.op, f"seq {cmd.seq}: skipping {cmd.op}: unknown type {family!r}")
                return None
            self._check_footprint(cmd, cls._new_footprint_(*args, **kwargs))  # before it allocates
            try:
                with self._capture.paused():
                    obj: Any = cls(*args, **kwargs)
                    obj._assign_uuid_(cmd.target)
            except Exception as error:
                raise CommandError(f"seq {cmd.seq} {cmd.op} (target {cmd.target}): {type(error).__name__}: {error}") from None
            self.objects[cmd.target] = obj
            self._hold(cmd.target, obj._footprint_())
            return obj
        obj = self.objects.get(cmd.target)
        if obj is None:
            raise UnknownObjectError(f"seq {cmd.seq} {cmd.op}: unknown target object {cmd.target}", seq=cmd.seq,
                                     op=cmd.op, uuid=cmd.target)
        if method not in self._captured(type(obj)):
            self._warn_once(cmd.op, f"seq {cmd.seq}: skipping {cmd.op}: not a recordable method of {family}")
            return None
        try:
            with self._capture.paused():
                getattr(obj, method)(*args, **kwargs)
        except Exception as error:
            by_type = cmd.op == _CHAIN_REMOVE_OP and isinstance(error, ValueError) and self._remove_by_type(cmd, obj, args)
            if not by_type:
                raise CommandError(f"seq {cmd.seq} {cmd.op} (target {cmd.target}): {type(error).__name__}: {error}") from None
        size = obj._footprint_()  # a canvas resized: what it makes a renderer hold
        if size != self._footprints.get(cmd.target, 0):
            self._check_footprint(cmd, size)
            self._hold(cmd.target, size)
        return obj

    def _remove_by_type(self, cmd: Command, chain: Any, args: Any) -> bool:
        """A ``TransformChain.remove`` whose link is not in the chain. Recorders before the one
        that logs a link's remove with the value its add logged logged the link as it was at the
        remove, so a link whose fields changed in between (its buffer written) is named there by
        another value. When exactly one link of the chain has its type, that is the one: it is
        removed, with one warning per SceneState naming the first such command. False (the error
        stands) when none or several have it."""
        if len(args) != 1:
            return False
        kind = _link_kind(args[0])
        same = [link for link in chain.get_links() if _link_kind(link) == kind]
        if len(same) != 1:
            return False
        with self._capture.paused():
            chain.remove(same[0])
        self._warn_once(f"{_CHAIN_REMOVE_OP} by type", f"seq {cmd.seq} {cmd.op} (target {cmd.target}): the {_kind_name(kind)} "
                        "link it removes is not in the chain: the chain's only link of that type was removed "
                        "instead (an older recorder logged a link's remove with its value at the remove, not "
                        "the one its add logged); later such removes are not reported")
        return True

    def _check_footprint(self, cmd: Command, size: int) -> None:
        """Raise CommandError when the target's object holding ``size`` bytes would take the scene
        past ``limits.max_scene_bytes``."""
        total = self.footprint - self._footprints.get(cmd.target, 0) + size
        if total > self.limits.max_scene_bytes:
            raise CommandError(
                f"seq {cmd.seq} {cmd.op} (target {cmd.target}): the scene would hold {size_text(total)} of buffers "
                f"and frames, over the limit of {size_text(self.limits.max_scene_bytes)} (Limits.max_scene_bytes; "
                "--max-scene-gib of gsp-replay, trim, node and relay)"
            )

    def _hold(self, target: str, size: int) -> None:
        self.footprint += size - self._footprints.pop(target, 0)
        if size:
            self._footprints[target] = size

    def _forget_released(self) -> None:
        """Drop the released objects no renderer's latest render names: nothing can name them
        again (the recorded script no longer held them). An object a released one holds stays
        as long as its holder does; objects that are no longer held are released themselves."""
        drawn: set[str] = set()
        for render in self.last_render.values():
            _ref_uuids(render.args, drawn)
        for uuid in [u for u in self.releasing if u not in drawn]:
            del self.releasing[uuid]
            self.objects.pop(uuid, None)
            self._hold(uuid, 0)

    def _apply_record(self, cmd: Command, method: str) -> None:
        if method == "new":
            self.records[cmd.target] = cmd
        elif method == "render":
            self.last_render[cmd.target] = cmd
            if self.releasing:
                self._forget_released()
        elif method in ("close", RELEASE_METHOD):  # released: the script dropped it unclosed
            self.records.pop(cmd.target, None)
            if self.last_render.pop(cmd.target, None) is not None and self.releasing:
                self._forget_released()
        elif method == "clear":
            if self.last_render.pop(cmd.target, None) is not None and self.releasing:
                self._forget_released()

    # -- snapshots -------------------------------------------------------------------------------
    def _to_wire(self, value: Any, deps: list[Any] | None = None) -> Any:
        if isinstance(value, self._capture.Captured):
            if deps is not None:
                deps.append(value)
            return Ref(value.get_uuid())
        if isinstance(value, list):
            return [self._to_wire(v, deps) for v in value]
        if isinstance(value, tuple):
            return tuple(self._to_wire(v, deps) for v in value)
        if isinstance(value, dict):
            return {k: self._to_wire(v, deps) for k, v in value.items()}
        return value

    def _object_commands(self, loans: list[Any] | None = None, *, unwritten: bool = False,
                         stale: Collection[str] = ()) -> list[tuple[str, str, tuple[Any, ...], dict[str, Any]]]:
        """(op, target, args, kwargs) rebuilding every object, referenced objects first.

        ``loans``: Buffer contents are lent (:meth:`gsp.types.Buffer.lend`, no copy) and each
        loan appended there, instead of copied. ``unwritten``: a buffer :meth:`_never_written`
        (and not in ``stale``) gets its ``Buffer.new`` alone.
        """
        out: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = []
        done: set[int] = set()
        visiting: set[int] = set()

        def visit(obj: Any) -> None:
            key = id(obj)
            if key in done or key in visiting:
                return
            visiting.add(key)
            name = type(obj)._capture_name_
            uuid = obj.get_uuid()
            calls = []
            snapshot_calls: list[tuple[str, Any, Any]]
            if unwritten and uuid not in stale and self._never_written(obj, name, uuid):
                snapshot_calls = [("__init__", (obj.get_count(), obj.get_type()), {})]
            else:
                snapshot_calls = _snapshot_calls(obj, name, loans)
            for method, args, kwargs in snapshot_calls:
                deps: list[Any] = []
                wire_args = self._to_wire(tuple(args), deps)
                wire_kwargs = self._to_wire(dict(kwargs), deps)
                for dep in deps:
                    visit(dep)  # noqa: F821 (deleted below, once every call is done)
                op = f"{name}.{'new' if method == '__init__' else method}"
                calls.append((op, uuid, wire_args, wire_kwargs))
            visiting.discard(key)
            done.add(key)
            out.extend(calls)

        for obj in list(self.objects.values()):
            visit(obj)
        # visit's closure holds visit itself: a cycle that kept ``out`` (every buffer's contents)
        # alive until the cyclic collector ran, which the recorder makes rare. Break it.
        del visit
        return out

    def _never_written(self, obj: Any, name: str, uuid: str) -> bool:
        """Whether ``obj`` is a Buffer of this scene that holds what its ``Buffer.new`` made (zeros):
        made by :meth:`apply` and never written since (``version`` 0: no ``set_data`` reached it;
        storage never exposed: nothing wrote into it behind ``set_data``'s back)."""
        return name == "Buffer" and obj.version == 0 and not obj.storage_exposed and self.objects.get(uuid) is obj

    def snapshot(self, seq: int | None = None, t_ns: int = 0, *, loans: list[Any] | None = None,
                 stale: Collection[str] = ()) -> list[Command]:
        """Commands that rebuild the whole current scene, all stamped ``(seq, t_ns)``.

        ``Scene.keyframe`` first, then every object (dependencies first), the renderer /
        animator / viewport-events records, and each renderer's latest ``Renderer.render``.
        ``loans``: a list that receives a :class:`gsp.types.ContentsLoan` per Buffer, whose
        contents the commands then reference instead of copies (later commands applied to this
        state do not change them); release them once the commands are encoded and written.

        A buffer never written since its ``Buffer.new`` is rebuilt by that ``Buffer.new`` alone:
        replaying it gives the same zeros, and a big buffer a script has not filled yet does not
        fill the snapshot with them. ``stale``: UUIDs of buffers whose writes the caller kept
        from this state (the log writer's deferred linked writes, ``SceneLedger.deferred``):
        their contents here are not the scene's, so they keep their ``Buffer.set_data`` for the
        caller to replace, written or not.
        """
        seq = self.last_seq if seq is None else seq
        commands = [Command(seq, t_ns, KEYFRAME_OP, "", (seq,))]
        for op, target, args, kwargs in self._object_commands(loans, unwritten=True, stale=stale):
            commands.append(Command(seq, t_ns, op, target, args, kwargs))
        for rec in list(self.records.values()) + list(self.last_render.values()):
            commands.append(Command(seq, t_ns, rec.op, rec.target, rec.args, rec.kwargs))
        # Objects released while a latest render still draws them: released again once rebuilt.
        commands.extend(Command(seq, t_ns, op, uuid) for uuid, op in self.releasing.items())
        return commands

    def state_hash(self) -> str:
        """A stable SHA-256 (hex) of every object's state, buffer bytes included, and the records."""
        digest = hashlib.sha256()
        items = [(target, op, args, kwargs) for op, target, args, kwargs in self._object_commands()]
        items += [(r.target, r.op, r.args, r.kwargs) for r in self.records.values()]
        items += [(r.target, r.op, r.args, r.kwargs) for r in self.last_render.values()]
        items.sort(key=lambda item: (item[0], item[1]))
        for target, op, args, kwargs in items:
            digest.update(encode_value([target, op, list(args), kwargs]))
        return digest.hexdigest()

    def __len__(self) -> int:
        return len(self.objects)


def _link_kind(link: Any) -> Any:
    """What makes two transform links of one type: the recorded type name of a link kept as
    recorded (``RecordedLink``), else the class."""
    from gsp.transforms.transform_link_recorded import RecordedLink

    return link.link_type if isinstance(link, RecordedLink) else type(link)


def _kind_name(kind: Any) -> str:
    return repr(kind) if isinstance(kind, str) else repr(getattr(kind, "_link_name_", kind.__name__))


def _ref_uuids(value: Any, out: set[str]) -> None:
    """Add the UUID of every Ref in ``value`` (lists / tuples / dicts, deeply) to ``out``."""
    if isinstance(value, Ref):
        out.add(value.uuid)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _ref_uuids(item, out)
    elif isinstance(value, dict):
        for item in value.values():
            _ref_uuids(item, out)


def _snapshot_calls(obj: Any, name: str, loans: list[Any] | None) -> list[tuple[str, Any, Any]]:
    """``obj._snapshot_()``; a Buffer's contents lent rather than copied when ``loans`` is given."""
    if loans is not None and name == "Buffer":
        loan = obj.lend()
        if loan is not None:
            loans.append(loan)
            count = obj.get_count()
            return [("__init__", (count, obj.get_type()), {}), ("set_data", (loan.array, 0, count), {})]
    return obj._snapshot_()  # type: ignore[no-any-return]
