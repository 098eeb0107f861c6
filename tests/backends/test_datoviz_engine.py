"""The low-level Datoviz engine: repeated offscreen frames, sizes in pixels, panels, layers.

Everything here renders for real (software Vulkan is enough) and checks pixels.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from player.backends.datoviz import datoviz_available

pytestmark = pytest.mark.datoviz

if not datoviz_available() and os.environ.get("GSP_REQUIRE_DATOVIZ") != "1":
    pytest.skip("datoviz cannot be imported here", allow_module_level=True)

from player.backends.datoviz.engine import DatovizEngine  # noqa: E402

WHITE = (255, 255, 255, 255)
BLUE = np.array([[0.0, 0.0, 1.0, 1.0]])


@pytest.fixture
def engine():
    eng = DatovizEngine(96, 64)
    yield eng
    eng.close()


def _ink(frame: np.ndarray) -> np.ndarray:
    """Coverage 0..1 of anything darker than white, from the red channel."""
    return 1.0 - frame[..., 0].astype(np.float64) / 255.0


def _center(coverage: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[0 : coverage.shape[0], 0 : coverage.shape[1]] + 0.5
    total = coverage.sum()
    return float((coverage * xs).sum() / total), float((coverage * ys).sum() / total)


def test_frame_size_is_exact_and_frames_repeat(engine: DatovizEngine) -> None:
    panel = engine.panel(0, 0, 96, 64)
    panel.set_background(WHITE)
    layer = engine.layer("marker", panel, 1, shape="disc")
    centers = []
    for k in range(6):
        x_ndc = -0.75 + 0.3 * k
        layer.update(np.array([[x_ndc, 0.0, 0.0]]), np.array([12.0]), BLUE)
        frame = engine.render()
        assert frame.shape == (64, 96, 3) and frame.dtype == np.uint8
        cx, cy = _center(_ink(frame))
        centers.append(cx)
        assert cx == pytest.approx((x_ndc + 1.0) * 48.0, abs=0.3)
        assert cy == pytest.approx(32.0, abs=0.3)
    assert len(set(np.round(centers, 1))) == 6  # every frame is a new one


def test_unchanged_data_is_not_uploaded_again(engine: DatovizEngine) -> None:
    panel = engine.panel(0, 0, 96, 64)
    panel.set_background(WHITE)
    layer = engine.layer("point", panel, 2)
    pos = np.array([[-0.5, 0.0, 0.0], [0.5, 0.0, 0.0]])
    layer.update(pos, np.array([10.0, 10.0]), np.repeat(BLUE, 2, axis=0))
    first = engine.render()
    uploads = layer.uploads
    layer.update(pos, np.array([10.0, 10.0]), np.repeat(BLUE, 2, axis=0))
    assert layer.uploads == uploads
    assert np.array_equal(engine.render(), first)
    layer.update(pos, np.array([20.0, 10.0]), np.repeat(BLUE, 2, axis=0))
    assert layer.uploads == uploads + 1  # only the sizes went up
    assert not np.array_equal(engine.render(), first)


def test_marker_diameter_in_pixels(engine: DatovizEngine) -> None:
    panel = engine.panel(0, 0, 96, 64)
    panel.set_background(WHITE)
    layer = engine.layer("marker", panel, 1, shape="disc")
    for size in (8.0, 20.0, 40.0):
        layer.update(np.zeros((1, 3)), np.array([size]), np.array([[0.0, 0.0, 0.0, 1.0]]))
        area = _ink(engine.render()).sum()
        # Datoviz's antialiased edge eats about 0.7 px of the diameter (the drawer adds it back).
        assert 2.0 * np.sqrt(area / np.pi) == pytest.approx(size - 0.7, abs=0.4)


def test_panels_are_pixel_rectangles_from_the_top_left(engine: DatovizEngine) -> None:
    engine.panel(0, 0, 96, 64).set_background(WHITE)
    engine.panel(10, 5, 30, 20).set_background((255, 0, 0, 255))
    engine.panel(50, 30, 40, 30).set_background((0, 0, 255, 255))
    frame = engine.render()
    red = (frame[..., 0] == 255) & (frame[..., 1] == 0)
    blue = (frame[..., 2] == 255) & (frame[..., 0] == 0)
    ys, xs = np.nonzero(red)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (10, 39, 5, 24)
    ys, xs = np.nonzero(blue)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (50, 89, 30, 59)


def test_visuals_are_clipped_to_their_panel(engine: DatovizEngine) -> None:
    engine.panel(0, 0, 96, 64).set_background(WHITE)
    panel = engine.panel(20, 20, 20, 20)
    panel.set_background(WHITE)
    layer = engine.layer("marker", panel, 1, shape="disc")
    layer.update(np.array([[1.0, 1.0, 0.0]]), np.array([30.0]), np.array([[0.0, 0.0, 0.0, 1.0]]))
    ys, xs = np.nonzero(_ink(engine.render()) > 0.5)
    assert xs.min() >= 20 and xs.max() <= 39 and ys.min() >= 20 and ys.max() <= 39


def test_every_layer_kind_draws(engine: DatovizEngine) -> None:
    engine.panel(0, 0, 96, 64).set_background(WHITE)
    panel = engine.panel(0, 0, 96, 64)
    black = np.array([[0.0, 0.0, 0.0, 1.0]])
    kinds = {
        "segment": lambda lay: lay.update(np.array([[-0.9, 0.8, 0]]), np.array([[-0.1, 0.8, 0]]), np.array([4.0]), black),
        "path": lambda lay: lay.update(
            np.array([[0.1, 0.8, 0], [0.5, 0.4, 0], [0.9, 0.8, 0]]), np.array([3]), np.full(3, 4.0), np.repeat(black, 3, 0)
        ),
        "mesh": lambda lay: lay.update(np.array([[-0.9, -0.9, 0], [-0.5, -0.9, 0], [-0.7, -0.5, 0]]), np.repeat(black, 3, 0)),
        "pixel": lambda lay: lay.update(np.array([[48.5 / 48 - 1, 1 - 32.5 / 32, 0.0]]), black),
        "image": lambda lay: lay.update(np.zeros((2, 2, 4), np.uint8) + [0, 0, 0, 255], (0.5, 0.9, -0.9, -0.5)),
    }
    spots = {"segment": (6, 24), "path": (19, 72), "mesh": (56, 14), "pixel": (32, 48), "image": (54, 84)}
    before = engine.render()
    for kind, fill in kinds.items():
        fill(engine.layer(kind, panel, 3 if kind in ("path", "mesh") else 1))
    after = engine.render()
    for kind, (row, col) in spots.items():
        assert before[row, col, 0] == 255, kind
        assert after[row, col, 0] < 60, f"{kind} did not draw at row {row}, column {col}"


def _every_kind(engine: DatovizEngine, panel) -> None:  # type: ignore[no-untyped-def]
    """One layer of every kind in ``panel``, spread over its NDC (pixels at pixel centers)."""
    colors = lambda *rgba: np.array([rgba], np.float64) / 255.0  # noqa: E731
    engine.layer("mesh", panel, 3).update(np.array([[-0.9, -0.9, 0], [0.0, -0.9, 0], [-0.9, 0.2, 0]]),
                                          np.repeat(colors(0, 128, 0, 255), 3, 0))
    engine.layer("marker", panel, 2, shape="disc").update(
        np.array([[-0.5, 0.5, 0], [0.3, 0.3, 0]]), np.array([15.0, 9.0]), np.array([[1.0, 0, 0, 1], [0, 0, 1, 0.8]]))
    engine.layer("point", panel, 1).update(np.array([[-0.95, -0.3, 0]]), np.array([12.0]), colors(255, 128, 0, 255))
    engine.layer("segment", panel, 1).update(np.array([[-0.95, -0.2, 0]]), np.array([[0.9, 0.7, 0]]), np.array([3.0]),
                                             colors(200, 0, 200, 255), cap="round")
    engine.layer("path", panel, 3).update(np.array([[-0.8, 0.9, 0], [0.0, 0.6, 0], [0.8, 0.9, 0]]), np.array([3]),
                                          np.full(3, 2.0), np.repeat(colors(0, 0, 0, 255), 3, 0))
    image = np.zeros((4, 6, 4), np.uint8)
    image[..., 0], image[..., 1], image[..., 3] = np.arange(6) * 40, (np.arange(4) * 60)[:, None], 255
    # 6 × 5 px texels on whole pixels of the 110 × 100 test panel (no texel edge on a pixel center).
    engine.layer("image", panel, 1).update(image, (60 / 55 - 1, 96 / 55 - 1, -0.8, -0.4))
    engine.layer("pixel", panel, 2).update(np.array([[-0.9875, 0.9875, 0], [0.6125, -0.1125, 0]]),
                                           np.repeat(colors(0, 0, 0, 255), 2, 0))


def test_panel_past_the_figure_edges_draws_its_visible_part() -> None:
    # Datoviz keeps panel offsets unsigned: a panel past the top or left edge used to vanish.
    # The engine makes the Datoviz panel the visible part and maps every layer's NDC to it, so
    # a 110 × 100 panel at (-20, -10) in an 80 × 80 figure shows the same pixels as that panel
    # drawn whole in a larger figure, cropped.
    frames = []
    for size, rect in (((140, 120), (0, 0, 110, 100)), ((80, 80), (-20, -10, 110, 100))):
        eng = DatovizEngine(*size)
        try:
            eng.panel(0, 0, *size).set_background(WHITE)
            panel = eng.panel(*rect)
            panel.set_background((200, 255, 255, 255))
            _every_kind(eng, panel)
            frames.append(eng.render())
        finally:
            eng.close()
    whole, clipped = frames[0][10:90, 20:100], frames[1]
    assert (clipped[..., 0] == 200).sum() > 1000  # the panel's background is there
    difference = np.abs(whole.astype(int) - clipped.astype(int)).max(axis=2)
    assert (difference > 2).sum() == 0, f"{(difference > 2).sum()} pixels differ"
    eng = DatovizEngine(16, 16)
    try:
        with pytest.raises(ValueError, match="outside"):
            eng.panel(16, 0, 8, 8)
    finally:
        eng.close()


def test_determinism_across_engines() -> None:
    frames = []
    for _ in range(2):
        eng = DatovizEngine(64, 48)
        eng.panel(0, 0, 64, 48).set_background(WHITE)
        layer = eng.layer("marker", eng.panel(0, 0, 64, 48), 3, shape="disc", outline=True)
        layer.update(np.array([[-0.5, 0, 0], [0, 0.3, 0], [0.5, -0.2, 0]]), np.array([10.0, 15, 20]),
                     np.repeat(BLUE, 3, 0), edge_color=(255, 0, 0, 255), edge_width=2.0)
        frames.append(eng.render())
        eng.close()
    assert np.array_equal(frames[0], frames[1])


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="size must be positive"):
        DatovizEngine(0, 10)
    eng = DatovizEngine(16, 16)
    try:
        with pytest.raises(ValueError, match="unknown Datoviz layer kind"):
            eng.layer("volume", eng.panel(0, 0, 16, 16), 1)
        with pytest.raises(ValueError, match="unknown marker shape"):
            eng.layer("marker", eng.panel(0, 0, 16, 16), 1, shape="star")
    finally:
        eng.close()


@pytest.mark.parametrize("kind", ["marker", "point"])
def test_markers_are_not_clipped_on_depth(engine: DatovizEngine, kind: str) -> None:
    # Datoviz drops points and markers whose z is outside [-1, 1]; Matplotlib ignores z, so the
    # layer flattens z when any is outside (NaN rows are not drawn either way).
    engine.panel(0, 0, 96, 64).set_background(WHITE)
    options = {"shape": "disc"} if kind == "marker" else {}
    layer = engine.layer(kind, engine.panel(0, 0, 96, 64), 5, **options)
    z = [-0.99, 0.0, 0.99, 1.5, np.nan]
    layer.update(np.array([[-0.75, 0.5, z[0]], [-0.25, 0.5, z[1]], [0.25, 0.5, z[2]], [0.75, 0.5, z[3]],
                           [np.nan, np.nan, z[4]]]), np.full(5, 8.0), np.repeat(BLUE, 5, 0))
    frame = engine.render()
    for col in (12, 36, 60, 84):
        assert frame[16, col, 0] < 60, f"marker at column {col} missing"


def test_positions_inside_the_depth_range_are_uploaded_as_they_are() -> None:
    from player.backends.datoviz.engine import _xyz

    inside = np.array([[0.0, 0.0, -1.0], [0.5, 0.5, 1.0], [np.nan, np.nan, np.nan]], np.float32)
    assert np.shares_memory(_xyz(inside), inside)  # no copy on the hot path
    outside = np.array([[0.0, 0.0, 2.0], [np.nan, np.nan, np.nan]], np.float32)
    assert _xyz(outside)[0, 2] == 0.0 and outside[0, 2] == 2.0  # a flattened copy
    nan_z = np.array([[0.0, 0.0, np.nan]], np.float32)  # drawable (x, y finite): Matplotlib draws it
    assert _xyz(nan_z)[0, 2] == 0.0


def test_rgb_to_rgba_is_exact() -> None:
    from player.backends.datoviz.engine import rgb_to_rgba

    rgb = np.random.default_rng(3).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    rgba = rgb_to_rgba(rgb)
    assert rgba.shape == (7, 5, 4) and rgba.dtype == np.uint8
    assert np.array_equal(rgba[..., :3], rgb) and (rgba[..., 3] == 255).all()


def test_unmix_alpha_recovers_straight_rgba() -> None:
    from player.backends.datoviz.engine import unmix_alpha

    rng = np.random.default_rng(5)
    color = rng.integers(0, 256, (6, 7, 3)).astype(np.float64)
    alpha = rng.integers(0, 256, (6, 7, 1)).astype(np.float64)
    alpha[0, 0] = 0.0
    over_black = np.rint(color * alpha / 255.0).astype(np.uint8)
    over_white = np.rint(color * alpha / 255.0 + 255.0 - alpha).astype(np.uint8)
    rgba = unmix_alpha(over_black, over_white)
    assert np.array_equal(rgba[..., 3], alpha[..., 0].astype(np.uint8))
    assert tuple(rgba[0, 0]) == (255, 255, 255, 0)
    solid = alpha[..., 0] >= 64  # below, rounding over black and white is amplified by 255 / alpha
    assert np.abs(rgba[..., :3].astype(int) - color)[solid].max() <= 2


def test_empty_visuals_draw_nothing() -> None:
    # Datoviz asserts on a visual of zero items: the drawer leaves such layers out.
    from player.backends.datoviz.drawer import DatovizDrawer, DrawItem
    from player.backends.prepare import PreparedPaths, PreparedPoints, PreparedSegments, ViewportFrame

    white = np.ones(4, np.float32)
    frame = ViewportFrame(0, 0, 32, 32, 32, 32, 100.0, white, white)
    e, c, z = np.zeros((0, 3), np.float32), np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    items = [
        PreparedPoints(ndc=e, px=e[:, :2], sizes_pt2=z, diameters_px=z, face_colors=c, edge_colors=c,
                       edge_widths_pt=z, edge_widths_px=z, marker_shape="club"),
        PreparedSegments(starts_ndc=e, ends_ndc=e, starts_px=e[:, :2], ends_px=e[:, :2], widths_pt=z, widths_px=z,
                         colors=c, cap_style="butt"),
        PreparedPaths(ndc=e, px=e[:, :2], starts=np.array([0]), colors=c, widths_pt=z, widths_px=z,
                      cap_style="butt", join_style="bevel"),
    ]
    drawer = DatovizDrawer()
    try:
        out = drawer.draw(32, 32, white, [DrawItem(frame, item) for item in items])
        assert out.shape == (32, 32, 3) and (out == 255).all()
    finally:
        drawer.close()
