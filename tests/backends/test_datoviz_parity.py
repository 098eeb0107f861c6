"""Parity: every visual kind drawn by Datoviz looks like the Matplotlib backend's drawing.

Same GSP scenes (tests/backends/gsp_scenes.py), both renderers, SSIM >= 0.9 per image. A few
Datoviz frames are also kept as regression references (tests/backends/reference/datoviz/).
"""

from __future__ import annotations

import os
import warnings

import pytest

from player.backends.datoviz import datoviz_available

pytestmark = pytest.mark.datoviz

if not datoviz_available() and os.environ.get("GSP_REQUIRE_DATOVIZ") != "1":
    pytest.skip("datoviz cannot be imported here", allow_module_level=True)

import gsp_scenes as scenes  # noqa: E402
from imagecmp import FAILED_DIR, assert_matches_reference, decode_png, save_png, ssim  # noqa: E402

from player.backends.datoviz.renderer import DatovizRenderer  # noqa: E402
from player.backends.matplotlib.renderer import MatplotlibRenderer  # noqa: E402

MIN_SSIM = 0.9


SCENES = scenes.all_scenes()


def render_both(scene) -> tuple:  # type: ignore[no-untyped-def]
    reference = decode_png(MatplotlibRenderer(scene.canvas).render(*scene.args))
    renderer = DatovizRenderer(scene.canvas)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # bevel joins warn: tested elsewhere
        actual = decode_png(renderer.render(*scene.args))
    renderer.close()
    return reference, actual


@pytest.mark.parametrize("name", list(SCENES))
def test_parity_with_matplotlib(name: str) -> None:
    reference, actual = render_both(SCENES[name]())  # type: ignore[operator]
    assert actual.shape == reference.shape
    score = ssim(reference, actual)
    if score < MIN_SSIM:
        save_png(actual, FAILED_DIR / f"datoviz_parity_{name}.png")
    assert score >= MIN_SSIM, f"{name}: SSIM {score:.3f} against the Matplotlib backend"


@pytest.mark.parametrize("name", ["points", "marker_club", "segments", "paths_miter", "texts", "mesh_phong_point"])
def test_datoviz_reference_images(name: str) -> None:
    scene = SCENES[name]()  # type: ignore[operator]
    renderer = DatovizRenderer(scene.canvas)
    png = renderer.render(*scene.args)
    renderer.close()
    assert_matches_reference(png, f"datoviz/{name}.png", min_ssim=0.98)
