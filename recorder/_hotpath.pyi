"""Stub of the recorder's C fast path (recorder/_hotpath.c); see :mod:`recorder.hotpath`."""

from collections import deque
from collections.abc import Callable
from typing import Any

class HotPath:
    """Queues scalar setters and small ``Buffer.set_data`` calls as ``Recorder.on_call`` would;
    hands every other call to ``general``."""

    failed: bool
    t0_ns: int
    max_commands: int

    def __init__(
        self,
        refs: dict[str, Any],
        hooks: dict[str, Any],
        items: deque[Any],
        versions: dict[str, int],
        general: Callable[[Any, str, tuple[Any, ...], dict[str, Any]], Any],
        t0_ns: int,
        max_commands: int,
        small_payload: int,
        set_data_op: str,
    ) -> None: ...
    def on_call(self, target: Any, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], /) -> None: ...

def take_rows(
    items: deque[Any], rows: list[Any], seq: int, last_t: int, small: int, limit: int, /
) -> tuple[int, int, Any]:
    """Number queued small commands into ``rows`` (see recorder/_hotpath.c)."""
