"""Every example, recorded while it renders live with Matplotlib, replays to the same pixels.

The live frames come from a real MatplotlibRenderer subclass that keeps each picture it draws
(registered under its own backend name, so the example scripts run unchanged). The replay uses
the plain "matplotlib" backend from the log alone.
"""

from __future__ import annotations

import io
import os
import runpy
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

import player
import recorder
from gsp.types.animator_base import configure_headless, reset_headless
from gsp.utils.renderer_registry import RendererRegistry
from player.backends.matplotlib import MatplotlibRenderer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.py"))
ANIMATED = {"animation", "mesh_camera"}
FRAMES = 4


class FrameKeepingRenderer(MatplotlibRenderer):
    """The Matplotlib renderer, keeping every frame it draws live, as ``imread`` reads a PNG:
    a script's ``render`` (PNG) or an animator's frame (``render_rgba``, no PNG)."""

    frames: list[np.ndarray] = []

    def _render(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        png = super()._render(*args, **kwargs)
        FrameKeepingRenderer.frames.append(pixels(png))
        return png

    def _render_rgba(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        rgba = super()._render_rgba(*args, **kwargs)
        FrameKeepingRenderer.frames.append(np.divide(rgba, 255, dtype=np.float32))  # as imread does
        return rgba


@pytest.fixture(scope="module", autouse=True)
def keeping_backend():
    entry = RendererRegistry.get_entry("matplotlib")
    RendererRegistry.register_renderer(
        "matplotlib-keeping", FrameKeepingRenderer, entry.viewport_events_cls, entry.animator_cls
    )
    yield
    RendererRegistry.unregister_renderer("matplotlib-keeping")


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(matplotlib.image.imread(io.BytesIO(png), format="png"))


def record_example(name: str, log: Path, monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    FrameKeepingRenderer.frames = []
    monkeypatch.setenv("GSP_BACKEND", "matplotlib-keeping")
    monkeypatch.setenv("GSP_EXAMPLE_POINTS", "2000")
    configure_headless(FRAMES, fps=20.0)
    try:
        with recorder.record(log, metadata={"example": name}):
            runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    finally:
        reset_headless()
    return list(FrameKeepingRenderer.frames)


@pytest.mark.parametrize("name", NAMES)
def test_live_frames_equal_replayed_frames(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / f"{name}.gsplog"
    live = record_example(name, log, monkeypatch)
    assert len(live) == (FRAMES if name in ANIMATED else 1)

    first = player.replay(log, backend="matplotlib", output=tmp_path / "a", progress=False)
    second = player.replay(log, backend="matplotlib", output=tmp_path / "b", progress=False)
    assert first.frames == second.frames == len(live)
    replayed = sorted((tmp_path / "a").glob("*.png"))
    again = sorted((tmp_path / "b").glob("*.png"))
    assert len(replayed) == len(live)
    for index, (image_live, path_a, path_b) in enumerate(zip(live, replayed, again)):
        image_a = matplotlib.image.imread(path_a)
        np.testing.assert_array_equal(image_a, image_live, err_msg=f"{name}: frame {index + 1} differs from live")
        np.testing.assert_array_equal(matplotlib.image.imread(path_b), image_a, err_msg=f"{name}: replays differ")
    # Not a blank picture: the example drew something other than its background.
    final = live[-1]
    assert np.unique(final.reshape(-1, final.shape[-1]), axis=0).shape[0] >= 5, f"{name} drew almost nothing"
    if name in ANIMATED:
        assert not np.array_equal(live[0], live[-1]), f"{name}: animation did not move"


def test_examples_list_covers_every_visual() -> None:
    sources = "\n".join((EXAMPLES / f"{n}.py").read_text() for n in NAMES)
    for visual in ("Points(", "Markers(", "Segments(", "Paths(", "Texts(", "Pixels(", "Image(", "Mesh("):
        assert visual in sources, f"no example uses {visual[:-1]}"
    assert os.path.exists(EXAMPLES / "viewports.py") and "animator.start" in sources
