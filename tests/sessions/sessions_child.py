"""Child processes for the sessions tests: a slow writer, a writer under RLIMIT_FSIZE, a writer to kill.

Run as ``python sessions_child.py MODE PATH``; it never imports anything from the log it writes.
"""

from __future__ import annotations

import resource
import signal
import sys
import time

import numpy as np

from sessions import Command, LogWriteError, LogWriter


def slow(path: str, count: int) -> None:
    """Append ``count`` commands over ~1 s, flushing on the writer's own schedule, then close."""
    writer = LogWriter(path, flush_interval_s=0.02, keyframes=False)
    for seq in range(1, count + 1):
        writer.append(Command(seq, seq * 1000, "Recorder.mark", "", (f"m{seq}",), {"data": np.arange(seq % 50, dtype=np.float32)}))
        writer.flush_if_due()
        time.sleep(0.005)
    writer.close()


def fsize(path: str, limit: int, background: bool) -> None:
    """Write until RLIMIT_FSIZE stops us; print the error and the last seq handed over."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    writer = LogWriter(path, keyframes=False, background_writes=background)
    seq = 0
    try:
        while seq < 100_000:
            seq += 1
            writer.append(Command(seq, seq, "Recorder.mark", "", ("x",), {"a": np.full(2000, seq, np.float32)}))
            if seq % 10 == 0:
                writer.flush()
    except LogWriteError as error:
        print(f"LogWriteError at seq {seq}: {error}", flush=True)
        writer.close()  # after a failure: releases the file, no exception
        return
    print("no error", flush=True)


def killme(path: str, background: bool) -> None:
    """Append one command every ms forever, printing each seq once appended."""
    writer = LogWriter(path, flush_interval_s=0.05, keyframes=False, background_writes=background)
    seq = 0
    while True:
        seq += 1
        writer.append(Command(seq, time.monotonic_ns(), "Recorder.mark", "", (str(seq),)))
        writer.flush_if_due()
        print(seq, flush=True)
        time.sleep(0.001)


if __name__ == "__main__":
    mode, target = sys.argv[1], sys.argv[2]
    if mode == "slow":
        slow(target, int(sys.argv[3]))
    elif mode == "fsize":
        fsize(target, int(sys.argv[3]), sys.argv[4:] == ["background"])
    elif mode == "killme":
        killme(target, sys.argv[3:] == ["background"])
