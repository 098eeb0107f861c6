"""Transform links recorded and replayed: each replayed frame is the frame the script drew.

A red disc whose position comes from a ``TransformChain`` of ``TransformLinkImmediate(buffer)``
links, drawn live by Matplotlib while recording, then replayed from the log by Matplotlib:
the frames must be the same pixels. The recorder's writer thread encodes a chunk long after the
calls in it (``flush_interval_s=60``, or ``rec.flush()`` where a real recording would have
written the first frame by then), so a value taken when encoding instead of at the call shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import recorder
from gsp.core import Camera, Canvas, Viewport
from gsp.transforms import TransformChain, TransformLinkBase, TransformLinkImmediate, register_link
from gsp.types import Buffer, BufferType
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Points
from player import replay
from player.frames import decode_png
from sessions import LogReader, SceneState, tools

WHITE = bytearray([255, 255, 255, 255])
W, H = 60, 40


def _vec3(x: float, y: float = 0.0) -> Buffer:
    return Buffer.from_numpy(np.array([[x, y, 0.0]], np.float32), BufferType.vec3)


def _move(buffer: Buffer, x: float, y: float = 0.0, *, in_place: bool = False) -> None:
    data = np.array([[x, y, 0.0]], np.float32)
    if in_place:  # through the exposed storage: no set_data call
        buffer.to_numpy()[:] = data
    else:
        buffer.set_data(bytearray(data.tobytes()), 0, 1)


def _chain(*buffers: Buffer) -> tuple[TransformChain, list[TransformLinkImmediate]]:
    chain = TransformChain(1, BufferType.vec3)
    links = [TransformLinkImmediate(b) for b in buffers]
    for link in links:
        chain.add(link)
    return chain, links


class Disc:
    """A red disc at the position a TransBuf gives, drawn by a live Matplotlib renderer."""

    def __init__(self, positions: Buffer | TransformChain) -> None:
        self.canvas = Canvas(W, H, 72.0, WHITE)
        self.viewport = Viewport(0, 0, W, H, WHITE)
        red = Buffer.from_numpy(np.array([[255, 0, 0, 255]], np.uint8), BufferType.rgba8)
        self.points = Points(positions, Buffer.from_numpy(np.array([200.0], np.float32), BufferType.float32),
                             red, red, Buffer.from_numpy(np.array([0.0], np.float32), BufferType.float32))
        identity = Buffer.from_numpy(np.eye(4, dtype=np.float32).reshape(1, 4, 4), BufferType.mat4)
        self.model = identity
        self.camera = Camera(identity, identity)
        self.renderer: object | None = None
        self.frames: list[np.ndarray] = []  # what the script drew

    def render(self) -> None:
        if self.renderer is None:
            self.renderer = RendererRegistry.create_renderer("matplotlib", self.canvas)
        png = self.renderer.render([self.viewport], [self.points], [self.model], [self.camera])  # type: ignore[attr-defined]
        self.frames.append(decode_png(png))


def _replayed(path: Path, tmp_path: Path) -> list[np.ndarray]:
    """Every frame of ``path`` replayed by Matplotlib."""
    out = tmp_path / "frames"
    replay(path, "matplotlib", f"{out}/")
    return [decode_png(p.read_bytes()) for p in sorted(out.glob("frame_*.png"))]


def _assert_replay_draws_the_live_frames(path: Path, disc: Disc, tmp_path: Path) -> None:
    assert tools.verify(path).ok
    frames = _replayed(path, tmp_path)
    assert len(frames) == len(disc.frames)
    # The disc moves every frame: no two live frames are the same picture.
    assert len({f.tobytes() for f in disc.frames}) == len(disc.frames)
    for number, (live, replayed) in enumerate(zip(disc.frames, frames), 1):
        assert np.array_equal(live, replayed), f"frame {number} replays otherwise than it was drawn"


def test_a_link_is_logged_with_its_buffer_as_it_was_at_the_call(tmp_path: Path) -> None:
    """A new chain and link over the same buffer each frame (QA chain_race.py): the link's value
    was serialized by the writer thread, so every frame replayed the last position."""
    path = tmp_path / "race.gsplog"
    with recorder.record(path, flush_interval_s=60) as rec:
        positions = _vec3(-0.8)
        disc = Disc(positions)
        for frame in range(4):
            _move(positions, -0.8 + 0.5 * frame)
            chain, _ = _chain(positions)
            disc.points.set_positions(chain)
            disc.render()
    assert rec.error is None
    _assert_replay_draws_the_live_frames(path, disc, tmp_path)


@pytest.mark.parametrize("created_before", [False, True], ids=["chain-recorded", "chain-snapshotted"])
@pytest.mark.parametrize("remove_first", [True, False], ids=["remove-write-add", "write-remove-add"])
def test_a_link_removed_after_its_buffer_changed_replays(tmp_path: Path, remove_first: bool,
                                                         created_before: bool) -> None:
    """The documented re-add (QA chain_readd.py, chain_readd_workaround.py): the remove was logged
    with the buffer's new contents, which no link of the replayed chain held: replay stopped with
    'TransformLinkImmediate is not in the chain'."""
    path = tmp_path / "readd.gsplog"

    def scene() -> tuple[Buffer, TransformChain, TransformLinkImmediate, Disc]:
        positions = _vec3(-0.8)
        chain, (link,) = _chain(positions)
        return positions, chain, link, Disc(chain)

    made = scene() if created_before else None  # recorded from its snapshot at first use
    with recorder.record(path, flush_interval_s=60) as rec:
        positions, chain, link, disc = made or scene()
        disc.render()
        rec.flush()  # the first frame is in the file (a real recording writes it within 100 ms)
        for x in (0.0, 0.8):
            if remove_first:
                chain.remove(link)
                _move(positions, x)
            else:
                _move(positions, x)
                chain.remove(link)
            chain.add(link)
            disc.render()
    assert rec.error is None
    _assert_replay_draws_the_live_frames(path, disc, tmp_path)


@pytest.mark.parametrize("first", ["add", "remove"])
def test_a_chain_first_met_at_its_add_or_remove_replays(tmp_path: Path, first: str) -> None:
    """A chain made before recording is logged from its snapshot when the recording first meets
    it, and the snapshot is taken once the call has returned: the call logged after it added
    the link a second time, or removed one the snapshot no longer held."""
    path = tmp_path / "first.gsplog"
    left, right = _vec3(-0.6), _vec3(0.6)
    chain, (link, other) = _chain(left, right)  # an immediate chain draws its last link
    if first == "add":
        chain.remove(other)
    disc = Disc(chain)
    with recorder.record(path, flush_interval_s=60) as rec:
        if first == "add":
            chain.add(other)  # draws `right`; replayed [left, right, right]
            disc.render()
            chain.remove(other)  # draws `left`; replayed [left, right]
        else:
            chain.remove(other)  # draws `left`; replay had no `right` to remove
        disc.render()
        if first == "remove":
            chain.add(other)  # draws `right` again
        else:
            chain.add(TransformLinkImmediate(_vec3(0.0, 0.5)))
        disc.render()
    assert rec.error is None
    _assert_replay_draws_the_live_frames(path, disc, tmp_path)
    with LogReader(path) as reader:  # the one logged remove is the script's: no chain logged again
        removes = [c for c in reader.commands() if c.op == "TransformChain.remove"]
    assert len(removes) == (1 if first == "add" else 0)


def test_removing_a_link_logged_with_the_value_of_an_earlier_one_replays(tmp_path: Path) -> None:
    """Replay removes the first link equal to the one named: after the buffer of the last link
    changed, the remove logged with its add's value must not take the first link (which was
    logged with the same value) out of the replayed chain instead."""
    path = tmp_path / "same.gsplog"
    with recorder.record(path, flush_interval_s=60) as rec:
        first, middle, last = _vec3(-0.6), _vec3(0.6), _vec3(-0.6)
        chain, links = _chain(first, middle, last)
        disc = Disc(chain)  # an immediate chain draws its last link's buffer: `last`, then `middle`
        disc.render()
        _move(last, 0.0, 0.5)  # not drawn: the link goes
        chain.remove(links[2])
        disc.render()
    assert rec.error is None
    _assert_replay_draws_the_live_frames(path, disc, tmp_path)


@pytest.mark.parametrize("in_place", [False, True], ids=["set_data", "in-place"])
def test_a_buffer_written_inside_a_link_is_logged_before_the_render(tmp_path: Path, in_place: bool) -> None:
    """A link's buffer written with no re-add (QA chain_stale.py): the script draws the new
    contents (the link yields its buffer itself), the replay drew those of the add."""
    path = tmp_path / "stale.gsplog"
    with recorder.record(path, flush_interval_s=60) as rec:
        positions = _vec3(-0.8)
        chain, _ = _chain(positions)
        disc = Disc(chain)
        disc.render()
        rec.flush()
        for x in (0.0, 0.8):
            _move(positions, x, in_place=in_place)
            disc.render()
    assert rec.error is None
    _assert_replay_draws_the_live_frames(path, disc, tmp_path)
    with LogReader(path) as reader:  # an unchanged chain is not logged again
        adds = [c for c in reader.commands() if c.op == "TransformChain.add"]
    assert len(adds) == 3


def test_keyframes_hold_the_chains_the_replay_builds(tmp_path: Path) -> None:
    """The writer's keyframe state applies the replicas the recorder queued (a remove takes out
    the very replica its add logged); a replay from the file matches values. Every keyframe must
    rebuild the state the commands up to it replay, and seeking to the last frame draws it."""
    path = tmp_path / "keyframes.gsplog"
    options = {"keyframe_interval_s": 1e-9}  # a keyframe after every chunk
    with recorder.record(path, flush_interval_s=60, writer_options=options) as rec:
        first, second = _vec3(-0.8), _vec3(0.6)
        chain, (link, other) = _chain(first, second)
        disc = Disc(chain)
        for frame, x in enumerate((-0.4, 0.0, 0.4, 0.8)):
            _move(second if frame == 1 else first, x)
            if frame == 1:  # a remove after the write, a re-add
                chain.remove(link)
                chain.add(link)
            if frame == 2:  # the last link's buffer, written in place: logged again at the render
                first.to_numpy()[:] = np.array([[0.2, 0.2, 0.0]], np.float32)
                chain.remove(other)
            disc.render()
            rec.flush()
    with LogReader(path) as reader:
        commands = list(reader.commands())
        assert len(reader.index.keyframes) >= 3
        for number in reader.index.keyframes:
            from_keyframe = SceneState()
            for cmd in reader.keyframe_commands(number):
                from_keyframe.apply(cmd)
            replayed = SceneState()
            for cmd in commands:
                if cmd.seq > reader.index.entries[number].seq_last:
                    break
                replayed.apply(cmd)
            assert from_keyframe.state_hash() == replayed.state_hash(), f"keyframe {number}"
    out = tmp_path / "last.png"
    replay(path, "matplotlib", out, frame=len(disc.frames))
    assert np.array_equal(decode_png(out.read_bytes()), disc.frames[-1])


class _Unregistered(TransformLinkBase):
    """A link class never given to ``register_link``: no replay can rebuild it."""

    def apply(self, buffer: Buffer | None) -> Buffer:
        assert buffer is not None
        return buffer

    def _serialize_fields(self) -> dict[str, object]:
        return {}

    @classmethod
    def _from_fields(cls, fields: dict[str, object]) -> _Unregistered:
        return cls()


def test_a_link_the_log_cannot_hold_costs_its_own_command_only(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """It used to fail the writer thread, which stopped the whole recording."""
    path = tmp_path / "unregistered.gsplog"
    with recorder.record(path) as rec:
        chain = TransformChain(1, BufferType.vec3)
        chain.add(_Unregistered())
        viewport = Viewport(0, 0, 10, 10, WHITE)  # recorded as usual
    assert rec.error is None
    assert "cannot record a _Unregistered transform link" in caplog.text
    with LogReader(path) as reader:
        ops = [(c.op, c.target) for c in reader.commands()]
    assert ("TransformChain.new", chain.get_uuid()) in ops and ("Viewport.new", viewport.get_uuid()) in ops
    assert not any(op == "TransformChain.add" for op, _ in ops)


class _Gsp01Offset(TransformLinkBase):
    """A link as GSP 0.1 scripts write theirs: serialize() and a static deserialize(data)."""

    def __init__(self, dx: float) -> None:
        self.dx = dx

    def apply(self, buffer: Buffer | None) -> Buffer:
        assert buffer is not None
        array = buffer.to_numpy(copy=True)
        array[:, 0] += self.dx
        return Buffer.from_numpy(array, BufferType.vec3)

    def serialize(self) -> dict[str, object]:
        return {"link_type": "RecorderTestGsp01Offset", "dx": self.dx}

    @staticmethod
    def deserialize(data: dict[str, object]) -> _Gsp01Offset:
        return _Gsp01Offset(float(data["dx"]))  # type: ignore[arg-type]


_Gsp01Offset._link_name_ = "RecorderTestGsp01Offset"
register_link(_Gsp01Offset)


def test_a_gsp01_style_link_records_and_replays(tmp_path: Path) -> None:
    """Such a link could not be made (our own two methods were abstract), so such a script
    could not run, recorded or not."""
    path = tmp_path / "gsp01link.gsplog"
    with recorder.record(path) as rec:
        positions = _vec3(-0.8)
        chain, _ = _chain(positions)
        offset = _Gsp01Offset(0.3)
        chain.add(offset)
        disc = Disc(chain)
        disc.render()
        chain.remove(offset)
        chain.add(_Gsp01Offset(0.9))
        disc.render()
    assert rec.error is None
    _assert_replay_draws_the_live_frames(path, disc, tmp_path)
