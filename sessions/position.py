"""Positions in a session log: a time, a sequence number, a rendered frame or a marker.

Text syntax (the ``--from``/``--to`` options of the tools): ``"2.5"`` or ``"2.5s"`` seconds since
the session started, ``"#12"`` or ``"f12"`` the 12th ``Renderer.render`` (counting from 1),
``"@label"`` the first ``Recorder.mark`` with that label, ``"seq:N"`` a sequence number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["At", "parse_at", "ends_before_start", "backwards_range"]

_FRAME = re.compile(r"^(?:#|f)(\d+)$")
_TIME = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)s?$")
_SEQ = re.compile(r"^seq:(\d+)$")


@dataclass(frozen=True, slots=True)
class At:
    """A position: ``kind`` is "time" (ns), "seq", "frame" (1-based) or "marker" (label)."""

    kind: Literal["time", "seq", "frame", "marker"]
    value: int | str

    def __str__(self) -> str:
        """The position in the text syntax: ``2.5s``, ``#12``, ``seq:40``, ``@label``."""
        if self.kind == "time":
            return f"{int(self.value) / 1e9:g}s"
        if self.kind == "frame":
            return f"#{self.value}"
        if self.kind == "seq":
            return f"seq:{self.value}"
        return f"@{self.value}"

    @staticmethod
    def time(t_ns: int) -> At:
        """Nanoseconds since the session started."""
        return At("time", int(t_ns))

    @staticmethod
    def seq(seq: int) -> At:
        """A command sequence number."""
        return At("seq", int(seq))

    @staticmethod
    def frame(number: int) -> At:
        """The ``number``-th ``Renderer.render`` command (from 1)."""
        return At("frame", int(number))

    @staticmethod
    def marker(label: str) -> At:
        """The first ``Recorder.mark`` command with this label."""
        return At("marker", str(label))


def parse_at(spec: str | int | float | At) -> At:
    """Parse a position; ints are nanoseconds, floats seconds. ``ValueError`` names bad text."""
    if isinstance(spec, At):
        return spec
    if isinstance(spec, bool):
        raise ValueError(f"position {spec!r}: expected seconds, '#N', 'seq:N' or '@label'")
    if isinstance(spec, int):
        return At.time(spec)
    if isinstance(spec, float):
        return At.time(round(spec * 1e9))
    text = str(spec).strip()
    if text.startswith("@") and len(text) > 1:
        return At.marker(text[1:])
    if m := _FRAME.match(text):
        if int(m.group(1)) < 1:
            raise ValueError(f"position {spec!r}: frames are numbered from 1")
        return At.frame(int(m.group(1)))
    if m := _SEQ.match(text):
        return At.seq(int(m.group(1)))
    if m := _TIME.match(text):
        return At.time(round(float(m.group(1)) * 1e9))
    raise ValueError(
        f"position {spec!r}: expected seconds ('2.5' or '2.5s'), a frame ('#12' or 'f12'), "
        "a sequence number ('seq:40') or a marker ('@label')"
    )


def ends_before_start(start: At, stop: At) -> bool | None:
    """Whether a range from ``start`` to ``stop`` ends before it starts, when their kinds alone
    tell (both times, frames or seqs); None when only a log can (markers, mixed kinds)."""
    if start.kind != stop.kind or start.kind == "marker":
        return None
    return int(stop.value) < int(start.value)


def backwards_range(start: At, stop: At, detail: str = "") -> ValueError:
    """The error for a range that ends before it starts, naming both ends."""
    return ValueError(f"the range ends before it starts: {stop} comes before {start}{detail}")
