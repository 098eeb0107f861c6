"""The capture seam: observers are told of every public state-changing call on a GSP object.

`gsp` knows nothing of recording. Classes that take part subclass :class:`Captured`; their
public state-changing methods (``__init__``, every ``set_*``, and the names a class lists in
``_captured_methods_``) are *captured*. While at least one observer is registered each captured
method is wrapped so that, after it returns normally, every observer's ``on_call`` receives
``(target, op, args, kwargs)``. ``op`` is ``"<CaptureName>.<method>"`` with ``__init__``
spelled ``new`` (``"Points.new"``, ``"Buffer.set_data"``, ``"Renderer.render"``).

Cost when nobody observes: none. The wrappers are installed on the classes when the first
observer registers and removed when the last one leaves, so a plain call runs the original
function. Only the outermost captured call of a thread is reported: a constructor that calls
its own setters, or ``set_attributes`` calling ``set_x``, is one command, not several.

Events that are not method calls (animator frames, input events, user markers) are reported
with :func:`notify`.

The wrappers of methods that require 1 to 3 positional arguments are ``gsp._seam.CapturedMethod``
(gsp/_seam.c) when that extension is built: the same steps in C for the exact-positional call
shape. The Python wrappers below stay the reference and the fallback; ``GSP_NO_C_SEAM=1`` (read
when wrappers are installed) or :func:`use_seam` selects them.
"""

from __future__ import annotations

import copy
import functools
import inspect
import itertools
import os
import threading
import uuid as _uuid_module
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, ClassVar, Protocol

__all__ = [
    "CallObserver",
    "Captured",
    "add_observer",
    "remove_observer",
    "is_observed",
    "notify",
    "paused",
    "captured_classes",
    "captured_methods",
    "init_parameters",
    "new_uuid",
    "set_uuid_counter",
    "ENV_NO_C_SEAM",
    "use_seam",
    "seam_backend",
]


class CallObserver(Protocol):
    """What the seam calls. ``args``/``kwargs`` are the caller's own objects: copy what you keep."""

    def on_call(self, target: Captured, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None: ...


_observers: list[CallObserver] = []
_observer_tuple: tuple[CallObserver, ...] = ()  # what the wrappers iterate (replaced, never mutated)
_lock = threading.RLock()
_classes: dict[str, type[Captured]] = {}
# (class, attribute name) -> original function, for every wrapper currently installed.
_installed: dict[tuple[type, str], Callable[..., Any]] = {}


class _ThreadState(threading.local):
    """Per-thread nesting depth of captured calls, boxed in a one-item list: the hot path reads
    the thread-local once and then only indexes the list (cheaper than thread-local writes)."""

    def __init__(self) -> None:
        self.box = [0]


_state = _ThreadState()


# --------------------------------------------------------------------------------------------
# UUIDs: random by default, a deterministic counter for reproducible tests and golden files.
# --------------------------------------------------------------------------------------------
_uuid_counter: Iterator[int] | None = None


def set_uuid_counter(start: int | None) -> None:
    """Make new UUIDs deterministic (``start`` = first counter value) or random again (None)."""
    global _uuid_counter
    _uuid_counter = None if start is None else itertools.count(start)


def new_uuid() -> str:
    """A new object UUID: random, or ``00000000-0000-0000-0000-<counter>`` in counter mode."""
    if _uuid_counter is not None:
        return f"00000000-0000-0000-0000-{next(_uuid_counter):012d}"
    return str(_uuid_module.uuid4())


if os.environ.get("GSP_UUID_COUNTER"):
    set_uuid_counter(int(os.environ["GSP_UUID_COUNTER"]))


# --------------------------------------------------------------------------------------------
# Captured base class
# --------------------------------------------------------------------------------------------
class Captured:
    """Base of every GSP object whose calls can be recorded and replayed.

    Subclasses may set:
    - ``_capture_name_``: the type name written in commands (default: the class name). All
      renderers share ``"Renderer"`` so that replay can substitute another backend.
    - ``_capture_family_``: a name that this class and all its subclasses share.
    - ``_captured_methods_``: extra method names to capture besides ``__init__`` and ``set_*``.
    - ``_uncaptured_methods_``: ``set_*`` names that must not be captured (``set_uuid``
      changes identity, so recording relies on the UUID given at construction).
    """

    _capture_name_: ClassVar[str]
    _captured_methods_: ClassVar[tuple[str, ...]] = ()
    _uuid: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_capture_name_" not in cls.__dict__:
            # A family (all renderers are "Renderer") shares one name; others use their own.
            cls._capture_name_ = getattr(cls, "_capture_family_", None) or cls.__name__
        # The first class registered under a name is the one replay constructs.
        _classes.setdefault(cls._capture_name_, cls)
        with _lock:
            if _observers:
                _wrap_class(cls)

    def get_uuid(self) -> str:
        """The object's UUID, assigned at construction."""
        try:
            return self._uuid
        except AttributeError:
            self._uuid = new_uuid()
            return self._uuid

    def _assign_uuid_(self, value: str) -> None:
        """Give the object a recorded UUID (replay rebuilds objects under their original ids)."""
        self._uuid = value

    def __copy__(self) -> Any:
        """A shallow copy under a UUID of its own: under the original's UUID, the log would hold
        one object, and replay would apply the copy's changes to the original."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._uuid = new_uuid()
        return new

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        """A deep copy: this object and every GSP object it holds get UUIDs of their own."""
        new = object.__new__(type(self))
        memo[id(self)] = new
        for name, value in self.__dict__.items():
            new.__dict__[name] = copy.deepcopy(value, memo)
        new._uuid = new_uuid()
        return new

    @classmethod
    def _new_footprint_(cls, *args: Any, **kwargs: Any) -> int:
        """Bytes an object made with these constructor arguments would hold (see
        :meth:`_footprint_`), asked before it is made. 0 for arguments the constructor refuses."""
        return 0

    def _footprint_(self) -> int:
        """Bytes this object holds, or makes a renderer hold, in proportion to its arguments (a
        buffer's contents, a canvas's frame): replay bounds their sum over a scene, so that a log
        cannot make a player allocate without limit. 0 for objects of a fixed small size."""
        return 0

    def _snapshot_(self) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
        """Calls (method, args, kwargs) that rebuild this object's current state from nothing.

        The default constructs the object from its getters: for each parameter ``p`` of
        ``__init__`` it passes ``self.get_p()``. Classes whose state is not covered by their
        constructor (buffers, transform chains) override this.
        """
        params = [p for p in init_parameters(type(self)) if p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY)]
        args = tuple(getattr(self, f"get_{p.name}")() for p in params)
        return [("__init__", args, {})]


_init_parameters: dict[type, tuple[inspect.Parameter, ...]] = {}


def init_parameters(cls: type[Any]) -> tuple[inspect.Parameter, ...]:
    """The parameters of ``cls.__init__`` after ``self``, in order. Kept per class: snapshots
    and attribute checks ask for them per object (``inspect.signature`` took a fifth of the
    time a recorder spent logging 3 000 visuals made before it started)."""
    params = _init_parameters.get(cls)
    if params is None:  # two threads may both compute it: the same tuple
        params = _init_parameters[cls] = tuple(
            p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self")
    return params


def captured_classes() -> dict[str, type[Captured]]:
    """Capture name -> class, for replay. Only these classes can be built from a log."""
    return dict(_classes)


def captured_methods(cls: type) -> list[str]:
    """Names of the methods of ``cls`` (own or inherited) that the seam captures."""
    names: list[str] = []
    for klass in cls.__mro__:
        if not (isinstance(klass, type) and issubclass(klass, Captured)):
            continue
        for name in klass.__dict__:
            if name not in names and _is_captured_name(klass, name):
                names.append(name)
    return names


def _is_captured_name(cls: type, name: str) -> bool:
    if not callable(cls.__dict__.get(name)) or isinstance(cls.__dict__.get(name), (staticmethod, classmethod)):
        return False
    extra: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    for klass in cls.__mro__:
        extra = extra + tuple(klass.__dict__.get("_captured_methods_", ()))
        excluded = excluded + tuple(klass.__dict__.get("_uncaptured_methods_", ()))
    if name in excluded:
        return False
    return name == "__init__" or name.startswith("set_") or name in extra


def _op_name(target: Captured, method: str) -> str:
    return f"{type(target)._capture_name_}.{'new' if method == '__init__' else method}"


_NO = object()  # sentinel of the fixed-arity wrappers: "this positional argument was not given"


def _cached_op(ops: dict[type, str], target: Captured, method: str) -> str:
    op = ops[type(target)] = _op_name(target, method)
    return op


# --------------------------------------------------------------------------------------------
# Choice of the wrapper: C (gsp._seam) or Python
# --------------------------------------------------------------------------------------------
#: Set to "1" to make wrappers installed from then on Python functions even when gsp._seam is built.
ENV_NO_C_SEAM = "GSP_NO_C_SEAM"
_seam_choice: str | None = None  # set by use_seam(); None: the environment decides


def _seam_module() -> ModuleType | None:
    """``gsp._seam`` when new wrappers should be C ones, else None (read at each install)."""
    if _seam_choice == "python":
        return None
    if _seam_choice is None and os.environ.get(ENV_NO_C_SEAM, "") not in ("", "0"):
        return None
    try:
        from gsp import _seam
    except ImportError:  # not built (no compiler at install time): the Python wrappers run
        return None
    return _seam


def seam_backend() -> str:
    """``"c"`` when wrappers installed now would be ``gsp._seam``'s, ``"python"`` otherwise."""
    return "c" if _seam_module() is not None else "python"


def use_seam(backend: str | None) -> None:
    """Make the wrappers ``"c"`` or ``"python"`` (tests and benchmarks run both in one process);
    None gives the choice back to :data:`ENV_NO_C_SEAM`. Wrappers already installed are remade at
    once. ``ValueError`` for an unknown name, or ``"c"`` when the extension is not built."""
    global _seam_choice
    if backend not in ("c", "python", None):
        raise ValueError(f"unknown seam backend {backend!r} (expected 'c', 'python' or None)")
    if backend == "c":
        try:
            from gsp import _seam  # noqa: F401
        except ImportError as error:
            raise ValueError(f"the C seam gsp._seam is not usable: {error}") from None
    with _lock:
        _seam_choice = backend
        if _installed:  # remake what is installed, so the choice holds from the next call on
            _uninstall_all()
            _install_all()


def _make_wrapper(original: Callable[..., Any], method: str) -> Callable[..., Any]:
    # The hot path of every recorded call: one thread-local read, the depth kept in a list item,
    # op names cached per class, observers read from a tuple that is replaced, never mutated.
    ops: dict[type, str] = {}

    def captured_call(self: Captured, *args: Any, **kwargs: Any) -> Any:
        box = _state.box
        if box[0]:  # inside another captured call (or paused): not reported
            return original(self, *args, **kwargs)
        box[0] = 1  # stays raised while observers run: calls they make are not reported again
        try:
            result = original(self, *args, **kwargs)
            op = ops.get(type(self)) or _cached_op(ops, self, method)
            for observer in _observer_tuple:
                observer.on_call(self, op, args, kwargs)
        finally:
            box[0] = 0
        return result

    seam = _seam_module()
    arity = _required_positionals(original) if seam is not None else None
    wrapper: Callable[..., Any]
    if seam is not None and arity is not None and 1 <= arity <= 3:
        # The C wrapper takes the exact-positional shape and hands every other to captured_call,
        # whose errors then name the method as call1/call2/call3's would.
        captured_call.__qualname__ = getattr(original, "__qualname__", captured_call.__qualname__)
        wrapper = seam.CapturedMethod(original, method, arity, ops, captured_call, _state, globals())
    else:
        wrapper = _fixed_arity_wrapper(original, method, ops, captured_call) or captured_call
    functools.update_wrapper(wrapper, original)
    wrapper.__gsp_original__ = original  # type: ignore[attr-defined,union-attr]
    return wrapper


def _required_positionals(fn: Callable[..., Any]) -> int | None:
    """How many positional parameters after ``self`` ``fn`` requires (None: not a plain function)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    defaults = getattr(fn, "__defaults__", None) or ()
    return int(code.co_argcount) - 1 - len(defaults)


def _fixed_arity_wrapper(
    original: Callable[..., Any], method: str, ops: dict[type, str], general: Callable[..., Any]
) -> Callable[..., Any] | None:
    """A wrapper for the commonest call shape (exactly the required positional arguments, no
    keywords) that calls ``original`` without ``*args`` unpacking (0.2-0.4 us less per call in
    CPython 3.11); other shapes go through ``general``. None for arities other than 1 to 3."""
    n = _required_positionals(original)
    if n == 1:

        def call1(self: Captured, a: Any = _NO, /, *more: Any, **kwargs: Any) -> Any:
            if more or kwargs or a is _NO:
                return general(self, *more, **kwargs) if a is _NO else general(self, a, *more, **kwargs)
            box = _state.box
            if box[0]:
                return original(self, a)
            box[0] = 1
            try:
                result = original(self, a)
                op = ops.get(type(self)) or _cached_op(ops, self, method)
                for observer in _observer_tuple:
                    observer.on_call(self, op, (a,), {})
            finally:
                box[0] = 0
            return result

        return call1
    if n == 2:

        def call2(self: Captured, a: Any = _NO, b: Any = _NO, /, *more: Any, **kwargs: Any) -> Any:
            if more or kwargs or b is _NO:
                args = tuple(x for x in (a, b) if x is not _NO) + more
                return general(self, *args, **kwargs)
            box = _state.box
            if box[0]:
                return original(self, a, b)
            box[0] = 1
            try:
                result = original(self, a, b)
                op = ops.get(type(self)) or _cached_op(ops, self, method)
                for observer in _observer_tuple:
                    observer.on_call(self, op, (a, b), {})
            finally:
                box[0] = 0
            return result

        return call2
    if n == 3:

        def call3(self: Captured, a: Any = _NO, b: Any = _NO, c: Any = _NO, /, *more: Any, **kwargs: Any) -> Any:
            if more or kwargs or c is _NO:
                args = tuple(x for x in (a, b, c) if x is not _NO) + more
                return general(self, *args, **kwargs)
            box = _state.box
            if box[0]:
                return original(self, a, b, c)
            box[0] = 1
            try:
                result = original(self, a, b, c)
                op = ops.get(type(self)) or _cached_op(ops, self, method)
                for observer in _observer_tuple:
                    observer.on_call(self, op, (a, b, c), {})
            finally:
                box[0] = 0
            return result

        return call3
    return None


def _dispatch(target: Captured, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # Observers run with depth raised so that calls they make are not reported again.
    box = _state.box
    box[0] += 1
    try:
        for observer in _observer_tuple:
            observer.on_call(target, op, args, kwargs)
    finally:
        box[0] -= 1


def _wrap_class(cls: type) -> None:
    for name in list(cls.__dict__):
        if (cls, name) in _installed or not _is_captured_name(cls, name):
            continue
        original = cls.__dict__[name]
        _installed[(cls, name)] = original
        setattr(cls, name, _make_wrapper(original, name))


def _install_all() -> None:
    for cls in _all_subclasses(Captured):
        _wrap_class(cls)


def _uninstall_all() -> None:
    for (cls, name), original in list(_installed.items()):
        setattr(cls, name, original)
    _installed.clear()


def _all_subclasses(cls: type) -> list[type]:
    seen: list[type] = []
    stack: list[type] = list(cls.__subclasses__())
    while stack:
        sub = stack.pop()
        if sub not in seen:
            seen.append(sub)
            stack.extend(sub.__subclasses__())
    return seen


# --------------------------------------------------------------------------------------------
# Observer registration and explicit events
# --------------------------------------------------------------------------------------------
def add_observer(observer: CallObserver) -> None:
    """Start telling ``observer`` of every captured call (installs the wrappers if needed)."""
    with _lock:
        global _observer_tuple
        if not _observers:
            _install_all()
        _observers.append(observer)
        _observer_tuple = tuple(_observers)


def remove_observer(observer: CallObserver) -> None:
    """Stop telling ``observer``; the last removal restores the plain, unwrapped methods."""
    with _lock:
        global _observer_tuple
        if observer in _observers:
            _observers.remove(observer)
        _observer_tuple = tuple(_observers)
        if not _observers:
            _uninstall_all()


def is_observed() -> bool:
    """True while at least one observer is registered."""
    return bool(_observers)


def notify(target: Captured, method: str, *args: Any, **kwargs: Any) -> None:
    """Report an event that is not a captured method call, such as an animator frame.

    Reported only from the outermost level, like captured calls; a no-op without observers.
    """
    if _observers and _state.box[0] == 0:
        _dispatch(target, _op_name(target, method), args, kwargs)


class _Paused:
    """The context manager of :func:`paused`: a class rather than a generator, since replay
    enters one per command (a generator-based one cost about 1 us)."""

    __slots__ = ("_box",)

    def __enter__(self) -> None:
        box = self._box = _state.box
        box[0] += 1

    def __exit__(self, *exc: object) -> None:
        self._box[0] -= 1


def paused() -> _Paused:
    """``with paused():`` calls made inside the block on this thread are not reported (used by replay)."""
    return _Paused()
