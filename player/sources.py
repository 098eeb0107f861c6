"""Where commands come from: a ``.gsplog`` file (possibly still being written), a live
``tcp://`` stream, or any iterable of :class:`sessions.command.Command` (in-process use).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessions.command import Command
from sessions.fileformat import FILE_MAGIC, header_size_hint
from sessions.limits import DEFAULT_LIMITS, Limits
from sessions.reader import FOLLOW_TIMEOUT_S

log = logging.getLogger(__name__)

__all__ = ["LIVE_GONE_AFTER_S", "Source", "open_source", "is_live_endpoint", "UnterminatedLogWarning"]

LIVE_SCHEMES = ("tcp://", "ipc://", "inproc://")
#: Silence (s) after which a live source ends the replay when no follow timeout is given.
LIVE_GONE_AFTER_S = 30.0


class UnterminatedLogWarning(UserWarning):
    """A log without a usable footer is replayed: one without a footer (a killed recorder, or one
    still writing) up to its last intact chunk, one whose footer is damaged whole."""


def is_live_endpoint(source: object) -> bool:
    """True for a ZeroMQ endpoint string such as ``tcp://127.0.0.1:5555``."""
    return isinstance(source, str) and source.startswith(LIVE_SCHEMES)


@dataclass
class Source:
    """An opened source. ``commands(start)`` iterates from the start, or from the keyframe
    before position ``start`` when the source can seek (``can_seek``)."""

    name: str
    reader: Any = None
    iterable: Iterable[Command] | None = None
    follow: bool = False
    follow_timeout_s: float | None = None
    can_seek: bool = False
    rewindable: bool = True
    live: bool = False  # a live stream: it opens with the scene as it is when joined
    #: A live stream's ``transports.live_log.LiveTally``: its session, whether its END came, or
    #: why it will not (``lost``: its publisher restarted or went silent).
    tally: Any = None
    _closers: list[Any] = field(default_factory=list)

    def commands(self, start: Any = None) -> Iterator[Command]:
        """The commands, from the beginning (or from the keyframe before position ``start``)."""
        if self.reader is not None:
            kwargs: dict[str, Any] = {"follow": self.follow}
            if self.follow and self.follow_timeout_s is not None:
                kwargs["timeout"] = self.follow_timeout_s
            if start is not None and self.can_seek:
                kwargs["start"] = start
            return iter(self.reader.commands(**kwargs))
        assert self.iterable is not None
        return iter(self.iterable)

    def close(self) -> None:
        """Release files and sockets."""
        for thing in self._closers:
            close = getattr(thing, "close", None)
            if close is not None:
                close()
        self._closers.clear()


def open_source(
    source: str | os.PathLike[str] | Iterable[Command],
    *,
    follow: bool = False,
    follow_timeout_s: float | None = None,
    limits: Limits = DEFAULT_LIMITS,
    live_options: Mapping[str, Any] | None = None,
) -> Source:
    """Open a path (read under ``limits``), a live endpoint (``live_options``: more arguments
    of its ``transports.Subscriber``) or an iterable of commands.

    Raises ``FileNotFoundError`` for a missing file, ``sessions.errors.LogFormatError`` for a
    file that is not a readable session log, ``ValueError`` for a live endpoint when the
    transports package offers no subscriber, and for ``follow_timeout_s`` without ``follow``
    from a file or commands (it would be ignored).
    """
    if is_live_endpoint(source):
        gone_after = LIVE_GONE_AFTER_S if follow_timeout_s is None else follow_timeout_s
        return _open_live(str(source), gone_after, live_options or {})
    if live_options:
        raise ValueError(f"{source}: live options ({', '.join(live_options)}) are for tcp:// sources")
    if follow_timeout_s is not None and not follow:  # a finished log has nothing to wait for
        raise ValueError(f"{source}: --timeout is for --follow and tcp:// sources (how long to wait for new data)")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if follow:
            _wait_for_log(path, FOLLOW_TIMEOUT_S if follow_timeout_s is None else follow_timeout_s)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such session log")
        if path.is_dir():
            raise ValueError(f"{path}: is a folder, not a session log")
        from sessions import LogReader

        reader = LogReader(path, limits=limits)
        if not follow and reader.end_state == "unterminated":
            warnings.warn(f"{path}: {reader.end_text()}: replaying the intact commands up to seq {reader.last_seq()}; "
                          "`gsp repair` rewrites it whole", UnterminatedLogWarning, stacklevel=2)
        elif not follow and not reader.complete and not reader.problems:  # the reader did not say why
            warnings.warn(f"{path}: {reader.end_text()}: replaying every command, up to seq {reader.last_seq()}; "
                          "`gsp repair` writes a valid footer", UnterminatedLogWarning, stacklevel=2)
        return Source(
            name=str(path),
            reader=reader,
            follow=follow,
            follow_timeout_s=follow_timeout_s,
            can_seek=not follow,  # a growing file's index does not know the future yet
            _closers=[reader],
        )
    if isinstance(source, Iterable):
        items = source if isinstance(source, (list, tuple)) else None
        return Source(name="<commands>", iterable=source, rewindable=items is not None)
    raise TypeError(f"source {source!r}: expected a .gsplog path, a tcp:// endpoint or commands")


def _wait_for_log(path: Path, timeout_s: float, poll_s: float = 0.02) -> None:
    """Wait until ``path`` holds a whole file header: a follower started before its recorder
    finds no file, or one whose header is still being written. Says so once after 2 s; gives up
    after ``timeout_s``, leaving the reader to say what is wrong. Returns at once
    for a file that cannot become a log (another magic, a folder)."""
    began = time.monotonic()
    said = False
    while True:
        try:
            with open(path, "rb") as file:
                first, size = file.read(16), os.fstat(file.fileno()).st_size
        except FileNotFoundError:
            first, size = None, 0
        except OSError:  # a folder, no permission: nothing to wait for
            return
        if first is not None:
            if not FILE_MAGIC.startswith(first[: len(FILE_MAGIC)]):
                return  # no log, nor the start of one
            hint = header_size_hint(first)
            if hint is not None and size >= hint:
                return
        waited = time.monotonic() - began
        if waited > timeout_s:
            return
        if not said and waited > 2.0:
            said = True
            state = "to be created" if first is None else "to get its header"
            log.warning("waiting for %s %s (its recorder has not started?); waiting up to %g s", path, state,
                        timeout_s)
        time.sleep(poll_s)


def _open_live(endpoint: str, gone_after_s: float | None, options: Mapping[str, Any]) -> Source:
    try:
        from transports import Subscriber
        from transports.live_log import LiveTally, live_commands
    except ImportError:
        raise ValueError(f"{endpoint}: live sources need transports (transports.Subscriber is not available)") from None
    # The replay ends with the session: its END, or its REPLACED (the publisher restarted) or
    # GONE (silent too long), which the tally tells apart (``lost``).
    subscriber = Subscriber(endpoint, stop_on_end=True, gone_after=gone_after_s, **options)
    tally = LiveTally()
    iterable: Iterable[Command] = live_commands(subscriber, tally=tally)
    return Source(name=endpoint, iterable=iterable, rewindable=False, live=True, tally=tally, _closers=[subscriber])
