"""The player: replay session logs and live streams into Matplotlib, Datoviz or the null backend.

``replay(source, backend, output, ...)`` is the one-call API (see docs/replay.md); the parts it
is built from (sources, clocks, the replay engine, exporters, the window controller) live in
small modules of this package.
"""

from player.replay import ReplayResult, parse_size, replay

__all__ = ["ReplayResult", "parse_size", "replay"]
