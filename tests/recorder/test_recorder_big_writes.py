"""Big buffer writes: logged as consecutive partial writes (sessions/pieces.py), replayed, sought,
checked, cut and joined as any log. Most tests use 1 MiB pieces and a few MB of data; one test
records a real write over 1 GiB (the readers' chunk limit), which used to stop the recording."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from recorder.queue import CommandQueue
from recorder.writer_thread import WriterThread
from sessions import LogWriter


def test_a_write_failure_while_stop_is_queued_still_ends_the_writer(small_disk: Callable[[str], Any]) -> None:
    """The writer dropped every queued item after a failure, the ``stop`` its caller waits for
    among them: ``Recorder.stop`` then hung for ever (seen when a write over 1 GiB failed)."""
    disk = small_disk("1m")
    queue = CommandQueue()
    log_writer = LogWriter(disk.path / "full.gsplog")
    # 4.8 MB: more than the disk holds, and more than a chunk (4 MiB), so the append writes it
    data = np.random.default_rng(3).random((400_000, 3), dtype=np.float32)
    queue.put((0, "Buffer.set_data", "x", (data, 0, 400_000), {}, data.nbytes))
    queue.put_control("stop")
    writer = WriterThread(queue, log_writer, describe="full.gsplog")
    writer.start()
    writer.join(10)
    assert not writer.is_alive()
    assert writer.error is not None and "No space left" in str(writer.error)
