"""Every example replayed on Datoviz draws what Matplotlib draws (SSIM >= 0.9 per frame).

Also checks determinism: two Datoviz replays of one log give identical frames. Side-by-side
images of the examples are written to docs/parity/ by ``docs/parity/make_parity.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

import player
import recorder
from gsp.types.animator_base import configure_headless, reset_headless

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backends"))
from imagecmp import ssim  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.py"))

datoviz = pytest.importorskip("player.backends.datoviz")
pytestmark = pytest.mark.datoviz


@pytest.fixture(scope="module")
def require_datoviz() -> None:
    if not datoviz.datoviz_available():
        pytest.skip("datoviz cannot be imported here (needs libvulkan1 and a Vulkan driver)")


def frames(folder: Path) -> list[np.ndarray]:
    return [(matplotlib.image.imread(p) * 255).round().astype(np.uint8) for p in sorted(folder.glob("*.png"))]


@pytest.mark.parametrize("name", NAMES)
def test_example_parity_matplotlib_datoviz(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, require_datoviz: None
) -> None:
    monkeypatch.setenv("GSP_BACKEND", "null")
    monkeypatch.setenv("GSP_EXAMPLE_POINTS", "2000")
    log = tmp_path / f"{name}.gsplog"
    configure_headless(3, fps=20.0)
    try:
        with recorder.record(log):
            import runpy

            runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    finally:
        reset_headless()
    for backend, folder in (("matplotlib", "mpl"), ("datoviz", "dvz1"), ("datoviz", "dvz2")):
        player.replay(log, backend=backend, output=tmp_path / folder, progress=False)
    mpl, dvz, dvz_again = frames(tmp_path / "mpl"), frames(tmp_path / "dvz1"), frames(tmp_path / "dvz2")
    assert len(mpl) == len(dvz) == len(dvz_again) >= 1
    for index, (a, b, c) in enumerate(zip(mpl, dvz, dvz_again)):
        assert a.shape == b.shape, f"{name} frame {index + 1}: sizes differ"
        score = ssim(a, b)
        assert score >= 0.9, f"{name} frame {index + 1}: SSIM {score:.3f} between Matplotlib and Datoviz"
        np.testing.assert_array_equal(b, c, err_msg=f"{name} frame {index + 1}: Datoviz replays differ")
    assert os.path.getsize(log) > 0
