"""Read ahead: decode the next commands on a thread while the current frame is applied and drawn.

Reading a log is mostly file reads, checksums and lz4 decompression, which release the GIL,
so on two cores the reader's work overlaps the scene updates and the drawing. Commands travel
in batches (one frame's commands, or at most ``batch`` commands) through a queue of at most
``depth`` batches, so at most a few frames are held in memory. Errors raised by the reader
(``LogFormatError``...) are re-raised in the consumer, in order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

from sessions.command import Command

__all__ = ["prefetch"]

_RENDER_OP = "Renderer.render"
_DONE = object()


def prefetch(commands: Iterable[Command], *, depth: int = 2, batch: int = 256) -> Iterator[Command]:
    """Iterate ``commands`` with a background reader thread (same items, same order)."""
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        pending: list[Command] = []
        try:
            for cmd in commands:
                pending.append(cmd)
                # A render ends a frame: hand the frame over at once, so the consumer can draw.
                if cmd.op == _RENDER_OP or len(pending) >= batch:
                    if not put(pending):
                        return
                    pending = []
            if pending and not put(pending):
                return
            put(_DONE)
        except BaseException as error:  # handed to the consumer, raised there after the good ones
            if pending and not put(pending):
                return
            put(error)

    thread = threading.Thread(target=produce, name="gsp-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield from item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=5.0)
