"""The session clock follows an animator's frames: a headless animation, which runs as fast as it
can, is logged at its frame rate; a loop slower than its frame rate keeps its real times."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rec_support import REPO, make_scene, read_commands, run_python

import recorder
from gsp.types.animator_base import configure_headless, reset_headless
from player.backends.null import NullAnimator
from recorder.core import FRAME_OP
from sessions import LogReader


@pytest.fixture(autouse=True)
def _headless_settings_undone() -> object:
    yield
    reset_headless()


def _frame_and_render_times(path: Path) -> tuple[list[int], list[int]]:
    commands = read_commands(path)
    frames = [c.t_ns for c in commands if c.op == FRAME_OP]
    renders = [c.t_ns for c in commands if c.op == "Renderer.render"]
    return frames, renders


@pytest.mark.parametrize("c_hot_path", [True, False])
def test_headless_frames_are_logged_at_the_frame_rate(tmp_path: Path, c_hot_path: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # Chosen here, whatever GSP_NO_C_HOTPATH says for the rest of the run.
    monkeypatch.setenv(recorder.core.hotpath.ENV_NO_C_HOTPATH, "" if c_hot_path else "1")
    path = tmp_path / "headless.gsplog"
    configure_headless(12, fps=20.0)  # 50 ms of animation per frame
    with recorder.record(path) as rec:
        assert rec.uses_c_hot_path == c_hot_path
        scene = make_scene()
        animator = NullAnimator(scene.renderer)
        # A scalar setter inside each frame takes the fast path (C or Python): it must see the moved clock.
        animator.add_callback(lambda dt: scene.viewport.set_x(1) or [])
        started = time.monotonic_ns()
        animator.start([scene.viewport], [scene.points], [scene.model], [scene.camera])
        real_ns = time.monotonic_ns() - started
    frames, renders = _frame_and_render_times(path)
    assert len(frames) == len(renders) == 12
    steps = [b - a for a, b in zip(frames, frames[1:])]
    if real_ns < 11 * 50_000_000 // 2:  # the loop ran well faster than 20 fps (as it does)
        assert steps == [50_000_000] * 11
    else:
        assert min(steps) >= 50_000_000
    setters = [c for c in read_commands(path) if c.op == "Viewport.set_x"]
    assert len(setters) == 12
    for frame_t, setter, render_t in zip(frames, setters, renders):
        assert frame_t < setter.t_ns <= render_t  # after its frame's report, in the same frame
    times = [c.t_ns for c in read_commands(path)]
    assert times == sorted(times)
    # The header's anchor is where the session started; the clock has moved on since.
    anchor = LogReader(path).header.metadata["recorder"]["monotonic_anchor_ns"]
    assert rec.t0_ns < anchor


def test_frames_slower_than_their_rate_keep_real_times(tmp_path: Path) -> None:
    path = tmp_path / "slow.gsplog"
    configure_headless(5, fps=1000.0)  # 1 ms frames, but each takes 3 ms
    with recorder.record(path) as rec:
        scene = make_scene()
        animator = NullAnimator(scene.renderer)
        animator.add_callback(lambda dt: time.sleep(0.003) or [])
        animator.start([scene.viewport], [scene.points], [scene.model], [scene.camera])
    frames, _ = _frame_and_render_times(path)
    assert len(frames) == 5
    assert all(b - a >= 3_000_000 for a, b in zip(frames, frames[1:]))
    assert rec.t0_ns == LogReader(path).header.metadata["recorder"]["monotonic_anchor_ns"]  # never moved


def test_each_animator_paces_its_own_frames_and_restarts_are_not_paced(tmp_path: Path) -> None:
    path = tmp_path / "two.gsplog"
    configure_headless(3, fps=10.0)
    with recorder.record(path):
        scene = make_scene()
        first, second = NullAnimator(scene.renderer), NullAnimator(scene.renderer)
        args = ([scene.viewport], [scene.points], [scene.model], [scene.camera])
        first.start(*args)
        second.start(*args)
    commands = read_commands(path)
    by_animator: dict[str, list[int]] = {}
    for c in commands:
        if c.op == FRAME_OP:
            by_animator.setdefault(c.target, []).append(c.t_ns)
    assert sorted(map(len, by_animator.values())) == [3, 3]
    for times in by_animator.values():
        assert [b - a for a, b in zip(times, times[1:])] == [100_000_000] * 2
    # The second animator's first frame follows the first one's run, with no extra pause.
    first_times, second_times = by_animator[first.get_uuid()], by_animator[second.get_uuid()]
    assert 0 < second_times[0] - first_times[-1] < 100_000_000


@pytest.mark.slow
def test_a_headless_recording_replays_into_a_video_at_its_frame_rate(tmp_path: Path) -> None:
    """The README's main job, shortened: `gsp record --no-render` then `gsp-replay -o x.mp4`."""
    log, video = tmp_path / "anim.gsplog", tmp_path / "anim.mp4"
    result = run_python(
        ["-m", "gsplog_cli.main", "record", str(REPO / "examples" / "animation.py"), "-o", str(log),
         "--frames", "6", "--fps", "12", "--no-render"],
        env={"GSP_EXAMPLE_POINTS": "500"},
    )
    assert result.returncode == 0, result.stderr
    frames, renders = _frame_and_render_times(log)
    assert len(frames) == len(renders) == 6 and frames[-1] - frames[0] >= 5 * 83_333_333
    result = run_python(["-m", "gsplog_cli.main", "replay", str(log), "--backend", "matplotlib", "-o", str(video)])
    assert result.returncode == 0, result.stderr
    assert f"-> {video} at 12 fps, declared by the frames' animator (1 / its delta_time; --fps sets it)" in result.stderr
    import imageio.v2 as iio

    meta = iio.get_reader(video).get_meta_data()
    assert meta["fps"] == pytest.approx(12, abs=0.1)
    assert meta["duration"] == pytest.approx(0.5, abs=0.05)


def test_a_headless_animation_that_drew_slower_than_its_rate_makes_a_video_at_its_rate(tmp_path: Path) -> None:
    """Frames slower than their rate keep real times in the log, but the animation was made at
    its rate: `gsp record --fps 50` of frames that take 40 ms made a 25 fps video, not 50."""
    from player import replay

    path, video = tmp_path / "slow.gsplog", tmp_path / "slow.mp4"
    configure_headless(6, fps=50.0)
    with recorder.record(path):
        scene = make_scene()
        animator = NullAnimator(scene.renderer)
        animator.add_callback(lambda dt: time.sleep(0.04) or [])
        animator.start([scene.viewport], [scene.points], [scene.model], [scene.camera])
    frames, _ = _frame_and_render_times(path)
    assert all(b - a >= 40_000_000 for a, b in zip(frames, frames[1:]))  # real times kept
    result = replay(path, backend="matplotlib", output=video)
    assert result.fps == pytest.approx(50.0)
    import imageio.v2 as iio

    meta = iio.get_reader(video).get_meta_data()
    assert meta["fps"] == pytest.approx(50, abs=0.1)
