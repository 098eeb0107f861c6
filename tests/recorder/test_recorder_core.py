"""The recorder in-process: round trips, copies, snapshots, in-place mutation, markers, threads."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rec_support import (
    BLACK,
    REPO,
    WHITE,
    buffer_bytes,
    commands_equal,
    make_scene,
    read_commands,
    ref_uuids,
    set_data_call,
)

import recorder
from gsp.core import Canvas, Viewport
from gsp.transforms import TransformChain, TransformLinkImmediate
from gsp.types import Buffer, BufferType, TextAlign
from gsp.utils.bufferx import Bufferx
from gsp.visuals import Texts
from recorder import hotpath
from recorder.pool import LOAN_WAIT_S, MAX_LOANS_PER_BUFFER, LoanBook, max_loans
from recorder.queue import WAKE_MIN_BYTES
from sessions import Command
from sessions.index import MARK_OP


@pytest.fixture(autouse=True, params=["c", "python"])
def hot_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs on the recorder's C fast path (recorder._hotpath) and on its Python twin."""
    monkeypatch.setenv(hotpath.ENV_NO_C_HOTPATH, "1" if request.param == "python" else "")
    return str(request.param)


@pytest.fixture
def small_loans(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lend contents from 256 KiB on (the default threshold is a few MB): small test buffers
    take the lending path."""
    monkeypatch.setattr("recorder.core.LEND_MIN_BYTES", 256 * 1024)


def _record(path: Path, body: Any, **options: Any) -> tuple[list[Command], recorder.Recorder]:
    written: list[Command] = []
    with recorder.record(path, on_command=written.append, **options) as rec:
        body(rec)
    assert rec.error is None
    return written, rec


def _check_self_contained(commands: list[Command]) -> None:
    """Seqs strictly increase, time never goes back, every reference was created before."""
    created: set[str] = set()
    last_seq, last_t = 0, 0
    for cmd in commands:
        assert cmd.seq > last_seq and cmd.t_ns >= last_t, cmd
        last_seq, last_t = cmd.seq, cmd.t_ns
        for uuid in ref_uuids(cmd.args) + ref_uuids(cmd.kwargs):
            assert uuid in created, f"{cmd.op} seq {cmd.seq} references {uuid} before it was created"
        if cmd.op.endswith(".new"):
            created.add(cmd.target)
        elif cmd.target:
            assert cmd.target in created, f"{cmd.op} seq {cmd.seq} on an object never created"


# ---- any sequence of API calls round-trips -------------------------------------------------
_op = st.one_of(
    st.tuples(st.just("vp_set"), st.sampled_from(["x", "y", "width", "height"]), st.integers(1, 10_000)),  # width >= 1
    st.tuples(st.just("vp_color"), st.binary(min_size=4, max_size=4)),
    st.tuples(st.just("canvas_dpi"), st.floats(1.0, 600.0)),
    st.tuples(st.just("buf_set"), st.integers(0, 7), st.integers(1, 8), st.sampled_from(["bytearray", "bytes", "numpy"])),
    st.tuples(st.just("buf_new"), st.integers(0, 40)),
    st.tuples(st.just("buf_poke"), st.integers(0, 31), st.integers(0, 255)),
    st.tuples(st.just("mark"), st.text(min_size=1, max_size=12)),  # an empty label is refused
    st.tuples(st.just("texts"), st.lists(st.text(max_size=6), min_size=1, max_size=3),
              st.sampled_from(list(TextAlign))),
    st.tuples(st.just("chain"), st.integers(1, 4)),
    st.tuples(st.just("sizes"), st.floats(0.5, 50.0, width=32)),
    st.tuples(st.just("render")),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_op, max_size=25), created_before=st.booleans())
def test_any_call_sequence_round_trips(tmp_path: Path, ops: list[tuple[Any, ...]], created_before: bool) -> None:
    path = tmp_path / "round.gsplog"
    scene = make_scene(8) if created_before else None
    buf = Buffer(8, BufferType.vec4) if created_before else None

    def body(rec: recorder.Recorder) -> None:
        nonlocal scene, buf
        scene = scene or make_scene(8)
        buf = buf or Buffer(8, BufferType.vec4)
        rng = np.random.default_rng(len(ops))
        for op in ops:
            kind = op[0]
            if kind == "vp_set":
                getattr(scene.viewport, f"set_{op[1]}")(op[2])
            elif kind == "vp_color":
                scene.viewport.set_background_color(bytearray(op[1]))
            elif kind == "canvas_dpi":
                scene.canvas.set_dpi(op[1])
            elif kind == "buf_set":
                offset, count = op[1], min(op[2], 8 - op[1])
                data = rng.random((count, 4), dtype=np.float32)
                payload = {"bytearray": bytearray(data.tobytes()), "bytes": data.tobytes(), "numpy": data}[op[3]]
                buf.set_data(payload, offset, count)
            elif kind == "buf_new":
                Buffer(op[1], BufferType.uint8)
            elif kind == "buf_poke":  # in place, caught only at the next render
                scene.positions.to_bytearray()[op[1]] = op[2]
            elif kind == "mark":
                rec.mark(op[1])
            elif kind == "texts":  # strings, a list of enums, a font name
                k = len(op[1])
                Texts(
                    Bufferx.from_numpy(np.zeros((k, 3), np.float32), BufferType.vec3), op[1],
                    Bufferx.from_numpy(np.full((k, 4), 255, np.uint8), BufferType.rgba8),
                    Bufferx.from_numpy(np.full(k, 12.0, np.float32), BufferType.float32), [op[2]] * k,
                    Bufferx.from_numpy(np.zeros(k, np.float32), BufferType.float32), "sans",
                )
            elif kind == "chain":  # a transform link travels by value
                chain = TransformChain(op[1], BufferType.float32)
                chain.add(TransformLinkImmediate(Bufferx.from_numpy(np.arange(op[1], dtype=np.float32), BufferType.float32)))
            elif kind == "sizes":  # a visual re-pointed to a new buffer
                sizes = Bufferx.from_numpy(np.full(8, op[1], np.float32), BufferType.float32)
                scene.points.set_sizes(sizes)
            else:
                scene.render()

    written, _ = _record(path, body)
    read = read_commands(path)
    assert len(read) == len(written)
    for mine, theirs in zip(written, read):
        assert commands_equal(mine, theirs), (mine, theirs)
    _check_self_contained(read)
    # What the log says the buffer holds is what the script left in it.
    logged = buffer_bytes(read, buf.get_uuid())
    if created_before and not any(op[0] == "buf_set" for op in ops):
        assert logged is None  # never used while recording: never written
    else:
        assert logged == bytes(buf.to_bytearray())


def test_arguments_are_copied_on_the_callers_thread(tmp_path: Path) -> None:
    path = tmp_path / "copies.gsplog"
    raw = bytearray(b"\x01" * 16)
    arr = np.full((1, 4), 2.0, np.float32)
    color = bytearray([1, 2, 3, 4])
    buf = Buffer(1, BufferType.vec4)
    vp = Viewport(0, 0, 10, 10, WHITE)

    def body(rec: recorder.Recorder) -> None:
        buf.set_data(raw, 0, 1)
        raw[:] = b"\x09" * 16  # mutated right after the call: the log keeps the old bytes
        buf.set_data(arr, 0, 1)
        arr[:] = 5.0
        vp.set_background_color(color)
        color[0] = 99

    written, _ = _record(path, body)
    read = read_commands(path)
    sets = [c for c in read if c.op == "Buffer.set_data" and c.target == buf.get_uuid()]
    assert bytes(sets[-2].args[0]) == b"\x01" * 16
    assert isinstance(sets[-1].args[0], np.ndarray) and (sets[-1].args[0] == 2.0).all()
    colors = [c for c in read if c.op == "Viewport.set_background_color"]
    assert colors[0].args[0] == bytearray([1, 2, 3, 4]) and isinstance(colors[0].args[0], bytearray)


def test_live_objects_are_snapshotted_dependencies_first(tmp_path: Path) -> None:
    scene = make_scene(50, seed=3)  # everything exists before recording starts
    before = bytes(scene.positions.to_bytearray())
    path = tmp_path / "snap.gsplog"
    written, _ = _record(path, lambda rec: scene.render())
    read = read_commands(path)
    _check_self_contained(read)
    ops = [c.op for c in read]
    assert ops[-1] == "Renderer.render"
    assert {"Points.new", "Camera.new", "Viewport.new", "Canvas.new", "Renderer.new"} <= set(ops)
    assert ops.index("Canvas.new") < ops.index("Renderer.new")
    assert buffer_bytes(read, scene.positions.get_uuid()) == before
    # Recorded once: a second render references the same objects without new snapshots.
    again = tmp_path / "snap2.gsplog"
    written, _ = _record(again, lambda rec: (scene.render(), scene.render()))
    assert [c.op for c in read_commands(again)].count("Points.new") == 1


def test_in_place_mutation_is_caught_before_render(tmp_path: Path) -> None:
    path = tmp_path / "mutate.gsplog"
    scene = make_scene(20)
    contents: list[bytes] = []

    def body(rec: recorder.Recorder) -> None:
        scene.render()
        contents.append(bytes(scene.positions.to_bytearray()))
        scene.positions.to_numpy()[:5] = 7.0  # in place: no set_data call
        scene.render()
        contents.append(bytes(scene.positions.to_bytearray()))
        scene.render()  # nothing changed: nothing re-sent
        contents.append(bytes(scene.positions.to_bytearray()))

    _record(path, body)
    read = read_commands(path)
    renders = [i for i, c in enumerate(read) if c.op == "Renderer.render"]
    assert len(renders) == 3
    uuid = scene.positions.get_uuid()
    for k, end in enumerate(renders):
        assert buffer_bytes(read[: end + 1], uuid) == contents[k]
    between = [c for c in read[renders[0] : renders[1]] if c.op == "Buffer.set_data"]
    assert [c.target for c in between] == [uuid]  # only the changed buffer is written
    assert between[0].args[1:] == (0, 20) or list(between[0].args[1:]) == [0, 20]
    assert not [c for c in read[renders[1] : renders[2]] if c.op == "Buffer.set_data"]


def test_markers(tmp_path: Path) -> None:
    assert recorder.mark("nobody listens") is False  # a no-op without a recorder
    path = tmp_path / "marks.gsplog"
    vp = Viewport(0, 0, 10, 10, WHITE)

    def body(rec: recorder.Recorder) -> None:
        assert recorder.active_recorder() is rec
        assert recorder.mark("start") is True
        vp.set_x(1)
        rec.mark("end", step=3)

    _record(path, body)
    read = read_commands(path)
    marks = [c for c in read if c.op == MARK_OP]
    assert [c.args[0] for c in marks] == ["start", "end"]
    with recorder.record(tmp_path / "empty.gsplog"), pytest.raises(ValueError, match="label is empty"):
        recorder.mark("")  # no position could name it
    assert marks[1].kwargs == {"step": 3}
    assert read.index(marks[0]) < [c.op for c in read].index("Viewport.set_x") < read.index(marks[1])
    assert recorder.active_recorder() is None


def test_a_value_the_codec_refuses_costs_its_command_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Marker info the codec cannot encode (int dict keys, an int over 64 bits) used to fail
    the whole chunk and stop the recording, with the script none the wiser."""
    path = tmp_path / "odd.gsplog"
    vp = Viewport(0, 0, 10, 10, WHITE)
    with recorder.record(path) as rec:
        assert recorder.mark("before") is True
        # Refused on the caller's thread: the warning comes with the call (a notebook shows it
        # under the cell that made it, not a later one) and names the marker.
        assert recorder.mark("epoch", losses={0: 0.5}) is False
        assert [r.getMessage() for r in caplog.records if "was not recorded" in r.getMessage()] == [
            "gsplog recorder: marker 'epoch' was not recorded: dict keys must be str, got int (0)"]
        assert recorder.mark("huge", v=2**70) is False
        for i in range(50):
            vp.set_x(i)
        recorder.mark("after", step=50)
    assert rec.error is None
    read = read_commands(path)
    assert rec.commands_written == len(read)
    assert [c.args[0] for c in read if c.op == MARK_OP] == ["before", "after"]
    assert [c.args[0] for c in read if c.op == "Viewport.set_x"] == list(range(50))
    refused = [r.getMessage() for r in caplog.records if "was not recorded" in r.getMessage()]
    assert len(refused) == 2 and "'huge'" in refused[1] and "Integer value out of range" in refused[1]


def test_metadata_may_be_any_mapping(tmp_path: Path) -> None:
    from types import MappingProxyType

    from sessions import LogReader

    with recorder.record(tmp_path / "m.gsplog", metadata=MappingProxyType({"run": 3})):
        Viewport(0, 0, 10, 10, WHITE)
    with LogReader(tmp_path / "m.gsplog") as reader:
        assert reader.metadata["user"] == {"run": 3}


@pytest.mark.parametrize(("metadata", "says"), [
    ({"runs": {1: "x"}}, "map keys must be str"),
    # where, not only what: numpy scalars are common in a script's metadata
    ({"runs": [{"n": np.int64(3)}]}, r"encoded: user\['runs'\]\[0\]\['n'\] is of type numpy.int64 "),
    ({"runs": {"a": {2: "x"}}}, r"read back: user\['runs'\]\['a'\] has a key 2 of type int "),
    ({"seed": 2**70}, r"encoded: user\['seed'\] is 1180591620717411303424, out of the 64-bit range"),
    ({"notes": "x" * (1 << 20)}, "over the 1048576 a reader accepts"),
    ([1, 2], "metadata must be a dict"),
])
def test_metadata_no_reader_could_read_is_refused_at_start(tmp_path: Path, metadata: Any, says: str) -> None:
    """Such a header used to be written, and the whole log was then unreadable."""
    path = tmp_path / "meta.gsplog"
    path.write_bytes(b"an earlier session")
    with pytest.raises((TypeError, ValueError), match=says), recorder.record(path, metadata=metadata):
        Viewport(0, 0, 10, 10, WHITE)
    assert path.read_bytes() == b"an earlier session"  # refused before the file was touched
    assert recorder.active_recorder() is None


def test_a_string_utf8_cannot_hold_is_mended_in_commands_and_keyframes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A Texts made with a lone surrogate (a file name's undecodable byte) was left out of the
    log, so every later render that drew it failed at replay ("unknown object"); it also stayed
    in the writer's scene, and the next keyframe failed and stopped the recording. It is now
    kept, the surrogate written as U+FFFD (a split surrogate pair joined), keyframes included."""
    from sessions import LogReader, tools

    path = tmp_path / "surrogate.gsplog"
    vp = Viewport(0, 0, 10, 10, WHITE)
    with recorder.record(path, writer_options={"keyframe_interval_s": 0.005}) as rec:
        texts = Texts(Bufferx.from_numpy(np.zeros((1, 3), np.float32), BufferType.vec3), ["bad \udcff"],
                      Bufferx.from_numpy(np.array([[0, 0, 0, 255]], np.uint8), BufferType.rgba8),
                      Bufferx.from_numpy(np.array([12.0], np.float32), BufferType.float32),
                      [TextAlign.CENTER_CENTER], Bufferx.from_numpy(np.array([0.0], np.float32), BufferType.float32),
                      "sans")
        texts.set_strings(["pair \ud83d\ude00"])
        for i in range(40):
            vp.set_x(i)
            time.sleep(0.002)
    assert rec.error is None
    assert tools.verify(path).ok
    with LogReader(path) as reader:
        commands = list(reader.commands())
        assert [c.args[0] for c in commands if c.op == "Viewport.set_x"] == list(range(40))
        assert [c.args[1] for c in commands if c.op == "Texts.new"] == [["bad \ufffd"]]
        assert [c.args[0] for c in commands if c.op == "Texts.set_strings"] == [["pair \U0001f600"]]
        assert reader.index.keyframes
        kept = [c for c in reader.keyframe_commands(reader.index.keyframes[-1]) if c.target == texts._uuid]
        assert kept and "\U0001f600" in str(kept)
    mended = [r.getMessage() for r in caplog.records if "U+FFFD" in r.getMessage()]
    assert len(mended) == 2 and "Texts.new" in mended[0] and "Texts.set_strings" in mended[1]



def test_a_marker_whose_info_utf8_cannot_hold_is_mended_not_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """recorder.mark("loaded", file=name) with a file name's undecodable byte was left out,
    with a warning at every such marker, where any other command is kept with U+FFFD."""
    path = tmp_path / "marks.gsplog"
    with recorder.record(path) as rec:
        for i in range(5):
            assert rec.mark("loaded", file=f"run{i}-\udcff.npy", pair="\ud83d\ude00") is True
    markers = [c for c in read_commands(path) if c.op == MARK_OP]
    assert [c.kwargs for c in markers] == [{"file": f"run{i}-\ufffd.npy", "pair": "\U0001f600"} for i in range(5)]
    said = [r.getMessage() for r in caplog.records if r.name == "gsplog.recorder"]
    assert len(said) == 1 and "U+FFFD" in said[0] and "'loaded'" in said[0]

def test_seq_strictly_increasing_across_threads(tmp_path: Path) -> None:
    path = tmp_path / "threads.gsplog"
    viewports = [Viewport(0, 0, 10, 10, WHITE) for _ in range(4)]

    def work(vp: Viewport) -> None:
        for i in range(1500):
            vp.set_x(i)

    with recorder.record(path) as rec:  # no on_command: the writer numbers rows in batches
        threads = [threading.Thread(target=work, args=(vp,)) for vp in viewports]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert rec.error is None
    read = read_commands(path)
    assert [c.seq for c in read] == list(range(1, len(read) + 1))
    for vp in viewports:  # each thread's calls in its own order
        xs = [c.args[0] for c in read if c.op == "Viewport.set_x" and c.target == vp.get_uuid()]
        assert xs == list(range(1500))


def test_backpressure_bounds_the_queue(tmp_path: Path) -> None:
    path = tmp_path / "bp.gsplog"
    big = Buffer(256 * 1024, BufferType.float32)  # 1 MiB per set_data
    data = np.random.default_rng(1).random(256 * 1024, dtype=np.float32)
    vp = Viewport(0, 0, 10, 10, WHITE)
    limit_bytes, limit_cmds = 4 << 20, 50
    seen_commands: list[int] = []

    def body(rec: recorder.Recorder) -> None:
        for _ in range(40):
            big.set_data(data, 0, 256 * 1024)
            assert rec.queue.pending_bytes <= limit_bytes
        for i in range(3000):
            vp.set_x(i)
            seen_commands.append(len(rec.queue.items))

    written, rec = _record(path, body, max_queue_bytes=limit_bytes, max_queue_commands=limit_cmds)
    assert max(seen_commands) <= limit_cmds
    assert rec.queue.peak_bytes <= limit_bytes
    assert rec.queue.blocked_count > 0  # the caller did wait: the writer is slower than a copy
    assert len(read_commands(path)) == len(written)


def test_a_big_payload_wakes_the_writer_at_once(tmp_path: Path) -> None:
    # Until its chunk is written, a big payload's memory (a loan, a pooled copy) is not reused:
    # it must not wait for the writer's next poll.
    n = WAKE_MIN_BYTES // 4
    big = Buffer(n, BufferType.float32)
    data = np.arange(n, dtype=np.float32)
    rec = recorder.Recorder(tmp_path / "wake.gsplog")
    rec.start()
    try:
        assert rec._writer is not None
        rec._writer.poll_s = 60.0  # from its next wait on, the writer wakes only when told
        time.sleep(0.05)
        before = rec.commands_written
        big.set_data(data, 0, n)
        deadline = time.monotonic() + 10.0
        while rec.commands_written == before and time.monotonic() < deadline:
            time.sleep(0.002)
        assert rec.commands_written > before
    finally:
        rec.stop()
    assert buffer_bytes(read_commands(tmp_path / "wake.gsplog"), big.get_uuid()) == data.tobytes()


def test_record_closes_the_log_when_the_block_raises(tmp_path: Path) -> None:
    path = tmp_path / "raise.gsplog"
    canvas = Canvas(10, 10, 72.0, BLACK)
    with pytest.raises(RuntimeError, match="boom"):
        with recorder.record(path):
            canvas.set_width(20)
            raise RuntimeError("boom")
    ops = [c.op for c in read_commands(path)]
    assert ops[-1] == "Canvas.set_width"



def test_an_on_command_listener_that_raises_stops_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # It used to stop the recording as a failure to write the log, every queued command dropped.
    path = tmp_path / "s.gsplog"
    seen: list[int] = []

    def listener(cmd: Command) -> None:
        seen.append(cmd.seq)
        raise RuntimeError("a bug of the listener")

    with recorder.record(path, on_command=listener, flush_interval_s=60) as rec:
        viewport = Viewport(0, 0, 10, 10, WHITE)
        for x in range(1, 6):
            viewport.set_x(x)
            recorder.mark("step", x=x)
    assert rec.error is None
    commands = read_commands(path)
    assert [cmd.seq for cmd in commands] == seen == list(range(1, 12))
    assert rec.commands_written == 11
    errors = [r for r in caplog.records if r.name == "gsplog.recorder" and r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "on_command raised at seq 1 Viewport.new" in errors[0].getMessage()
    assert "a bug of the listener" in errors[0].getMessage()

def test_bad_arguments_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="path"):
        recorder.Recorder()
    with pytest.raises(ValueError, match="flush_interval_s"):
        recorder.Recorder(tmp_path / "x.gsplog", flush_interval_s=0)
    for wait in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="wait_s"):
            recorder.Recorder(tmp_path / "x.gsplog", wait_s=wait)
    with pytest.raises(TypeError, match="label"):
        with recorder.record(tmp_path / "y.gsplog") as rec:
            rec.mark(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(("options", "error", "says"), [
    ({"flush_interval_s": "0.1"}, TypeError, "flush_interval_s must be a number, got str '0.1'"),
    ({"flush_interval_s": float("nan")}, ValueError, "flush_interval_s must be a finite number > 0, got nan"),
    ({"wait_s": "1"}, TypeError, "wait_s must be a number, got str '1'"),
    ({"on_command": 5}, TypeError, "on_command must be callable, got int"),
    ({"sinks": ["x"]}, TypeError, r"sinks must be sessions.ChunkSink objects \(write_chunk and close\), got str"),
])
def test_arguments_of_the_wrong_kind_are_named_before_anything_starts(
        tmp_path: Path, options: dict[str, Any], error: type[Exception], says: str) -> None:
    # They failed later, far from the call: "'<=' not supported between instances of 'str' and
    # 'int'", a recording that never flushed (NaN), an error on the writer thread per command, or
    # "writing ... failed" when the log was closed.
    path = tmp_path / "x.gsplog"
    with pytest.raises(error, match=f"^Recorder: {says}"):
        recorder.Recorder(path, **options)
    assert not path.exists() and recorder.active_recorder() is None


@pytest.mark.parametrize("exposed", [False, True], ids=["lent", "copied"])
def test_recycled_payloads_never_alter_what_was_logged(tmp_path: Path, exposed: bool, small_loans: None) -> None:
    # Without on_command the writer gives big payloads back once their chunk is written: lent
    # storage returns to its buffer (copy on write), copies return to the pool. Every frame must
    # still read back with its own content, including synthetic set_data after in-place writes.
    path = tmp_path / "pool.gsplog"
    n = 100_000  # 400 kB: above the pool's threshold
    storages: set[int] = set()
    with recorder.record(path, flush_interval_s=0.005) as rec:
        scene_buf = Buffer(n, BufferType.float32)
        if exposed:
            scene_buf.to_numpy()  # a writable view was handed out: the buffer cannot lend
        for frame in range(30):
            scene_buf.set_data(np.full(n, frame, np.float32), 0, n)
            storages.add(id(scene_buf._data))  # which bytearray holds the contents now
            if frame % 3 == 0:
                rec.flush()  # chunks end here and there: payloads are given back mid-run
        scene_buf.to_numpy()[:] = 99.0
        make_scene(4).render()  # unrelated render: scene_buf is not reachable, not re-sent
    if exposed:
        assert rec._pool.reused > 0
        assert len(storages) == 1  # an exposed buffer keeps its storage
    else:
        assert rec._pool.reused == 0  # nothing copied
        assert len(storages) <= MAX_LOANS_PER_BUFFER + 1  # storages cycle: not reallocated every frame
        assert rec._loans is not None and len(rec._loans) == 0  # every loan given back
    sets = [c for c in read_commands(path) if c.op == "Buffer.set_data" and c.target == scene_buf.get_uuid()]
    assert [float(np.asarray(c.args[0]).reshape(-1)[0]) for c in sets] == [float(f) for f in range(30)]
    assert all((np.asarray(c.args[0]) == k).all() for k, c in enumerate(sets))


def test_partial_set_data_rehashes_blocks_and_still_catches_mutation(tmp_path: Path) -> None:
    path = tmp_path / "partial.gsplog"
    n = 50_000  # 600 kB of vec3: several hash blocks
    scene = make_scene(n)
    contents: list[bytes] = []

    def body(rec: recorder.Recorder) -> None:
        scene.render()
        contents.append(bytes(scene.positions.to_bytearray()))
        scene.positions.set_data(np.ones((2, 3), np.float32), 10, 2)  # partial, through the API
        scene.render()
        contents.append(bytes(scene.positions.to_bytearray()))
        scene.positions.to_numpy()[n - 1] = 42.0  # in place, in the last block
        scene.positions.set_data(np.zeros((1, 3), np.float32), 0, 1)  # partial, first block
        scene.render()
        contents.append(bytes(scene.positions.to_bytearray()))

    _record(path, body)
    read = read_commands(path)
    renders = [i for i, c in enumerate(read) if c.op == "Renderer.render"]
    uuid = scene.positions.get_uuid()
    for k, end in enumerate(renders):
        assert buffer_bytes(read[: end + 1], uuid) == contents[k]
    second = [c for c in read[renders[0] : renders[1]] if c.op == "Buffer.set_data" and c.target == uuid]
    assert len(second) == 1 and list(second[0].args[1:]) == [10, 2]  # no synthetic re-send
    third = [c for c in read[renders[1] : renders[2]] if c.op == "Buffer.set_data" and c.target == uuid]
    assert [list(c.args[1:]) for c in third] == [[0, 1], [0, n]]  # the mutation caught


def test_buffer_written_in_place_is_logged_before_the_call_that_validates_it(tmp_path: Path) -> None:
    """A buffer filled through ``to_numpy()[:]`` and then passed to a constructor or setter
    whose validation reads its contents (Paths path_sizes) replays without errors."""
    from gsp.types import CapStyle, JoinStyle
    from gsp.visuals import Paths
    from sessions import SceneState

    path = tmp_path / "inplace.gsplog"

    def body(rec: recorder.Recorder) -> None:
        positions = Bufferx.from_numpy(np.zeros((6, 3), np.float32), BufferType.vec3)
        sizes = Buffer(2, BufferType.uint32)
        colors = Bufferx.from_numpy(np.full((1, 4), 255, np.uint8), BufferType.rgba8)
        widths = Bufferx.from_numpy(np.ones(1, np.float32), BufferType.float32)
        rec.flush()  # `sizes` is in the log (all zeros) before it is written in place
        sizes.to_numpy()[:] = [2, 4]
        paths = Paths(positions, sizes, colors, widths, CapStyle.ROUND, JoinStyle.ROUND)
        sizes.to_numpy()[:] = [3, 3]
        paths.set_path_sizes(sizes)
        sizes.to_numpy()[:] = [1, 5]
        paths.set_attributes(path_sizes=sizes)  # a keyword argument as well

    _record(path, body)
    read = read_commands(path)
    state = SceneState()
    for cmd in read:
        state.apply(cmd)  # raised "path_sizes sum to 0" before the fix
    uuid = next(c.args[1].uuid for c in read if c.op == "Paths.new")
    writes = [bytes(c.args[0]) for c in read if c.op == "Buffer.set_data" and c.target == uuid]
    expected = [np.array(v, np.uint32).tobytes() for v in ([2, 4], [3, 3], [1, 5])]
    assert writes[-3:] == expected


@pytest.mark.parametrize("exposed", [False, True], ids=["lent", "copied"])
def test_recycled_payloads_never_alter_keyframes(tmp_path: Path, exposed: bool, small_loans: None) -> None:
    """The writer's keyframe ledger keeps references to the latest payload written to each
    buffer: the pool must not hand such a copy to another buffer's call (same shape), nor may a
    loan go back to its buffer, before a keyframe has captured it, or the keyframe would hold
    other contents."""
    from sessions import LogReader, SceneState

    path = tmp_path / "pool_kf.gsplog"
    n = 100_000  # 400 kB: above the pool's threshold
    options = {"keyframe_interval_s": 1e9, "keyframe_interval_bytes": 1}  # by bytes: 8 x the scene
    with recorder.record(path, flush_interval_s=0.005, writer_options=options) as rec:
        a, b = Buffer(n, BufferType.float32), Buffer(n, BufferType.float32)
        if exposed:
            a.to_numpy(), b.to_numpy()  # writable views handed out: copies, not loans
        storages: set[int] = set()
        for frame in range(60):
            data = np.random.default_rng(frame).random(n, dtype=np.float32)  # incompressible: chunks count
            target = a if frame % 2 else b
            target.set_data(data, 0, n)
            storages.add(id(target._data))
            rec.flush()  # a chunk per call: each payload is given back as soon as nothing holds it
    if exposed:
        assert rec._pool.reused > 0
    else:
        assert rec._pool.reused == 0 and len(storages) <= 2 * (MAX_LOANS_PER_BUFFER + 1)
    with LogReader(path) as reader:
        keyframes = list(reader.index.keyframes)
        assert len(keyframes) >= 2
        for number in keyframes:
            state = SceneState()
            for cmd in reader.keyframe_commands(number):
                state.apply(cmd)
            seq = reader.index.entries[number].seq_last
            logged = list(reader.commands(stop=f"seq:{seq + 1}"))
            for buf in (a, b):
                writes = [c for c in logged if c.op == "Buffer.set_data" and c.target == buf.get_uuid()]
                got = bytes(state.get(buf.get_uuid()).to_bytearray())
                expected = np.asarray(writes[-1].args[0]).tobytes() if writes else bytes(4 * n)
                assert got == expected


def test_big_full_writes_hashed_on_the_writer_still_catch_in_place_changes(tmp_path: Path) -> None:
    """Full writes of big buffers are hashed from the copy (on the writer thread): an unchanged
    buffer is not re-sent at render, an in-place write is, and a dtype-converted write is too."""
    from sessions import SceneState

    path = tmp_path / "deferred.gsplog"
    n = 50_000  # 600 kB of vec3: many hash blocks, pooled copies
    scene = make_scene(n)
    frames: list[bytes] = []

    def body(rec: recorder.Recorder) -> None:
        scene.render()
        for k in range(6):
            scene.positions.set_data(np.full((n, 3), k, np.float32), 0, n)
            if k % 2:
                rec.flush()  # sometimes the writer has hashed the copy first, sometimes not
            if k == 3:
                scene.positions.to_numpy()[7] = 42.0  # in place, after the set_data
            scene.render()
            frames.append(bytes(scene.positions.to_bytearray()))
        scene.positions.set_data(np.full((n, 3), 9, np.int32), 0, n)  # same size, converted to float32
        scene.render()
        frames.append(bytes(scene.positions.to_bytearray()))

    _record(path, body)
    read = read_commands(path)
    uuid = scene.positions.get_uuid()
    renders = [i for i, c in enumerate(read) if c.op == "Renderer.render"]
    state = SceneState()  # replayed through gsp: the int32 write is converted as it was live
    done = 0
    for k, end in enumerate(renders[1:]):
        for cmd in read[done : end + 1]:
            state.apply(cmd)
        done = end + 1
        assert bytes(state.get(uuid).to_bytearray()) == frames[k], f"frame {k}"
    writes = [c for c in read[renders[0]:] if c.op == "Buffer.set_data" and c.target == uuid]
    assert len(writes) == 7 + 1  # 7 set_data calls + 1 synthetic after the in-place write


@pytest.mark.parametrize("n", [20, 100_000], ids=["small", "big"])
def test_writes_the_recorder_did_not_see_are_logged_before_render(tmp_path: Path, n: int, small_loans: None) -> None:
    """A buffer never exposed is checked by its write version, not hashed: a set_data made while
    capture is paused (as nested calls are) still reaches the log before the next render, and a
    buffer exposed after it was logged is hashed from then on."""
    from gsp.capture import paused

    path = tmp_path / "unseen.gsplog"
    scene = make_scene(n)
    contents: list[bytes] = []

    def body(rec: recorder.Recorder) -> None:
        scene.render()
        contents.append(scene.positions.read_view().tobytes())
        with paused():  # a write the recorder is not told of
            scene.positions.set_data(np.full((2, 3), 5.0, np.float32), 3, 2)
        scene.render()
        contents.append(scene.positions.read_view().tobytes())
        scene.positions.set_data(np.full((1, 3), 6.0, np.float32), 0, 1)  # partial, seen
        scene.render()
        contents.append(scene.positions.read_view().tobytes())
        scene.positions.to_numpy()[n - 1] = 9.0  # exposed now: from here on, hashed
        scene.render()
        contents.append(scene.positions.read_view().tobytes())
        scene.render()  # nothing changed
        contents.append(scene.positions.read_view().tobytes())

    with recorder.record(path) as rec:  # no on_command: big contents are lent, not copied
        body(rec)
    assert rec.error is None
    # every loan went back when the recording ended, and the storages kept for it were freed
    assert not scene.positions.loans_out and scene.positions._spares is None
    read = read_commands(path)
    renders = [i for i, c in enumerate(read) if c.op == "Renderer.render"]
    uuid = scene.positions.get_uuid()
    for k, end in enumerate(renders):
        assert buffer_bytes(read[: end + 1], uuid) == contents[k]
    assert not [c for c in read[renders[3] : renders[4]] if c.op == "Buffer.set_data"]


@pytest.mark.parametrize("n", [300, 80_000], ids=["1 kB", "320 kB"])
def test_set_data_by_keywords_is_recorded(tmp_path: Path, n: int) -> None:
    """A payload passed as ``data=`` is converted like any argument; the writer thread once
    looked for it in ``args`` and stopped the recording."""
    path = tmp_path / "keywords.gsplog"
    with recorder.record(path) as rec:
        buf = Buffer(n, BufferType.float32)
        buf.set_data(data=np.full(n, 3, np.float32), offset=0, count=n)
        buf.set_data(np.full(n, 4, np.float32), count=n, offset=0)
    assert rec.error is None
    writes = [c for c in read_commands(path) if c.op == "Buffer.set_data"]
    assert len(writes) == 2
    assert (np.asarray(writes[0].kwargs["data"]) == 3).all() and (np.asarray(writes[1].args[0]) == 4).all()


def _lending_script() -> Buffer:
    """Writes of one 320 kB buffer in every shape the recorder tells apart."""
    n = 80_000
    buf = Buffer(n, BufferType.float32)
    buf.set_data(np.zeros(n, np.float32), 0, n)  # made while recording: known from its new
    for frame in range(1, 6):
        buf.set_data(np.full(n, frame, np.float32), 0, n)  # whole contents: lent
    buf.set_data(bytearray(np.full(n, 6, np.float32).tobytes()), 0, n)  # raw bytes, whole
    buf.set_data(np.full(10, 7, np.float32), 5, 10)  # part of it
    buf.set_data(data=np.full(n, 8, np.float32), offset=0, count=n)  # keywords (once stopped the writer)
    buf.to_numpy()[:] = 9.0  # a writable view: no loans from now on
    buf.set_data(np.full(n, 10, np.float32), 0, n)
    return buf


def _calls_as_values(path: Path) -> list[tuple[Any, ...]]:
    def plain(value: Any) -> Any:
        return np.asarray(value).tobytes() if isinstance(value, (np.ndarray, bytes, bytearray)) else value

    return [(cmd.op, tuple(map(plain, cmd.args)), {k: plain(v) for k, v in cmd.kwargs.items()})
            for cmd in read_commands(path)]


def test_whole_writes_of_lending_buffers_take_the_fast_path_and_log_the_same(
    tmp_path: Path, small_loans: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Recorder._lent_set_data`` (lend, note, queue: no lock, no conversion) takes exactly the
    whole-contents writes of a known buffer that can lend, and the log is the one the general
    path writes."""
    general: list[str] = []
    record_call = recorder.Recorder._record_call

    def counting(self: recorder.Recorder, t_ns: int, target: Any, uuid: str, op: str, *rest: Any) -> None:
        if op == "Buffer.set_data":
            general.append(uuid)
        record_call(self, t_ns, target, uuid, op, *rest)

    monkeypatch.setattr(recorder.Recorder, "_record_call", counting)
    with recorder.record(tmp_path / "fast.gsplog") as rec:
        _lending_script()
    assert rec.error is None and rec._loans is not None and len(rec._loans) == 0
    # The general path saw the partial write, the keywords and the write after exposure; the
    # seven whole writes from arrays and raw bytes took the fast path.
    assert len(general) == 3
    monkeypatch.setattr(recorder.Recorder, "_lent_set_data", lambda *args: False)
    with recorder.record(tmp_path / "general.gsplog") as rec:
        _lending_script()
    assert rec.error is None and len(general) == 3 + 10
    fast, slow = _calls_as_values(tmp_path / "fast.gsplog"), _calls_as_values(tmp_path / "general.gsplog")
    assert fast == slow
    assert [op for op, _, _ in fast] == ["Buffer.new"] + ["Buffer.set_data"] * 10
    writes = [set_data_call(cmd)[0] for cmd in read_commands(tmp_path / "fast.gsplog")[1:]]
    assert [np.asarray(data).reshape(-1).view(np.float32)[0] for data in writes] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 10]


_big_write = st.one_of(
    st.tuples(st.just("whole"), st.sampled_from(["numpy", "bytearray"]), st.booleans()),
    st.tuples(st.just("part"), st.integers(0, 69_000), st.integers(1, 1000), st.booleans()),
    st.tuples(st.just("expose")),
    st.tuples(st.just("flush")),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=st.lists(_big_write, min_size=1, max_size=30))
def test_any_sequence_of_big_writes_logs_each_write_as_made(
    tmp_path: Path, small_loans: None, writes: list[tuple[Any, ...]]
) -> None:
    """Big writes (lent, copied, pooled, by keyword, partial, before and after the storage is
    exposed, with chunks ending anywhere) recorded with no ``on_command``, so loans and
    recycled copies are in play: every set_data reads back with the bytes passed at its call."""
    path = tmp_path / "big.gsplog"
    n = 70_000  # 280 kB of float32: lent and pooled at the small_loans threshold
    made: list[tuple[int, int, bytes]] = []
    rng = np.random.default_rng(len(writes))
    with recorder.record(path) as rec:
        buf = Buffer(n, BufferType.float32)
        for write in writes:
            if write[0] in ("whole", "part"):
                offset, count = (0, n) if write[0] == "whole" else (write[1], write[2])
                values = rng.random(count, dtype=np.float32)
                expected = values.tobytes()
                data: Any = bytearray(expected) if write[0] == "whole" and write[1] == "bytearray" else values
                if write[-1]:  # by keyword
                    buf.set_data(data=data, offset=offset, count=count)
                else:
                    buf.set_data(data, offset, count)
                values[:] = -1.0  # the caller reuses its array at once: the log must not see it
                if type(data) is bytearray:
                    data[:] = bytes(len(data))
                made.append((offset, count, expected))
            elif write[0] == "expose":
                buf.to_numpy()[0] = 5.0
            else:
                rec.flush()
    assert rec.error is None
    assert rec._loans is not None and len(rec._loans) == 0 and buf.loans_out == 0
    logged = []
    for cmd in read_commands(path):
        if cmd.op == "Buffer.set_data" and cmd.target == buf.get_uuid():
            data, offset, count = set_data_call(cmd)
            logged.append((offset, count, np.asarray(data).tobytes()))
    assert logged == made


def test_lent_whole_writes_keep_the_log_up_to_date(tmp_path: Path, small_loans: None) -> None:
    """After whole writes through the fast path the recorder knows the log holds the buffer's
    contents: a render would not send them again."""
    n = 80_000
    with recorder.record(tmp_path / "uptodate.gsplog") as rec:
        buf = Buffer(n, BufferType.float32)
        for frame in range(3):
            buf.set_data(np.full(n, frame, np.float32), 0, n)
            assert buf.loans_out >= 1  # lent, not copied
            assert rec.tracker.changed([buf]) == []


def test_try_lend_never_waits(small_loans: None) -> None:
    """``LoanBook.try_lend`` gives None at once when the buffer has its most loans out (the
    general path is the one that waits for the writer), and when the storage is exposed."""
    book = LoanBook()
    buf = Buffer(80_000, BufferType.float32)
    lent = [book.try_lend(buf) for _ in range(max_loans(buf))]
    assert all(a is not None for a in lent) and buf.loans_out == len(lent)
    start = time.monotonic()
    assert book.try_lend(buf) is None and time.monotonic() - start < LOAN_WAIT_S / 2
    book.release(lent[0])
    assert book.try_lend(buf) is not None
    book.release_all()
    assert buf.loans_out == 0 and buf._spares is None
    buf.to_numpy()
    assert book.try_lend(buf) is None


def test_threads_animating_big_buffers_lend_and_log_every_frame(tmp_path: Path, small_loans: None) -> None:
    """Several threads rewriting their own big buffer as fast as they can: contents are lent
    (never copied), loans wait for the writer when too many are out, and every frame reads back
    with its own bytes; at the end every loan is back and the spares are freed."""
    path = tmp_path / "threads_big.gsplog"
    n, frames = 80_000, 40  # 320 kB float32: lent
    buffers = [Buffer(n, BufferType.float32) for _ in range(3)]

    def frame_data(k: int, frame: int) -> np.ndarray:
        return np.random.default_rng(1000 * k + frame).random(n, dtype=np.float32)

    def work(k: int) -> None:
        for frame in range(frames):
            buffers[k].set_data(frame_data(k, frame), 0, n)

    with recorder.record(path) as rec:
        for buf in buffers:
            buf.set_data(np.zeros(n, np.float32), 0, n)
        threads = [threading.Thread(target=work, args=(k,)) for k in range(len(buffers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert rec.error is None and rec._pool.reused == 0
    assert rec._loans is not None and len(rec._loans) == 0
    assert all(buf.loans_out == 0 and buf._spares is None for buf in buffers)
    read = read_commands(path)
    for k, buf in enumerate(buffers):
        writes = [c.args[0] for c in read if c.op == "Buffer.set_data" and c.target == buf.get_uuid()]
        assert len(writes) == frames + 2  # the snapshot (created before recording), zeros, the frames
        for frame, data in enumerate(writes[2:]):
            assert np.array_equal(np.asarray(data), frame_data(k, frame))


def test_user_data_is_not_walked_for_buffers(tmp_path: Path) -> None:
    """The walk for changed buffers before each render followed ``userData``, the application's
    dict: a cycle in it (a parent link) made every recorded render loop forever, and a big one
    cost a render 200 ms. The log does not hold userData: the walk leaves it alone."""
    scene = make_scene(8)
    root: dict[str, Any] = {"children": []}
    root["children"].append({"parent": root})
    scene.points.userData = {"node": root["children"][0], "big": [{"i": i} for i in range(20_000)]}
    scene.viewport.userData = {"loop": []}
    scene.viewport.userData["loop"].append(scene.viewport.userData)
    done = threading.Event()

    def record() -> None:
        with recorder.record(tmp_path / "user_data.gsplog"):
            for _ in range(50):
                scene.render()
        done.set()

    threading.Thread(target=record, daemon=True).start()
    assert done.wait(60), "a recorded render never returned"
    assert sum(c.op == "Renderer.render" for c in read_commands(tmp_path / "user_data.gsplog")) == 50


@pytest.mark.parametrize("how", ["copy", "deepcopy"])
def test_a_copied_object_is_an_object_of_its_own_in_the_log(tmp_path: Path, how: str) -> None:
    """``copy.deepcopy`` kept the UUIDs, so the log held one object: replay applied the copy's
    changes to the original (live: red and blue points; replayed: blue only)."""
    import copy

    from sessions import SceneState

    scene = make_scene(4)
    path = tmp_path / f"{how}.gsplog"
    with recorder.record(path):
        twin = getattr(copy, how)(scene.points)
        if how == "copy":  # a shallow copy shares its buffers: give it positions of its own
            twin.set_positions(copy.copy(scene.positions))
        twin.get_positions().to_numpy()[:, 0] += 0.5
        twin.set_face_colors(Bufferx.from_numpy(np.array([[0, 0, 255, 255]], np.uint8), BufferType.rgba8))
        scene.renderer.render([scene.viewport] * 2, [scene.points, twin], [scene.model] * 2, [scene.camera] * 2)
    assert twin.get_uuid() != scene.points.get_uuid()
    assert twin.get_positions().get_uuid() != scene.positions.get_uuid()
    state = SceneState()
    for command in read_commands(path):
        state.apply(command)
    original, copied = state.get(scene.points.get_uuid()), state.get(twin.get_uuid())
    assert Bufferx.to_numpy(original.get_face_colors()).tolist() == [[200, 200, 200, 200]] * 4
    np.testing.assert_array_equal(Bufferx.to_numpy(original.get_positions()), Bufferx.to_numpy(scene.positions))
    np.testing.assert_array_equal(Bufferx.to_numpy(copied.get_positions()), Bufferx.to_numpy(twin.get_positions()))
    assert not np.array_equal(Bufferx.to_numpy(copied.get_positions()), Bufferx.to_numpy(scene.positions))


def test_a_color_changed_in_place_is_logged_before_the_render_that_draws_it(tmp_path: Path) -> None:
    """A getter hands out the Color itself: ``viewport.get_background_color()[0] = 0`` was drawn
    live but never logged, so the replay drew the old color. It also changed
    ``Constants.Color.white`` for every viewport made with it: objects now keep copies."""
    from gsp.constants import Constants
    from sessions import SceneState

    white = bytes(Constants.Color.white)
    scene = make_scene(4)
    path = tmp_path / "colors.gsplog"
    with recorder.record(path):
        scene.render()
        scene.viewport.get_background_color()[0:3] = b"\x00\x00\xff"
        scene.canvas.get_background_color()[3] = 7
        scene.render()
        scene.render()  # nothing changed since: nothing logged again
        other = Viewport(0, 0, 5, 5, Constants.Color.white)
        other.get_background_color()[1] = 9
    assert bytes(Constants.Color.white) == white
    commands = read_commands(path)
    colors = [(c.op, bytes(c.args[0])) for c in commands if c.op.endswith("set_background_color")]
    assert sorted(colors) == [("Canvas.set_background_color", bytes(scene.canvas.get_background_color())),
                              ("Viewport.set_background_color", bytes(scene.viewport.get_background_color()))]
    renders = [i for i, c in enumerate(commands) if c.op == "Renderer.render"]
    first_color = next(i for i, c in enumerate(commands) if c.op.endswith("set_background_color"))
    assert renders[0] < first_color < renders[1]
    state = SceneState()
    for command in commands:
        state.apply(command)
    assert state.get(scene.viewport.get_uuid()).get_background_color() == scene.viewport.get_background_color()
    assert state.get(scene.canvas.get_uuid()).get_background_color() == scene.canvas.get_background_color()


def test_lists_changed_in_place_are_logged_before_the_render_that_draws_them(tmp_path: Path) -> None:
    """A getter hands out a Texts' strings and a material's lights themselves: changing them in
    place was drawn live but never logged. A new light appended is logged with its creation."""
    import sys

    sys.path.insert(0, str(REPO / "tests" / "backends"))  # the backends' scenes
    try:
        from gsp_scenes import mesh_materials, mesh_scene, texts_scene
    finally:
        sys.path.remove(str(REPO / "tests" / "backends"))

    from gsp.lights import PointLight
    from gsp.types.enums import TextAlign
    from player.backends.null import NullRenderer
    from sessions import SceneState

    texts, mesh = texts_scene(), mesh_scene(mesh_materials()["phong_ambient"])
    words, material = texts.visuals[0], mesh.visuals[0].get_material()
    path = tmp_path / "lists.gsplog"
    with recorder.record(path):
        NullRenderer(texts.canvas).render(*texts.args)
        renderer = NullRenderer(mesh.canvas)
        renderer.render(*mesh.args)
        words.get_strings()[2] = "changed"
        words.get_text_aligns()[0] = TextAlign.TOP_RIGHT
        material.get_lights().append(PointLight((0.0, 2.0, 2.0), bytearray([255, 0, 0, 255]), 0.5))
        NullRenderer(texts.canvas).render(*texts.args)
        renderer.render(*mesh.args)
        renderer.render(*mesh.args)  # nothing changed since: nothing logged again
    commands = read_commands(path)
    setters = [c.op for c in commands if c.op in ("Texts.set_strings", "Texts.set_text_aligns",
                                                     "MeshPhongMaterial.set_lights")]
    assert sorted(setters) == ["MeshPhongMaterial.set_lights", "Texts.set_strings", "Texts.set_text_aligns"]
    state = SceneState()
    for command in commands:
        state.apply(command)
    replayed = state.get(words.get_uuid())
    assert replayed.get_strings() == words.get_strings() and replayed.get_strings()[2] == "changed"
    assert replayed.get_text_aligns() == words.get_text_aligns()
    lights = state.get(material.get_uuid()).get_lights()
    assert [light.get_uuid() for light in lights] == [light.get_uuid() for light in material.get_lights()]
    assert len(lights) == 2


@pytest.mark.parametrize("c_hot_path", [True, False])
def test_a_write_interrupted_before_it_is_queued_leaks_no_loan_and_is_logged_at_the_next_render(
    tmp_path: Path, c_hot_path: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C (a notebook's interrupt) landing inside the recorder while it handled a big
    set_data left the buffer's contents lent for good (every later write then waited 1 s for
    the loan) and the write noted as logged: the log and the picture then differed."""
    from recorder.pool import LEND_MIN_BYTES

    monkeypatch.setenv(recorder.core.hotpath.ENV_NO_C_HOTPATH, "" if c_hot_path else "1")
    n = LEND_MIN_BYTES // 12 + 1000
    scene = make_scene(n)
    path = tmp_path / "interrupted.gsplog"
    rng = np.random.default_rng(3)
    with recorder.record(path) as rec:
        scene.render()
        put = rec.queue.put

        def interrupted_put(item: Any, *args: Any, **kwargs: Any) -> Any:
            if item[1] == "Buffer.set_data":
                raise KeyboardInterrupt  # what a Ctrl-C landing at this point does
            return put(item, *args, **kwargs)

        for _ in range(3):
            new = (rng.random((n, 3), dtype=np.float32) * 2 - 1).tobytes()
            monkeypatch.setattr(rec.queue, "put", interrupted_put)
            with pytest.raises(KeyboardInterrupt):
                scene.positions.set_data(bytearray(new), 0, n)
            monkeypatch.setattr(rec.queue, "put", put)
            assert scene.positions.loans_out == 0
        scene.render()  # the write was never logged: this render's check logs it
    writes = [c for c in read_commands(path) if c.op == "Buffer.set_data" and c.target == scene.positions.get_uuid()]
    assert bytes(np.asarray(writes[-1].args[0]).tobytes()) == bytes(scene.positions.to_bytearray())
