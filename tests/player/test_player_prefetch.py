"""The read-ahead thread hands over the same commands, in order, errors included."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from player.prefetch import prefetch
from sessions.command import Command


def _commands(n: int, render_every: int = 3) -> list[Command]:
    return [
        Command(i, i * 1000, "Renderer.render" if i % render_every == 0 else "Buffer.set_data", "t")
        for i in range(1, n + 1)
    ]


def test_same_commands_same_order() -> None:
    commands = _commands(1000)
    assert list(prefetch(iter(commands), depth=2, batch=7)) == commands
    assert list(prefetch([])) == []


def test_reader_error_raised_after_the_good_commands() -> None:
    def broken() -> Iterator[Command]:
        yield from _commands(5)
        raise ValueError("chunk 3: checksum mismatch")

    got: list[Command] = []
    with pytest.raises(ValueError, match="checksum"):
        for cmd in prefetch(broken()):
            got.append(cmd)
    assert got == _commands(5)


def test_stopping_early_ends_the_thread() -> None:
    before = threading.active_count()
    stream = prefetch(iter(_commands(100_000)), depth=1, batch=2)
    assert next(stream).seq == 1
    stream.close()  # type: ignore[attr-defined]
    assert threading.active_count() == before
