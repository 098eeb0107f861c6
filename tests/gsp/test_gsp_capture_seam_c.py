"""The seam's wrappers in every call shape, on both implementations (C gsp._seam and Python).

The C wrapper (gsp/_seam.c) must do what capture.py's call1/call2/call3 do: same reports, same
errors, same nesting depth (shared with paused() and the Python wrappers), no reference leaks.
"""

from __future__ import annotations

import gc
import inspect
import sys
import threading
import types
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from seam_backends import BACKENDS, c_seam_module, seam_backend

from gsp import capture
from gsp.capture import Captured, add_observer, paused, remove_observer
from gsp.core import Viewport
from gsp.types import Buffer, BufferType

Call = tuple[str, tuple[Any, ...], dict[str, Any]]


class Probe(Captured):
    """Captured methods of every arity the fast wrappers take (1 to 3), with and without defaults."""

    _capture_name_ = "SeamProbe"
    _captured_methods_ = ("move", "spread", "count_args")

    def __init__(self, a: Any, b: Any = 0) -> None:
        self.a = a
        self.set_b(b)  # nested: the constructor is one command

    def set_a(self, a: Any) -> Any:
        """Set a."""
        self.a = a
        return ("a", a)

    def set_b(self, b: Any) -> None:
        self.b = b

    def set_ab(self, a: Any, b: Any, scale: int = 1) -> None:
        self.a, self.b = (a, b) if scale == 1 else (a * scale, b * scale)

    def set_abc(self, a: Any, b: Any, c: Any) -> None:
        self.a, self.b, self.c = a, b, c

    def set_both(self, a: Any) -> None:
        self.set_a(a)  # nested: reported as set_both only
        self.set_b(a)

    def set_bad(self, a: Any) -> None:
        raise ValueError(f"bad {a}")

    def move(self, a: Any, b: Any, c: Any, d: Any) -> None:  # arity 4: Python wrapper
        self.a = (a, b, c, d)

    def spread(self, *values: Any) -> None:  # arity 0: Python wrapper
        self.a = values

    def count_args(self, a: Any, /, b: Any, *, key: Any = None) -> None:
        self.a, self.b = a, (b, key)


class SubProbe(Probe):
    _capture_name_ = "SeamSubProbe"


class Calls:
    """An observer keeping (op, args, kwargs)."""

    def __init__(self) -> None:
        self.seen: list[Call] = []

    def on_call(self, target: Captured, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.seen.append((op, args, kwargs))


@pytest.fixture
def calls(seam: str) -> Iterator[Calls]:
    observer = Calls()
    add_observer(observer)
    try:
        yield observer
    finally:
        remove_observer(observer)


def _wrapper(cls: type, name: str) -> Any:
    return cls.__dict__[name]


def _depth() -> int:
    return int(capture._state.box[0])


# ---- the module and the choice -------------------------------------------------------------
def test_c_module_is_built_and_used_for_arities_one_to_three(calls: Calls, seam: str) -> None:
    module = c_seam_module()
    fast = type(_wrapper(Probe, "set_a")) is module.CapturedMethod
    assert fast == (seam == "c")
    for name in ("set_ab", "set_abc", "__init__"):
        assert (type(_wrapper(Probe, name)) is module.CapturedMethod) == (seam == "c")
    for name in ("move", "spread"):  # arity 4 and 0: the Python wrappers whatever the choice
        assert isinstance(_wrapper(Probe, name), types.FunctionType)
    # a positional-only and b positional-or-keyword (the keyword-only key aside): arity 2
    assert isinstance(_wrapper(Probe, "count_args"), types.FunctionType) == (seam == "python")
    if seam == "c":
        assert _wrapper(Probe, "set_abc").arity == 3 and _wrapper(Probe, "set_a").original is Probe.set_a.__wrapped__


def test_env_var_selects_the_python_wrappers(monkeypatch: pytest.MonkeyPatch) -> None:
    c_seam_module()
    observer = Calls()
    monkeypatch.setenv(capture.ENV_NO_C_SEAM, "1")
    assert capture.seam_backend() == "python"
    add_observer(observer)
    try:
        assert isinstance(_wrapper(Probe, "set_a"), types.FunctionType)
    finally:
        remove_observer(observer)
    monkeypatch.setenv(capture.ENV_NO_C_SEAM, "0")
    assert capture.seam_backend() == "c"
    add_observer(observer)
    try:
        assert not isinstance(_wrapper(Probe, "set_a"), types.FunctionType)
    finally:
        remove_observer(observer)
    with pytest.raises(ValueError, match="unknown seam backend"):
        capture.use_seam("cython")


def test_use_seam_remakes_installed_wrappers(calls: Calls) -> None:
    c_seam_module()
    p = Probe(1)
    capture.use_seam("python")
    assert isinstance(_wrapper(Probe, "set_a"), types.FunctionType)
    p.set_a(2)
    capture.use_seam("c")
    assert not isinstance(_wrapper(Probe, "set_a"), types.FunctionType)
    p.set_a(3)
    assert calls.seen[-2:] == [("SeamProbe.set_a", (2,), {}), ("SeamProbe.set_a", (3,), {})]


# ---- call shapes -----------------------------------------------------------------------------
def _outcome(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        result = fn(*args, **kwargs)
        return ("ok", type(result).__name__ if isinstance(result, Captured) else result)
    except Exception as error:  # noqa: BLE001 - the error is the outcome compared
        return (type(error).__name__, str(error))


def _shapes(p: Probe) -> list[Any]:
    """Every call shape on the probe, each with its outcome."""
    return [
        _outcome(p.set_a, 1),
        _outcome(p.set_a, a=2),
        _outcome(p.set_a),
        _outcome(p.set_a, 1, 2),
        _outcome(p.set_a, 1, a=2),
        _outcome(p.set_a, b=2),
        _outcome(Probe.set_a, p, 3),
        _outcome(Probe.set_a, self=p, a=4),
        _outcome(Probe.set_a, p, 1, self=p),
        _outcome(p.set_ab, 1, 2),
        _outcome(p.set_ab, 1, 2, 3),
        _outcome(p.set_ab, 1, 2, scale=3),
        _outcome(p.set_ab, 1),
        _outcome(p.set_ab, 1, b=2),
        _outcome(p.set_abc, 1, 2, 3),
        _outcome(p.set_abc, 1, 2),
        _outcome(p.set_abc, 1, 2, 3, 4),
        _outcome(p.set_abc, 1, 2, c=3),
        _outcome(p.set_abc, *(1, 2), **{"c": 3}),
        _outcome(p.count_args, 1, 2),
        _outcome(p.count_args, 1, b=2, key=3),
        _outcome(p.count_args, a=1, b=2),
        _outcome(p.move, 1, 2, 3, 4),
        _outcome(p.spread),
        _outcome(p.spread, 1, 2),
        _outcome(p.set_bad, 5),
        _outcome(Probe, 7),
        _outcome(Probe, 7, b=8),
        _outcome(Probe),
        _outcome(SubProbe, 9),
    ]


def test_every_call_shape_is_reported_as_made_and_errors_are_the_plain_calls() -> None:
    plain_probe = Probe(0)
    plain = _shapes(plain_probe)
    seen = {}
    results = {}
    for backend in BACKENDS:
        if backend == "c":
            c_seam_module()
        with seam_backend(backend):
            observer = Calls()
            p = Probe(0)
            add_observer(observer)
            try:
                results[backend] = _shapes(p)
            finally:
                remove_observer(observer)
            seen[backend] = observer.seen
            assert _depth() == 0
    # Same outcomes (values and error messages) as the plain, unwrapped methods. The Python call1
    # wrapper differs in two shapes that pass self by keyword (its self is positional-only); the C
    # wrapper hands them to captured_call, which takes them as the plain method does.
    assert results["c"] == plain
    self_keyword = {7, 8}  # Probe.set_a(self=p, a=4), Probe.set_a(p, 1, self=p)
    assert [r for i, r in enumerate(results["python"]) if i not in self_keyword] == [
        r for i, r in enumerate(plain) if i not in self_keyword
    ]
    assert results["python"][7] == ("TypeError", "Probe.set_a() missing 1 required positional argument: 'self'")
    assert results["python"][8][1].endswith("captured_call() got multiple values for argument 'self'")
    assert seen["c"][3] == ("SeamProbe.set_a", (), {"a": 4})  # the call Python's call1 refuses
    assert seen["c"][:3] + seen["c"][4:] == seen["python"]
    del seen["c"][3]
    assert seen["c"][:11] == [
        ("SeamProbe.set_a", (1,), {}),
        ("SeamProbe.set_a", (), {"a": 2}),
        ("SeamProbe.set_a", (3,), {}),
        ("SeamProbe.set_ab", (1, 2), {}),
        ("SeamProbe.set_ab", (1, 2, 3), {}),
        ("SeamProbe.set_ab", (1, 2), {"scale": 3}),
        ("SeamProbe.set_ab", (1,), {"b": 2}),
        ("SeamProbe.set_abc", (1, 2, 3), {}),
        ("SeamProbe.set_abc", (1, 2), {"c": 3}),
        ("SeamProbe.set_abc", (1, 2), {"c": 3}),
        ("SeamProbe.count_args", (1, 2), {}),
    ]
    assert [s[0] for s in seen["c"][11:]] == [
        "SeamProbe.count_args", "SeamProbe.move", "SeamProbe.spread", "SeamProbe.spread",
        "SeamProbe.new", "SeamProbe.new", "SeamSubProbe.new",
    ]


def test_missing_argument_error_names_the_method(calls: Calls) -> None:
    p = Probe(0)
    with pytest.raises(TypeError, match=r"^Probe\.set_a\(\) missing 1 required positional argument: 'a'$"):
        p.set_a()
    with pytest.raises(TypeError, match=r"^Probe\.set_abc\(\) missing 1 required positional argument: 'c'$"):
        p.set_abc(1, 2)
    with pytest.raises(TypeError, match=r"^Probe\.set_a\(\) takes 2 positional arguments but 3 were given$"):
        p.set_a(1, 2)
    vp = Viewport(0, 0, 10, 10, bytearray(4))
    with pytest.raises(TypeError, match=r"Viewport\.set_x\(\) missing 1 required positional argument: 'x'"):
        vp.set_x()
    assert [c[0] for c in calls.seen] == ["SeamProbe.new", "Viewport.new"]


def test_result_is_returned_and_each_observer_gets_its_own_args_and_kwargs(calls: Calls) -> None:
    other = Calls()
    add_observer(other)
    try:
        p = Probe(0)
        assert p.set_a(5) == ("a", 5)
    finally:
        remove_observer(other)
    mine, theirs = calls.seen[-1], other.seen[-1]
    assert mine == theirs == ("SeamProbe.set_a", (5,), {})
    assert mine[2] is not theirs[2]  # a fresh dict each: an observer may keep or change it
    mine[2]["changed"] = True
    p.set_a(6)
    assert calls.seen[-1] == ("SeamProbe.set_a", (6,), {})


def test_op_names_are_per_class_for_inherited_methods(calls: Calls) -> None:
    sub, base = SubProbe(1), Probe(1)
    sub.set_a(2)
    base.set_a(3)
    sub.set_ab(1, 2)
    assert calls.seen == [
        ("SeamSubProbe.new", (1,), {}),
        ("SeamProbe.new", (1,), {}),
        ("SeamSubProbe.set_a", (2,), {}),
        ("SeamProbe.set_a", (3,), {}),
        ("SeamSubProbe.set_ab", (1, 2), {}),
    ]


# ---- nesting, paused, failures ---------------------------------------------------------------
def test_nested_calls_are_reported_once(calls: Calls) -> None:
    p = Probe(1, 2)  # __init__ calls set_b
    p.set_both(3)  # calls set_a and set_b
    buf = Buffer(1, BufferType.vec4)
    buf.set_data(bytearray(16), 0, 1)
    assert [c[0] for c in calls.seen] == ["SeamProbe.new", "SeamProbe.set_both", "Buffer.new", "Buffer.set_data"]
    assert p.a == 3 and p.b == 3 and _depth() == 0


def test_paused_hides_calls_and_keeps_its_depth(calls: Calls) -> None:
    p = Probe(1)
    with paused():
        p.set_a(2)
        p.set_abc(1, 2, 3)
        Probe(3)
        with paused():
            p.set_ab(1, 2)
        p.set_a(4)
        assert _depth() == 1
    p.set_a(5)
    assert [c[:2] for c in calls.seen] == [("SeamProbe.new", (1,)), ("SeamProbe.set_a", (5,))]


def test_an_observer_that_raises_propagates_and_resets_the_depth(seam: str) -> None:
    class Failing(Calls):
        fail = True

        def on_call(self, target: Captured, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            super().on_call(target, op, args, kwargs)
            if self.fail:
                raise RuntimeError("observer failed")

    observer = Failing()
    add_observer(observer)
    try:
        with pytest.raises(RuntimeError, match="observer failed"):
            Probe(1)
        assert _depth() == 0
        observer.fail = False
        p = Probe(2)
        observer.fail = True
        with pytest.raises(RuntimeError, match="observer failed"):
            p.set_a(3)
        assert _depth() == 0 and p.a == 3  # the call itself was made
        observer.fail = False
        p.set_ab(1, 2)
    finally:
        remove_observer(observer)
    assert [c[0] for c in observer.seen] == ["SeamProbe.new", "SeamProbe.new", "SeamProbe.set_a", "SeamProbe.set_ab"]


def test_an_original_that_raises_is_not_reported_and_resets_the_depth(calls: Calls) -> None:
    p = Probe(1)
    with pytest.raises(ValueError, match="bad 7"):
        p.set_bad(7)
    assert _depth() == 0
    with pytest.raises(ValueError, match="bad 8"):
        Probe.set_bad(p, 8)
    p.set_a(2)
    assert [c[0] for c in calls.seen] == ["SeamProbe.new", "SeamProbe.set_a"]


# ---- observers changing while the wrappers are installed --------------------------------------
def test_observers_added_and_removed_while_installed_are_seen_at_the_next_call(calls: Calls) -> None:
    p = Probe(1)
    wrapper = _wrapper(Probe, "set_a")
    second = Calls()
    add_observer(second)
    try:
        assert _wrapper(Probe, "set_a") is wrapper  # not reinstalled: the wrapper reads the new tuple
        p.set_a(2)
        remove_observer(calls)
        p.set_a(3)
        add_observer(calls)
    finally:
        remove_observer(second)
    p.set_a(4)
    assert [c[1] for c in calls.seen] == [(1,), (2,), (4,)]
    assert [c[1] for c in second.seen] == [(2,), (3,)]


def test_an_observer_that_registers_another_during_a_call(calls: Calls) -> None:
    late = Calls()

    class Adder(Calls):
        def on_call(self, target: Captured, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            super().on_call(target, op, args, kwargs)
            if not capture._observers.count(late):
                add_observer(late)  # replaces the tuple being walked: this call is not late's

    adder = Adder()
    add_observer(adder)
    try:
        p = Probe(1)
        p.set_a(2)
    finally:
        remove_observer(adder)
        remove_observer(late)
    assert [c[0] for c in adder.seen] == ["SeamProbe.new", "SeamProbe.set_a"]
    assert late.seen == [("SeamProbe.set_a", (2,), {})]
    assert [c[0] for c in calls.seen] == ["SeamProbe.new", "SeamProbe.set_a"]


def test_an_instance_attribute_on_call_wins(calls: Calls) -> None:
    got: list[Any] = []
    observer = Calls()
    observer.on_call = lambda target, op, args, kwargs: got.append(op)  # type: ignore[method-assign]
    add_observer(observer)
    try:
        Probe(1).set_a(2)
    finally:
        remove_observer(observer)
    assert got == ["SeamProbe.new", "SeamProbe.set_a"] and observer.seen == []


# ---- C and Python wrappers in one process -------------------------------------------------------
def test_c_and_python_wrappers_share_the_depth(monkeypatch: pytest.MonkeyPatch) -> None:
    c_seam_module()
    observer = Calls()
    with seam_backend("c"):
        add_observer(observer)
        try:
            monkeypatch.setattr(capture, "_seam_choice", "python")  # new wrappers only: no remake

            class Late(Probe):  # wrapped at definition, with Python wrappers now
                _capture_name_ = "SeamLate"

                def set_a(self, a: Any) -> Any:
                    self.inner = Probe(a)  # a C-wrapped constructor inside a Python-wrapped method
                    return super().set_a(a)

            assert isinstance(_wrapper(Late, "set_a"), types.FunctionType)
            assert not isinstance(_wrapper(Probe, "set_a"), types.FunctionType)
            late = Late(1)
            late.set_a(2)
            p = Probe(3)
            p.set_both(4)
            with paused():
                late.set_a(5)
                p.set_a(6)
        finally:
            remove_observer(observer)
    assert [c[:2] for c in observer.seen] == [
        ("SeamLate.new", (1,)), ("SeamLate.set_a", (2,)), ("SeamProbe.new", (3,)), ("SeamProbe.set_both", (4,)),
    ]
    assert _depth() == 0


def test_depth_is_per_thread(calls: Calls) -> None:
    p = Probe(1)
    inside = threading.Event()
    done = threading.Event()

    def paused_thread() -> None:
        with paused():
            Probe(10).set_a(11)  # hidden: this thread is paused
            inside.set()
            done.wait(5)

    worker = threading.Thread(target=paused_thread)
    worker.start()
    assert inside.wait(5)
    p.set_a(2)  # this thread is not paused
    done.set()
    worker.join()

    def reporting_thread() -> None:
        Probe(20).set_ab(1, 2)

    threads = [threading.Thread(target=reporting_thread) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ops = [c[0] for c in calls.seen]
    assert ops[:2] == ["SeamProbe.new", "SeamProbe.set_a"]
    assert sorted(ops[2:]) == ["SeamProbe.new"] * 4 + ["SeamProbe.set_ab"] * 4
    assert _depth() == 0


# ---- descriptor behaviour -------------------------------------------------------------------------
def test_the_wrapper_behaves_like_a_function_on_the_class(calls: Calls) -> None:
    wrapper = _wrapper(Probe, "set_a")
    original = wrapper.__gsp_original__
    assert wrapper.__wrapped__ is original and original.__name__ == "set_a"
    assert (wrapper.__name__, wrapper.__qualname__, wrapper.__doc__, wrapper.__module__) == (
        "set_a", "Probe.set_a", "Set a.", __name__,
    )
    assert Probe.set_a is wrapper and wrapper.__get__(None, Probe) is wrapper
    assert inspect.signature(wrapper) == inspect.signature(original)
    p = Probe(1)
    bound = p.set_a
    assert isinstance(bound, types.MethodType) and bound.__func__ is wrapper and bound.__self__ is p
    assert inspect.signature(bound) == inspect.signature(original.__get__(p))
    assert bound(2) == ("a", 2) and Probe.__dict__["set_a"].__get__(p, Probe)(3) == ("a", 3)
    assert callable(wrapper) and "Probe.set_a" in repr(wrapper)
    assert capture.captured_methods(Probe)[:2] == ["__init__", "set_a"]
    ref = weakref.ref(wrapper)
    assert ref() is wrapper
    assert [c[1] for c in calls.seen] == [(1,), (2,), (3,)]


def test_wrappers_are_freed_when_removed(seam: str) -> None:
    observer = Calls()
    add_observer(observer)
    ref = weakref.ref(_wrapper(Probe, "set_abc"))
    remove_observer(observer)
    gc.collect()
    assert ref() is None


# ---- references ------------------------------------------------------------------------------------
def test_no_reference_is_leaked_in_any_path(seam: str) -> None:
    class Dropping:
        fail = False

        def on_call(self, target: Captured, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            if self.fail:
                raise RuntimeError("no")

    def counts() -> list[int]:
        p.a = p.b = p.c = None  # what the calls stored
        gc.collect()
        return [sys.getrefcount(x) for x in (a, b, c, p, observer, Probe.set_abc)]

    observer = Dropping()
    a, b, c = object(), object(), object()
    p = Probe(0)
    add_observer(observer)
    try:
        p.set_abc(a, b, c)  # warm the op cache
        before = counts()
        for _ in range(1000):
            p.set_a(a)
            p.set_abc(a, b, c)
            p.set_ab(a, b, scale=1)
            Probe.set_ab(p, a, b)
            p.set_abc(a, b, c=c)
            for bad_call in (lambda: p.set_abc(a, b), lambda: p.set_bad(a), lambda: p.set_a(a, b)):
                try:
                    bad_call()
                except (TypeError, ValueError):
                    pass
            with paused():
                p.set_abc(a, b, c)
        observer.fail = True
        for _ in range(1000):
            try:
                p.set_abc(a, b, c)
            except RuntimeError:
                pass
        after = counts()
    finally:
        remove_observer(observer)
    assert after == before
    assert _depth() == 0
