"""Big buffer writes: logged as consecutive partial writes (sessions/pieces.py), replayed, sought,
checked, cut and joined as any log. Most tests use 1 MiB pieces and a few MB of data; one test
records a real write over 1 GiB (the readers' chunk limit), which used to stop the recording."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gsp.types import Buffer, BufferType
from recorder import record
from recorder.queue import CommandQueue
from recorder.writer_thread import WriterThread
from sessions import Command, LogReader, LogWriter

PIECE = 1 << 20


def _writes(reader: LogReader, target: str) -> list[list[Command]]:
    """The set_data commands of ``target``, grouped into runs of consecutive seqs."""
    runs: list[list[Command]] = []
    for cmd in reader.commands():
        if cmd.op == "Buffer.set_data" and cmd.target == target:
            if runs and runs[-1][-1].seq + 1 == cmd.seq:
                runs[-1].append(cmd)
            else:
                runs.append([cmd])
    return runs


def test_a_big_buffer_made_from_numpy_is_lent_not_copied(tmp_path: Path) -> None:
    """``Buffer.from_numpy`` writes through a memoryview: the recorder lends the buffer's
    contents as it does for an array (no copy of the bytes on the caller's thread), so the log
    holds them as the buffer's typed items, which are then cut into pieces like any array."""
    data = np.random.default_rng(2).random((200_000, 3), dtype=np.float32)
    path = tmp_path / "from_numpy.gsplog"
    with record(path, writer_options={"piece_bytes": PIECE}) as rec:
        buffer = Buffer.from_numpy(data, BufferType.vec3)
        copied = rec._converter.copied_bytes
    assert copied == 0
    with LogReader(path) as reader:
        (run,) = _writes(reader, buffer.get_uuid())
        assert [cmd.args[0].dtype for cmd in run] == [np.float32] * 3
        assert np.array_equal(np.concatenate([cmd.args[0] for cmd in run]), data)


def test_a_write_failure_while_stop_is_queued_still_ends_the_writer(tmp_path: Path, small_disk: Callable[[str], Any]) -> None:
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
