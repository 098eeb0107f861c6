"""Exporters on real files: PNG, numbered frames, GIF and MP4 read back with imageio."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

import imageio.v2 as iio2
import imageio.v3 as iio3
import numpy as np
import pytest

from player.exporters import (
    FramesDirExporter,
    PngExporter,
    VideoExporter,
    estimate_fps,
    make_exporter,
)
from player.frames import RenderedFrame, decode_png, encode_png


def _frame(number: int, width: int = 40, height: int = 30, fps: float = 10.0) -> RenderedFrame:
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[:, : number * 4, 0] = 255  # a red band growing with the frame number
    return RenderedFrame(number=number, t_ns=round(number * 1e9 / fps), renderer="r", rgba=rgba)


def test_make_exporter_picks_by_suffix(tmp_path: Path) -> None:
    assert isinstance(make_exporter(tmp_path / "a.png"), PngExporter)
    assert isinstance(make_exporter(tmp_path / "a.mp4"), VideoExporter)
    assert isinstance(make_exporter(tmp_path / "a.GIF"), VideoExporter)
    assert isinstance(make_exporter(tmp_path / "frames"), FramesDirExporter)
    assert isinstance(make_exporter(str(tmp_path / "x.png") + "/"), FramesDirExporter)
    with pytest.raises(ValueError, match="unknown suffix"):
        make_exporter(tmp_path / "a.jpgx")


def test_png_keeps_last_frame(tmp_path: Path) -> None:
    exporter = PngExporter(tmp_path / "sub" / "out.png")
    for n in (1, 2, 3):
        exporter.add(_frame(n))
    assert exporter.close() == [tmp_path / "sub" / "out.png"]
    image = iio3.imread(tmp_path / "sub" / "out.png")
    assert image.shape == (30, 40, 4)
    assert image[0, 11, 0] == 255 and image[0, 12, 0] == 0  # frame 3: 12 red columns


def test_frames_dir_numbers_from_one(tmp_path: Path) -> None:
    exporter = FramesDirExporter(tmp_path / "frames")
    for n in (5, 6, 7):
        exporter.add(_frame(n))
    paths = exporter.close()
    assert [p.name for p in paths] == ["frame_000001.png", "frame_000002.png", "frame_000003.png"]
    assert np.array_equal(decode_png(paths[0].read_bytes()), _frame(5).rgba)


def test_a_live_png_is_kept_current_and_always_whole(tmp_path: Path) -> None:
    """With refresh_s (live sources) the PNG holds the newest frame as frames come, at most once
    per refresh_s, the first at once; the file is replaced whole (no .partial left behind)."""
    path = tmp_path / "live.png"
    every = PngExporter(path, refresh_s=0.0)
    for n in (1, 2, 3):
        every.add(_frame(n))
        assert np.array_equal(decode_png(path.read_bytes()), _frame(n).rgba)
    rare = PngExporter(path, refresh_s=3600.0)
    for n in (4, 5, 6):
        rare.add(_frame(n))
        assert np.array_equal(decode_png(path.read_bytes()), _frame(4).rgba)  # the first, at once
    assert rare.close() == [path]
    assert np.array_equal(decode_png(path.read_bytes()), _frame(6).rgba)  # the last, at close
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.png"]


def test_a_frames_folder_holds_one_replay(tmp_path: Path) -> None:
    """A shorter replay into a folder an earlier one filled leaves no frames of the earlier one
    behind; files that are not its frames stay."""
    folder = tmp_path / "frames"
    first = FramesDirExporter(folder)
    for n in range(1, 6):
        first.add(_frame(n))
    first.close()
    (folder / "notes.txt").write_text("mine")
    (folder / "frame_000009.png").write_bytes(b"not next to the others")
    again = FramesDirExporter(folder)
    for n in (7, 8):
        again.add(_frame(n))
    again.close()
    assert sorted(p.name for p in folder.iterdir()) == ["frame_000001.png", "frame_000002.png", "frame_000009.png",
                                                       "notes.txt"]
    assert np.array_equal(decode_png((folder / "frame_000002.png").read_bytes()), _frame(8).rgba)


def test_gif_frames_and_timing(tmp_path: Path) -> None:
    exporter = VideoExporter(tmp_path / "m.gif")
    for n in range(1, 6):
        exporter.add(_frame(n, fps=20.0))
    assert exporter.close() == [tmp_path / "m.gif"]
    assert exporter.fps == pytest.approx(20.0)
    frames = iio3.imread(tmp_path / "m.gif", index=None)
    assert frames.shape[:3] == (5, 30, 40)
    assert frames[2][0, 11, 0] > 200 and frames[2][0, 13, 0] < 50
    assert iio3.immeta(tmp_path / "m.gif")["duration"] == 50


_GIF_MEMORY_CHILD = """
import sys
import numpy as np
from player.exporters import VideoExporter
from player.frames import RenderedFrame

rng = np.random.default_rng(0)
base = rng.integers(0, 255, (32, 32, 4), dtype=np.uint8).repeat(8, axis=0).repeat(8, axis=1)  # 8x8 blocks
base[..., 3] = 255

def status_kib(field):  # this process's own figures (getrusage's maxrss may hold its parent's at fork)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))

exporter = VideoExporter(sys.argv[1], fps=25)
exporter.add(RenderedFrame(number=1, t_ns=0, renderer="r", rgba=base.copy()))
before = status_kib("VmRSS")
for number in range(2, int(sys.argv[2]) + 1):
    exporter.add(RenderedFrame(number=number, t_ns=number * 40_000_000, renderer="r",
                               rgba=np.roll(base, number, axis=1)))
exporter.close()
print(status_kib("VmHWM") - before)
"""


@pytest.mark.slow
def test_a_gif_is_written_as_frames_come_in_bounded_memory(tmp_path: Path) -> None:
    """imageio's Pillow plugin kept every frame until close (0.8 MB a 400x400 frame: 1.28 GB for
    1500 frames); the GIF is now streamed: 300 frames of 256x256 (110 MB held the old way) grow
    the process by a few MB."""
    import subprocess
    import sys

    path = tmp_path / "long.gif"
    done = subprocess.run([sys.executable, "-c", _GIF_MEMORY_CHILD, str(path), "300"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    grown_mib = int(done.stdout) / 1024
    assert grown_mib < 30, f"the process grew by {grown_mib:.0f} MiB while writing the GIF"
    frames = iio3.imread(path, index=None)
    assert frames.shape == (300, 256, 256, 3)


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".webm", ".avi"])
def test_video_odd_size_and_fps(tmp_path: Path, suffix: str) -> None:
    """Every video suffix the exporter takes makes a video (.webm failed: WebM holds no H.264)."""
    exporter = VideoExporter(tmp_path / f"m{suffix}", fps=12.0)
    for n in range(1, 10):
        exporter.add(_frame(n, width=41, height=31))
    exporter.close()
    reader = iio2.get_reader(tmp_path / f"m{suffix}")
    meta = reader.get_meta_data()
    assert meta["fps"] == pytest.approx(12.0)
    assert meta["size"] == (42, 32)
    assert reader.count_frames() == 9


def test_video_rejects_size_change(tmp_path: Path) -> None:
    exporter = VideoExporter(tmp_path / "m.gif", fps=5)
    exporter.add(_frame(1))
    with pytest.raises(ValueError, match="one size"):
        exporter.add(_frame(2, width=20))
    exporter.abort()  # as replay() does after an error: its ffmpeg must not outlive the test


def test_estimate_fps() -> None:
    assert estimate_fps([0, 100_000_000, 200_000_000]) == pytest.approx(10.0)
    assert estimate_fps([5]) == 30.0
    assert estimate_fps([0, 1]) == 120.0
    # The rate an animator declared wins over slow recorded times; only when every frame has one.
    assert estimate_fps([0, 100_000_000, 200_000_000], declared=[30.0, 30.0, 30.0]) == pytest.approx(30.0)
    assert estimate_fps([0, 100_000_000, 200_000_000], declared=[30.0, None, 30.0]) == pytest.approx(10.0)


def test_png_round_trip() -> None:
    rgba = _frame(3).rgba
    assert rgba is not None
    assert np.array_equal(decode_png(encode_png(rgba)), rgba)



@pytest.mark.parametrize("name", ["m.mp4", "m.gif"])
def test_a_video_leaves_no_pipe_open(tmp_path: Path, name: str) -> None:
    # ffmpeg's stderr pipe was left to the garbage collector: a ResourceWarning per video.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        exporter = VideoExporter(tmp_path / name, fps=5)
        for n in range(1, 4):
            exporter.add(_frame(n))
        exporter.close()
        del exporter
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
