"""Subprocess for the follow test: records the moving disc slowly into the path in argv[1]."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from player_sessions import record_moving_disc  # noqa: E402

if __name__ == "__main__":
    frames = int(sys.argv[2])
    record_moving_disc(Path(sys.argv[1]), frames, interval_s=float(sys.argv[3]), flush_interval_s=0.02)
