"""Recording GSP sessions: every captured call becomes a command in a session log.

Use :func:`record` (a context manager) or :class:`Recorder` (``start``/``stop``); mark points of
interest with :func:`mark`. ``gsp record script.py -o session.gsplog`` records an unmodified
script. See docs/recording.md.
"""

from recorder.core import MARK_OP, SESSION_TARGET, Recorder, Terminated, active_recorder, mark, record
from recorder.queue import DEFAULT_MAX_BYTES, DEFAULT_MAX_COMMANDS

__all__ = [
    "Recorder",
    "record",
    "mark",
    "active_recorder",
    "Terminated",
    "MARK_OP",
    "SESSION_TARGET",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_COMMANDS",
]
