"""Stub of the keyframe ledger's C rows (sessions/_ledger.c); see :mod:`sessions.ledger`."""

from typing import Any

class Coalescer:
    """Notes plain setter rows and small ``Buffer.set_data`` rows into a ledger's dicts exactly
    as ``SceneLedger._coalesce`` does, leaving every other row to it."""

    def __init__(
        self,
        kinds: dict[str, int],
        latest: dict[Any, int],
        touched: dict[str, int],
        pending: dict[int, Any],
        counts: dict[str, int],
        buffer_bytes: dict[str, int],
        whole_writes: dict[str, int],
        setter_kind: int,
        set_data_kind: int,
    ) -> None: ...
    def take(self, ledger: Any, rows: list[Any], start: int, hold_min_bytes: int, /) -> int:
        """Note ``rows[start:]`` up to the first row left to Python; returns its index or ``len(rows)``."""
