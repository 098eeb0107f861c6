"""pytest-benchmark figures of the recorder (group "recorder").

    pytest benchmarks/bench_recorder.py --benchmark-only

- 10 000 small calls (``viewport.set_x``) recorded, log closed: compare with the same calls
  observed by a do-nothing observer (the capture seam's own cost);
- the writer's keyframe ledger noting 20 000 small whole writes (16 bytes), its rows in Python
  and in C (``sessions._ledger``);
- one frame of a 1M-point animation (``set_data`` of 12 MB + render) recorded and flushed to
  disk, against ``lz4.block.compress`` of the same bytes.

The ratio scripts (``python benchmarks/recorder_*.py``) print the targets' ratios directly.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lz4.block
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recorder_common import animation_frames, points_scene  # noqa: E402

import recorder  # noqa: E402
from gsp import capture  # noqa: E402
from gsp.core import Viewport  # noqa: E402
from sessions import ledger  # noqa: E402

WHITE = bytearray([255, 255, 255, 255])
SMALL = 10_000


class _Noop:
    def on_call(self, target: Any, op: str, args: Any, kwargs: Any) -> None:
        pass


@pytest.mark.benchmark(group="recorder-small-calls")
def test_small_calls_seam_only(benchmark: Any) -> None:
    vp = Viewport(0, 0, 10, 10, WHITE)
    noop = _Noop()
    capture.add_observer(noop)
    try:
        benchmark(lambda: [vp.set_x(i) for i in range(SMALL)])
    finally:
        capture.remove_observer(noop)


@pytest.mark.benchmark(group="recorder-small-calls")
def test_small_calls_recorded(benchmark: Any, tmp_path: Path) -> None:
    vp = Viewport(0, 0, 10, 10, WHITE)

    def run() -> None:
        with recorder.record(tmp_path / "small.gsplog"):
            for i in range(SMALL):
                vp.set_x(i)

    benchmark.pedantic(run, rounds=5, iterations=1)


@pytest.mark.parametrize("backend", ["python", "c"])
@pytest.mark.benchmark(group="recorder-ledger-rows")
def test_ledger_rows(benchmark: Any, backend: str) -> None:
    uuid = "b" * 32
    rows = [(i + 2, i, "Buffer.set_data", uuid, (bytes(16), 0, 1), {}) for i in range(SMALL * 2)]
    default = ledger.LEDGER_BACKEND
    ledger.use_ledger(backend)  # ImportError where sessions._ledger is not built

    def note_all() -> None:
        scene = ledger.SceneLedger()
        scene.append_row((1, 0, "Buffer.new", uuid, (1, 3), {}))
        for start in range(0, len(rows), 512):  # the recorder's batches
            scene.append_rows(rows[start:start + 512])

    try:
        benchmark(note_all)
    finally:
        ledger.use_ledger(default)


@pytest.fixture(scope="module")
def frame_1m() -> Any:
    return next(animation_frames(1_000_000, 1))


@pytest.mark.benchmark(group="recorder-1m-frame")
def test_1m_frame_lz4_only(benchmark: Any, frame_1m: Any) -> None:
    view = memoryview(frame_1m).cast("B")
    benchmark(lambda: lz4.block.compress(view))


@pytest.mark.benchmark(group="recorder-1m-frame")
def test_1m_frame_recorded(benchmark: Any, frame_1m: Any, tmp_path: Path) -> None:
    with recorder.record(tmp_path / "frame.gsplog") as rec:
        scene = points_scene(frame_1m.shape[0])
        scene.render()
        rec.flush()

        def one_frame() -> None:
            scene.positions.set_data(frame_1m, 0, frame_1m.shape[0])
            scene.render()
            rec.flush()  # on disk before the round ends

        benchmark.pedantic(one_frame, rounds=5, iterations=1)
