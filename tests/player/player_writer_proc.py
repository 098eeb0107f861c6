"""Subprocess for the follow and live tests: records the moving disc slowly.

argv: TARGET FRAMES INTERVAL_S [START_DELAY_S]; TARGET is a .gsplog path or a tcp:// endpoint
to publish on.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from player_sessions import record_moving_disc  # noqa: E402

if __name__ == "__main__":
    target, frames, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    if len(sys.argv) > 4:
        time.sleep(float(sys.argv[4]))
    if target.startswith("tcp://"):
        record_moving_disc(None, frames, interval_s=interval, flush_interval_s=0.02, publish=target)
    else:
        record_moving_disc(Path(target), frames, interval_s=interval, flush_interval_s=0.02)
