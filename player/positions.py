"""Positions in a session: a time in seconds, a frame number ``#N`` or a marker ``@label``.

The syntax is the one the sessions tools accept (``--from``/``--to``): ``"2.5"`` or ``"2.5s"``
(seconds since the session started), ``"#12"`` or ``"f12"`` (the 12th rendered frame, counting
from 1), ``"@label"`` (the user marker recorded with ``recorder.mark("label")``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Position", "parse_position"]

PositionKind = Literal["time", "frame", "marker"]

_FRAME = re.compile(r"^(?:#|f)(\d+)$")
_TIME = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)(?:s)?$")


@dataclass(frozen=True, slots=True)
class Position:
    """A point in a session. ``value`` is nanoseconds (time), a 1-based frame number, or a label."""

    kind: PositionKind
    value: int | str

    @property
    def time_ns(self) -> int:
        """The time in ns (only for ``kind == "time"``)."""
        assert self.kind == "time"
        return int(self.value)

    def __str__(self) -> str:
        if self.kind == "time":
            return f"{int(self.value) / 1e9:g}s"
        if self.kind == "frame":
            return f"#{self.value}"
        return f"@{self.value}"


def parse_position(text: str | int | float | Position) -> Position:
    """Parse ``"2.5"``/``"2.5s"`` (seconds), ``"#12"``/``"f12"`` (frame), ``"@label"`` (marker).

    Numbers are seconds. Raises ``ValueError`` naming the text when it matches none of them.
    """
    if isinstance(text, Position):
        return text
    if isinstance(text, bool):
        raise ValueError(f"position {text!r}: expected seconds, '#N' or '@label'")
    if isinstance(text, (int, float)):
        if text < 0:
            raise ValueError(f"position {text!r}: a time must not be negative")
        return Position("time", round(float(text) * 1e9))
    spec = text.strip()
    if spec.startswith("@"):
        if len(spec) == 1:
            raise ValueError(f"position {text!r}: '@' must be followed by a marker label")
        return Position("marker", spec[1:])
    match = _FRAME.match(spec)
    if match:
        frame = int(match.group(1))
        if frame < 1:
            raise ValueError(f"position {text!r}: frames are numbered from 1")
        return Position("frame", frame)
    match = _TIME.match(spec)
    if match:
        return Position("time", round(float(match.group(1)) * 1e9))
    raise ValueError(
        f"position {text!r}: expected seconds ('2.5' or '2.5s'), a frame ('#12' or 'f12') or a marker ('@label')"
    )
