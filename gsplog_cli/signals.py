"""SIGTERM handled as Ctrl-C by the commands that write outputs."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """Within the block, SIGTERM (``kill``, ``timeout``, a batch scheduler's time limit) stops
    the command as Ctrl-C does, and either ends it with 128 + the signal (130, 143).

    SIGTERM's default action killed the process at once: no cleanup ran, so a tool's hidden
    output (``.out.gsplog.<pid>-<id>.new``) stayed, and a replay's ffmpeg, reading EOF, left a
    broken video at the output's path. A Ctrl-C unwinds, and each removes what it left unfinished.
    SIGTERM is left alone where it is not ours to take (not the main thread, a handler set).
    """
    came: list[int] = []
    ours = threading.current_thread() is threading.main_thread() and \
        signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    if ours:
        def handler(signum: int, frame: Any) -> None:
            came.append(signum)
            on_ctrl_c = signal.getsignal(signal.SIGINT)  # a window's own, which ends its event loop
            if callable(on_ctrl_c):
                on_ctrl_c(signal.SIGINT, frame)
            else:  # SIGINT ignored (a background job of a shell): stop all the same
                raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except KeyboardInterrupt:
        raise click.exceptions.Exit(128 + (came[0] if came else signal.SIGINT)) from None
    except Exception:
        if came:  # raised in C code, which may report it as its own error (a drawing's ValueError)
            raise click.exceptions.Exit(128 + came[0]) from None
        raise
    finally:
        if ours:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
