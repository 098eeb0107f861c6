"""Positions in a session for the player: the sessions tools' syntax, with numbers as seconds.

``"2.5"`` or ``"2.5s"`` (seconds since the session started), ``"#12"`` or ``"f12"`` (the 12th
rendered frame, counting from 1), ``"@label"`` (the user marker recorded with
``recorder.mark("label")``; ``"@label#2"`` the second of that label), ``"seq:40"`` (a command's
sequence number). One parser serves the
player and the tools (:func:`sessions.position.parse_at`); only Python numbers differ: the
player's API takes them as seconds (``replay(start=2)``), the sessions API as nanoseconds.
"""

from __future__ import annotations

from sessions.position import At, parse_at

__all__ = ["Position", "parse_position"]

#: A point in a session: ``kind`` "time" (ns), "seq", "frame" (1-based) or "marker" (label).
Position = At


def parse_position(text: str | int | float | Position) -> Position:
    """Parse a position; numbers are seconds. ``ValueError`` naming the text when it is none."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"position {text!r}: a time must not be negative")
        return At.time(round(float(text) * 1e9))
    return parse_at(text)
