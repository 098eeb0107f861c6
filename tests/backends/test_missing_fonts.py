"""A text whose font is not installed on the replaying machine: Matplotlib fell back to its
default font and logged "findfont: Font family ... not found" for every text drawn, dozens of
lines a frame, in both backends (the Datoviz backend draws texts with Matplotlib's engine too).
Each missing name is now warned of once, and its texts are drawn in the default font."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from gsp_scenes import WHITE, Scene, floats, full_viewport, rgba, vec3

from gsp.core.canvas import Canvas
from gsp.types import TextAlign
from gsp.visuals import Texts
from player.backends.datoviz.text_raster import rasterize_texts
from player.backends.matplotlib import MatplotlibRenderer
from player.backends.matplotlib.fonts import MissingFontWarning


def _texts_picture(font: str) -> np.ndarray:
    canvas = Canvas(160, 80, 100.0, WHITE)
    scene = Scene(canvas)
    viewport = full_viewport(canvas)
    anchors = [[-0.6, 0.5], [0.0, 0.0], [0.5, -0.5]]
    scene.add(viewport, Texts(vec3(anchors), ["Ag", "font", "x"], rgba([[0, 0, 0, 255]]), floats([11.0]),
                              [TextAlign.CENTER_CENTER] * 3, floats([0.0]), font))
    renderer = MatplotlibRenderer(scene.canvas)
    try:
        return renderer.render_rgba(*scene.args)
    finally:
        renderer.close()


def _raster(font: str) -> np.ndarray:
    px = np.array([[20.0, 40.0], [80.0, 20.0]])
    raster = rasterize_texts(px, ["Ag", "font"], np.array([[0, 0, 0, 1.0]] * 2), np.array([11.0, 9.0]),
                             ["center", "left"], ["center", "bottom"], np.zeros(2), font, 160, 80, 100.0)
    assert raster.rgba is not None
    return raster.rgba


@pytest.mark.parametrize("draw", [_texts_picture, _raster], ids=["matplotlib", "datoviz-texts"])
def test_a_missing_font_is_warned_of_once_and_drawn_in_the_default_font(
        draw: Callable[[str], np.ndarray], caplog: pytest.LogCaptureFixture) -> None:
    name = f"No Such Font {draw.__name__}"  # a name of its own: the look-up is once a process
    with caplog.at_level(logging.WARNING, logger="matplotlib.font_manager"), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        pictures = [draw(name) for _ in range(3)]
    missing = [w for w in seen if issubclass(w.category, MissingFontWarning)]
    assert len(missing) == 1 and f"font {name!r} is not installed here" in str(missing[0].message), \
        [str(w.message) for w in seen]
    assert [r.getMessage() for r in caplog.records if "findfont" in r.getMessage()] == []
    default = draw("sans-serif")
    for picture in pictures:
        assert np.array_equal(picture, default)
    assert (default[..., :3] < 128).any()  # the texts are drawn
