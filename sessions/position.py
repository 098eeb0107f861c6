"""Positions in a session log: a time, a sequence number, a rendered frame or a marker.

Text syntax (the ``--from``/``--to`` options of the tools): ``"2.5"`` or ``"2.5s"`` seconds since
the session started, ``"#12"`` or ``"f12"`` the 12th ``Renderer.render`` (counting from 1),
``"@label"`` the first ``Recorder.mark`` with that label (a warning says so when the label
repeats, as it does in logs joined by ``gsp cat``), ``"@label#2"`` the second one (counting from
1, from the session's start), ``"seq:N"`` a sequence number.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["At", "parse_at", "ends_before_start", "backwards_range", "RepeatedMarkerWarning", "MarkerWatch",
           "marker_positions", "literal_label"]

_FRAME = re.compile(r"^(?:#|f)(\d+)$")
_TIME = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)s?$")
_SEQ = re.compile(r"^seq:(\d+)$")
_NTH = re.compile(r"^(.+)#(\d+)$", re.S)  # "half#2": the second marker labelled "half"


class RepeatedMarkerWarning(UserWarning):
    """A position ``@label`` names a label that several markers carry: the first is used."""


@dataclass(frozen=True, slots=True)
class At:
    """A position: ``kind`` is "time" (ns), "seq", "frame" (1-based) or "marker" (label).

    ``occurrence``, for a marker: the n-th marker with that label (from 1, counted from the
    session's start); None: the first (``@label``), with a :class:`RepeatedMarkerWarning` when
    the label repeats."""

    kind: Literal["time", "seq", "frame", "marker"]
    value: int | str
    occurrence: int | None = None

    def __str__(self) -> str:
        """The position in the text syntax: ``2.5s``, ``#12``, ``seq:40``, ``@label``, ``@label#2``."""
        if self.kind == "time":
            return f"{int(self.value) / 1e9:g}s"
        if self.kind == "frame":
            return f"#{self.value}"
        if self.kind == "seq":
            return f"seq:{self.value}"
        return f"@{self.value}" + (f"#{self.occurrence}" if self.occurrence is not None else "")

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
    def marker(label: str, occurrence: int | None = None) -> At:
        """The ``Recorder.mark`` command with this label: the first, or the ``occurrence``-th (from 1)."""
        if occurrence is not None and occurrence < 1:
            raise ValueError(f"marker {label!r} #{occurrence}: markers of a label are counted from 1")
        return At("marker", str(label), None if occurrence is None else int(occurrence))


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
        if m := _NTH.match(text[1:]):  # "@half#2"; "@a#2#1" is the first marker labelled "a#2"
            if int(m.group(2)) < 1:
                raise ValueError(f"position {spec!r}: the markers of a label are counted from 1 ('@label#1' is the first)")
            return At.marker(m.group(1), int(m.group(2)))
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
        "a sequence number ('seq:40') or a marker ('@label', '@label#2' for the second of that label)"
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


def literal_label(at: At) -> str | None:
    """The label ``@label#N`` would name if read whole (``"epoch#3"``): a log whose labels end in
    ``#N`` themselves, and that has no marker labelled ``label``, is still read as it was."""
    return f"{at.value}#{at.occurrence}" if at.kind == "marker" and at.occurrence is not None else None


class MarkerWatch:
    """Finds the marker a position names in a stream of markers (a followed file, a live stream),
    as :meth:`sessions.LogReader.resolve` finds it in an index: :meth:`hit` is called with each
    marker's label in order, and says whether it is the one. With no ``occurrence`` every marker
    of the label is a hit (the caller takes the first it needs; ``count`` then tells a repeat)."""

    def __init__(self, at: At) -> None:
        self.at = at
        self.count = 0  # markers of the label seen
        self._literal = literal_label(at)

    def hit(self, label: str) -> bool:
        if label == self.at.value:
            self.count += 1
            return self.at.occurrence is None or self.count == self.at.occurrence
        return self._literal is not None and self.count == 0 and label == self._literal


def marker_positions(labels: Sequence[str]) -> list[str]:
    """The position naming each of a session's markers (labels in order): ``@label`` for a label
    that is the only one, ``@label#N`` for the N-th of a label that repeats (and for a label
    that itself ends in ``#digits``, which ``@label`` would read as a count)."""
    totals = Counter(labels)
    seen: Counter[str] = Counter()
    positions = []
    for label in labels:
        seen[label] += 1
        repeated = totals[label] > 1 or _NTH.match(label) is not None
        positions.append(f"@{label}#{seen[label]}" if repeated else f"@{label}")
    return positions
