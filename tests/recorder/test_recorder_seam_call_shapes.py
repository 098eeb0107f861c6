"""The seam's fixed-arity wrappers report every call shape exactly as the caller made it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gsp.capture import Captured, add_observer, remove_observer
from gsp.core import Viewport
from gsp.types import Buffer, BufferType


class Calls:
    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def on_call(self, target: Captured, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.seen.append((op, args, kwargs))


@pytest.fixture
def calls() -> Iterator[Calls]:
    observer = Calls()
    add_observer(observer)
    try:
        yield observer
    finally:
        remove_observer(observer)


def test_positional_keyword_and_mixed_shapes_are_reported_as_made(calls: Calls) -> None:
    vp = Viewport(0, 0, 10, 10, bytearray([255, 255, 255, 255]))
    buf = Buffer(2, BufferType.vec4)
    data = bytearray(16)
    calls.seen.clear()
    vp.set_x(3)
    vp.set_x(x=4)
    buf.set_data(data, 0, 1)
    buf.set_data(data, 1, count=1)
    buf.set_data(data, offset=0, count=1)
    assert calls.seen == [
        ("Viewport.set_x", (3,), {}),
        ("Viewport.set_x", (), {"x": 4}),
        ("Buffer.set_data", (data, 0, 1), {}),
        ("Buffer.set_data", (data, 1), {"count": 1}),
        ("Buffer.set_data", (data,), {"offset": 0, "count": 1}),
    ]
    assert vp.get_x() == 4


def test_wrong_shapes_raise_the_originals_error_and_are_not_reported(calls: Calls) -> None:
    vp = Viewport(0, 0, 10, 10, bytearray([255, 255, 255, 255]))
    calls.seen.clear()
    with pytest.raises(TypeError, match="x"):
        vp.set_x()
    with pytest.raises(TypeError):
        vp.set_x(1, 2)
    with pytest.raises(TypeError, match="must be an int"):
        vp.set_x("1")
    assert calls.seen == []

