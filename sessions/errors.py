"""The exceptions of the session-log layer.

Every problem found while *reading* (a file or a chunk received from the wire) is a
:class:`LogFormatError`; every problem while *writing* is a :class:`LogWriteError`.
"""

from __future__ import annotations


class LogFormatError(Exception):
    """A session log or chunk is damaged, truncated, hostile or of an unsupported version.

    The message names where (file offset, chunk index, command) and why. The same details are
    kept as attributes so tools can report them.
    """

    def __init__(
        self,
        reason: str,
        *,
        offset: int | None = None,
        chunk_index: int | None = None,
        path: str | None = None,
    ) -> None:
        self.reason = reason
        self.offset = offset
        self.chunk_index = chunk_index
        self.path = path
        where = []
        if path is not None:
            where.append(str(path))
        if offset is not None:
            where.append(f"offset {offset}")
        if chunk_index is not None:
            where.append(f"chunk {chunk_index}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {reason}" if prefix else reason)


class LogWriteError(Exception):
    """Writing a session log failed (disk full, file too large, closed file...).

    The file stays readable up to the last chunk that was written completely.
    """


class BadArgumentError(ValueError):
    """An argument a tool was given that does not fit the log it reads: a range that ends before
    it starts or starts past the session's end, a marker the log does not hold, an output that is
    the input. The caller's mistake, not the log's: the ``gsp`` session tools exit with status 2
    for it, as for any bad option (and as ``gsp-replay`` does), where a bad log is status 1."""


class CommandError(Exception):
    """A command cannot be applied to the scene state (names its seq and op)."""


class UnknownObjectError(CommandError):
    """A command names an object the scene does not hold: none of the commands before it
    created it (a log that lost the chunk creating it, a replay started past it). ``seq`` and
    ``op`` name the command, ``uuid`` the object. ``gsp verify`` lists such commands of a log."""

    def __init__(self, message: str, *, seq: int, op: str, uuid: str) -> None:
        super().__init__(message)
        self.seq = seq
        self.op = op
        self.uuid = uuid


class SkippedCommandWarning(UserWarning):
    """A command left out when its chunk was decoded: it holds a value this build cannot rebuild
    (an unknown extension code or enum, or a transform link whose type is not registered).

    ``seq``, ``op`` and ``target`` name the command (``target``: the object it creates or calls,
    None where not known); ``link_type`` is the transform link type that is not
    registered (``gsp.transforms.register_link``) when that is why, else None. A link type
    missing here is most often a user's own link, defined in the recorded script or in a module
    the reader did not import (``gsp-replay --links``), rather than a newer protocol's value.
    """

    def __init__(self, message: str, *, seq: int, op: str, link_type: str | None = None,
                 reason: str | None = None, target: str | None = None) -> None:
        super().__init__(message)
        self.seq = seq
        self.op = op
        self.target = target
        self.link_type = link_type
        #: why the value was not rebuilt (the message less its "skipping command ..." start)
        self.reason = message if reason is None else reason
