"""Chunks written by a thread of their own (LogWriter(background_writes=True))."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from sessions import Command, LogReader, LogWriter


def _commands(count: int) -> list[Command]:
    return [Command(seq, seq * 1000, "Buffer.set_data", "b", (np.full(70_000, seq, np.float32), 0, 70_000))
            for seq in range(1, count + 1)]


def test_background_writes_keep_order_and_release_payloads_once_written(tmp_path: Path) -> None:
    written = threading.Semaphore(0)
    direct, background = tmp_path / "direct.gsplog", tmp_path / "background.gsplog"
    commands = _commands(40)
    with LogWriter(direct, keyframes=False) as writer:
        for cmd in commands:
            writer.append(cmd)
            writer.flush()
    writer = LogWriter(background, keyframes=False, background_writes=True, on_written=written.release)
    released: list[int] = []
    for cmd in commands:
        writer.append(cmd)
        writer.flush()
        released.append(writer.released_seq)
        assert writer.released_seq <= cmd.seq  # never ahead of what was handed over
    writer.sync()
    assert writer.released_seq == commands[-1].seq  # everything is in the file now
    assert released == sorted(released)
    writer.close()
    assert sum(1 for _ in iter(lambda: written.acquire(timeout=0), False)) == 40  # told after each chunk
    with LogReader(direct) as a, LogReader(background) as b:
        got_a, got_b = list(a.commands()), list(b.commands())
        assert [c.seq for c in got_b] == list(range(1, 41))
        assert all((np.asarray(x.args[0]) == np.asarray(y.args[0])).all() for x, y in zip(got_a, got_b))
        assert [e.offset for e in a.index.entries] == [e.offset for e in b.index.entries]


def test_rewriting_a_log_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "again.gsplog"
    with LogWriter(path, keyframes=False, background_writes=True) as writer:
        for cmd in _commands(5):
            writer.append(cmd)
    first_inode = path.stat().st_ino
    link = tmp_path / "old.gsplog"
    link.hardlink_to(path)
    with LogWriter(path, keyframes=False) as writer:
        writer.append(_commands(1)[0])
    with LogReader(path) as reader:
        assert [c.seq for c in reader.commands()] == [1]
    with LogReader(link) as reader:  # the previous log was replaced, not overwritten in place
        assert [c.seq for c in reader.commands()] == [1, 2, 3, 4, 5]
    assert path.stat().st_ino != first_inode


def _noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(n, dtype=np.float32)


def test_keyframes_lend_the_scene_state_and_stay_exact(tmp_path: Path) -> None:
    """A keyframe references the writer's scene-state buffers (lent, not copied) while the file
    thread writes it: commands applied to that state afterwards must not change the keyframe."""
    from gsp.types import BufferType
    from sessions import ChunkKind, SceneState

    path = tmp_path / "keyframes.gsplog"
    n = 100_000
    writer = LogWriter(path, background_writes=True)
    writer.append(Command(1, 0, "Buffer.new", "b", (n, BufferType.float32)))
    assert writer.file_sink is not None and writer.file_sink._background is not None
    # Holding the file thread's (reentrant) lock stalls it: every keyframe waits in its queue
    # while the next command changes the state it was taken from.
    # Each whole write is followed by a one-item write: no command holds the whole contents, so
    # the keyframe stores them (rather than pointing at a whole write, see LINKED_KEYFRAME).
    with writer.file_sink._background._cond:
        for step in range(1, 29):
            writer.append(Command(2 * step, step, "Buffer.set_data", "b", (_noise(n, step), 0, n)))  # incompressible
            writer.append(Command(2 * step + 1, step, "Buffer.set_data", "b", (np.float32([step]), 0, 1)))
            writer.write_keyframe()
            assert writer.released_seq == 0  # nothing is in the file yet
    writer.close()
    with LogReader(path) as reader:
        keyframes = [i for i, e in enumerate(reader.index.entries) if e.kind == ChunkKind.KEYFRAME]
        assert len(keyframes) == 28
        for number in keyframes:
            state = SceneState()
            for cmd in reader.read_chunk(number).commands():
                state.apply(cmd)
            step = reader.index.entries[number].seq_last // 2
            expected = _noise(n, step)
            expected[0] = step
            assert (state.get("b").read_view() == expected).all()


def test_a_log_path_that_is_a_symlink_is_written_through(tmp_path: Path) -> None:
    target = tmp_path / "real.gsplog"
    target.write_bytes(b"old contents")
    link = tmp_path / "link.gsplog"
    link.symlink_to(target)
    with LogWriter(link, keyframes=False) as writer:
        writer.append(_commands(1)[0])
    assert link.is_symlink()
    with LogReader(target) as reader:
        assert [c.seq for c in reader.commands()] == [1]
