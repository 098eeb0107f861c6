"""README.md stays true: its main job (record the example headless, replay it into a video) and
its Python quick start run as written, and give what they promise."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v2 as iio
import imageio.v3 as iio3
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)  # where pip put the gsp and gsp-replay scripts
    return dict(os.environ, MPLBACKEND="Agg", PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))


@pytest.mark.slow
def test_the_main_job_runs_as_written_and_makes_a_one_second_video(tmp_path: Path) -> None:
    first = [line for line in _blocks("bash")[0].splitlines() if line and not line.startswith("#")][0]
    setup, _, job = first.partition(" && ")
    assert setup.startswith("pip install -e"), first  # the set-up part is what CI does itself
    if shutil.which("gsp", path=_env()["PATH"]) is None:
        pytest.fail("the gsp command is not installed (pip install -e . installs it)")
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    result = subprocess.run(["bash", "-c", job], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    video = tmp_path / re.findall(r"-o (\S+\.mp4)", job)[0]
    meta = iio.get_reader(video).get_meta_data()
    assert meta["fps"] == pytest.approx(30, abs=0.1) and meta["duration"] == pytest.approx(1.0, abs=0.05)
    frames = iio3.imread(video, index=None)
    assert len(frames) == 30
    assert not np.array_equal(frames[0], frames[-1])  # the points moved
    assert (frames[-1].std(axis=2) > 20).mean() > 0.05  # colored points, not a blank canvas


@pytest.mark.slow
def test_the_python_quick_start_runs_and_draws_the_points(tmp_path: Path) -> None:
    code = next(block for block in _blocks("python") if "recorder.record(" in block)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    image = iio3.imread(tmp_path / "frame.png")
    blue = (image[..., 2] > 150) & (image[..., 0] < 100)  # the points are [30, 90, 200]
    assert 0.02 < blue.mean() < 0.9
    from sessions import LogReader

    with LogReader(tmp_path / "session.gsplog") as reader:
        assert reader.metadata["user"] == {"experiment": "demo"}
        assert "first frame" in [marker.label for marker in reader.index.markers]
