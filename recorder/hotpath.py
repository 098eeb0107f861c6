"""Loads the recorder's C fast path, ``recorder._hotpath`` (recorder/_hotpath.c), if it is built.

``pip install`` builds it where a C compiler is. It does, per call, exactly what the Python code
beside it does for the two commonest calls of a busy script:

- :class:`recorder.core.Recorder` queues scalar setters and small ``Buffer.set_data`` calls
  through ``HotPath.on_call`` (about 1 us a call less than Python, see benchmarks/README.md);
- :class:`recorder.writer_thread.WriterThread` numbers queued small commands into rows with
  ``take_rows``.

Without it (no compiler, or the environment variable ``GSP_NO_C_HOTPATH=1`` when a recorder
starts) the Python paths run; the logs are the same (tests/recorder/test_recorder_hotpath.py).
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["ENV_NO_C_HOTPATH", "load"]

#: Set to "1" to keep the C fast path out (the tests run both paths).
ENV_NO_C_HOTPATH = "GSP_NO_C_HOTPATH"


def load() -> ModuleType | None:
    """The C module, or None when it is not built or :data:`ENV_NO_C_HOTPATH` is set now."""
    if os.environ.get(ENV_NO_C_HOTPATH, "") not in ("", "0"):
        return None
    try:
        from recorder import _hotpath
    except ImportError:
        return None
    return _hotpath
