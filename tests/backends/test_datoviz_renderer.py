"""DatovizRenderer through the GSP API: many frames in one process, sizes, pixels, registry."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from player.backends.datoviz import datoviz_available

pytestmark = pytest.mark.datoviz

if not datoviz_available() and os.environ.get("GSP_REQUIRE_DATOVIZ") != "1":
    pytest.skip("datoviz cannot be imported here", allow_module_level=True)

import gsp_scenes as scenes  # noqa: E402
from imagecmp import decode_png  # noqa: E402

from gsp.core import Canvas, Viewport  # noqa: E402
from gsp.types.enums import JoinStyle, MarkerShape, TextAlign  # noqa: E402
from gsp.visuals.points import Points  # noqa: E402
from gsp.visuals.texts import Texts  # noqa: E402
from player.backends.datoviz.renderer import DatovizRenderer  # noqa: E402

GRAY = bytearray([240, 240, 240, 255])


def _ink(rgba: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    return np.abs(rgba[..., :3].astype(int) - np.array(background)).sum(axis=2) > 60


def _points(canvas: Canvas, xy: list[list[float]], size_pt2: float = 100.0) -> Points:
    n = len(xy)
    return Points(
        scenes.vec3(xy), scenes.floats([size_pt2] * n), scenes.rgba([[0, 0, 0, 255]] * n),
        scenes.rgba([[0, 0, 0, 255]] * n), scenes.floats([0.0] * n),
    )


def test_many_frames_each_different_and_correct() -> None:
    canvas = Canvas(120, 80, 72.0, GRAY)
    scene = scenes.Scene(canvas)
    points = scene.add(scenes.full_viewport(canvas, GRAY), _points(canvas, [[0.0, 0.0]], 144.0))
    renderer = DatovizRenderer(canvas)
    seen = set()
    for k in range(12):
        x, y = -0.8 + 0.15 * k, 0.5 * np.sin(k)
        points.get_positions().set_data(bytearray(np.array([x, y, 0.0], np.float32).tobytes()), 0, 1)
        frame = decode_png(renderer.render(*scene.args))
        ys, xs = np.nonzero(_ink(frame, (240, 240, 240)))
        # 144 pt² at 72 dpi: a 12 px disc centred on the point (rows counted from the top).
        assert xs.mean() + 0.5 == pytest.approx((x + 1) * 60, abs=0.75)
        assert ys.mean() + 0.5 == pytest.approx((1 - y) * 40, abs=0.75)
        assert xs.max() - xs.min() + 1 == pytest.approx(12, abs=1)
        seen.add(frame.tobytes())
    assert len(seen) == 12
    assert renderer.drawer.rebuilds == 1  # the Datoviz visuals lived across all frames
    renderer.close()


def test_only_changed_arrays_are_uploaded() -> None:
    scene = scenes.points_scene()
    renderer = DatovizRenderer(scene.canvas)
    renderer.render(*scene.args)
    layer = renderer.drawer._layers[0]
    before = layer.uploads
    renderer.render(*scene.args)
    assert layer.uploads == before  # nothing changed: nothing sent
    scene.visuals[0].get_face_colors().set_data(bytearray([9, 9, 9, 255]), 0, 1)
    renderer.render(*scene.args)
    assert layer.uploads == before + 1  # only the colors
    renderer.close()


def test_render_is_deterministic_and_exactly_canvas_sized() -> None:
    scene = scenes.points_scene(width=101, height=67)
    first = DatovizRenderer(scene.canvas)
    second = DatovizRenderer(scene.canvas)
    a, b = first.render(*scene.args), first.render(*scene.args)
    c = second.render(*scene.args)
    assert a == b == c
    assert decode_png(a).shape == (67, 101, 4)
    first.close()
    second.close()


def test_viewports_are_placed_from_the_bottom_with_their_backgrounds() -> None:
    canvas = Canvas(100, 80, 100.0, bytearray([255, 255, 255, 255]))
    scene = scenes.Scene(canvas)
    red = Viewport(10, 5, 30, 20, bytearray([255, 0, 0, 255]))
    half_blue = Viewport(50, 40, 40, 30, bytearray([0, 0, 255, 128]))
    scene.add(red, _points(canvas, [[5.0, 5.0]]))  # outside its viewport: clipped away
    scene.add(half_blue, _points(canvas, [[5.0, 5.0]]))
    frame = decode_png(DatovizRenderer(canvas).render(*scene.args))
    ys, xs = np.nonzero((frame[..., 0] == 255) & (frame[..., 1] == 0))
    # GSP y=5 from the bottom, 20 high -> rows 55..74 from the top.
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (10, 39, 55, 74)
    ys, xs = np.nonzero((frame[..., 2] == 255) & (frame[..., 0] < 200))
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (50, 89, 10, 39)
    # Half-transparent blue over the white canvas.
    assert tuple(frame[20, 60, :3]) == pytest.approx((127, 127, 255), abs=2)


@pytest.mark.parametrize(
    ("align", "side"),
    [(TextAlign.BOTTOM_LEFT, (1, -1)), (TextAlign.TOP_RIGHT, (-1, 1)), (TextAlign.CENTER_CENTER, (0, 0))],
)
def test_text_anchor_puts_the_text_on_the_right_side(align: TextAlign, side: tuple[int, int]) -> None:
    canvas = Canvas(120, 80, 100.0, bytearray([255, 255, 255, 255]))
    scene = scenes.Scene(canvas)
    texts = Texts(scenes.vec3([[0.0, 0.0]]), ["Hg"], scenes.rgba([[0, 0, 0, 255]]), scenes.floats([14.0]), [align],
                  scenes.floats([0.0]), "DejaVu Sans")
    scene.add(scenes.full_viewport(canvas), texts)
    frame = decode_png(DatovizRenderer(canvas).render(*scene.args))
    ys, xs = np.nonzero(_ink(frame, (255, 255, 255)))
    cx, cy = xs.mean() + 0.5 - 60, ys.mean() + 0.5 - 40  # ink center relative to the anchor, y down
    assert xs.max() - xs.min() > 10  # something readable was drawn
    for value, expected in ((cx, side[0]), (cy, side[1])):
        if expected == 0:
            assert abs(value) < 3
        else:
            assert np.sign(value) == expected and abs(value) > 4


def test_clear_forgets_the_previous_scene() -> None:
    canvas = Canvas(64, 64, 100.0, bytearray([255, 255, 255, 255]))
    renderer = DatovizRenderer(canvas)
    viewport = scenes.full_viewport(canvas)
    ident, camera = scenes.identity(), scenes.Camera(scenes.identity(), scenes.identity())
    left = decode_png(renderer.render([viewport], [_points(canvas, [[-0.5, 0.0]])], [ident], [camera]))
    renderer.clear()
    right = decode_png(renderer.render([viewport], [_points(canvas, [[0.5, 0.0]])], [ident], [camera]))
    assert _ink(left, (255, 255, 255))[:, :32].any() and not _ink(left, (255, 255, 255))[:, 32:].any()
    assert _ink(right, (255, 255, 255))[:, 32:].any() and not _ink(right, (255, 255, 255))[:, :32].any()
    renderer.close()


def test_mismatched_sequences_are_refused() -> None:
    scene = scenes.points_scene()
    with pytest.raises(ValueError, match="same length"):
        DatovizRenderer(scene.canvas).render(scene.viewports, scene.visuals, [], scene.cameras)


def test_the_three_joins_differ_at_a_sharp_corner() -> None:
    # Bevel joins are built on the CPU (Datoviz has miter and round only): at the zig-zag's
    # peak the miter reaches highest, the round join next, the bevel cuts the corner lowest.
    tops = {}
    for join in JoinStyle:
        scene = scenes.paths_scene(join)
        renderer = DatovizRenderer(scene.canvas)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no join needs a warning any more
            frame = decode_png(renderer.render(*scene.args))
        renderer.close()
        rows = np.nonzero(_ink(frame, (255, 255, 255))[:, 38:46].any(axis=1))[0]
        tops[join.name] = int(rows.min())
    # Peak vertex at row 16, line width 8 pt = 11 px.
    assert tops["MITER"] < tops["ROUND"] < tops["BEVEL"], tops
    assert tops["ROUND"] == pytest.approx(16 - 5.5, abs=1.5)


def test_unsupported_feature_warns_once() -> None:
    from player.backends.datoviz import drawer

    drawer._warned.discard("a test feature")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawer.warn_once("a test feature", "drawn another way")
        drawer.warn_once("a test feature", "drawn another way")
    messages = [str(w.message) for w in caught if "a test feature" in str(w.message)]
    assert len(messages) == 1 and "Datoviz" in messages[0] and "drawn another way" in messages[0]


def test_semi_transparent_faces_with_edges_are_not_warned_about() -> None:
    # They used to be blended over the edge color (and warned); the face is drawn first now.
    canvas = Canvas(32, 32, 100.0, GRAY)
    scene = scenes.Scene(canvas)
    scene.add(scenes.full_viewport(canvas, GRAY), Points(
        scenes.vec3([[0.0, 0.0]]), scenes.floats([100.0]), scenes.rgba([[255, 0, 0, 100]]),
        scenes.rgba([[0, 0, 0, 255]]), scenes.floats([2.0]),
    ))
    renderer = DatovizRenderer(canvas)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        renderer.render(*scene.args)
    renderer.close()


def test_turning_mesh_keeps_its_visuals() -> None:
    material = scenes.mesh_materials()["phong_point"]
    scene = scenes.mesh_scene(material, size=64)
    renderer = DatovizRenderer(scene.canvas)
    frames = []
    for angle in np.linspace(0.0, 1.5, 5):
        c, s = np.cos(angle), np.sin(angle)
        model = np.array([[c, 0, s, 0], [0, 1, 0, 0], [-s, 0, c, 0], [0, 0, 0, 1]], np.float32)
        scene.model_matrices[0] = scenes.mat4(model)
        frames.append(renderer.render(*scene.args))
    assert len(set(frames)) == 5
    assert renderer.drawer.rebuilds == 1
    renderer.close()


def test_registry_creates_the_datoviz_backend() -> None:
    from gsp.utils.renderer_registry import RendererRegistry
    from player.backends.datoviz import DatovizAnimator, DatovizViewportEvents, register

    register()
    canvas = Canvas(32, 32, 100.0, GRAY)
    renderer = RendererRegistry.create_renderer("datoviz", canvas)
    assert isinstance(renderer, DatovizRenderer)
    assert isinstance(RendererRegistry.create_animator(renderer), DatovizAnimator)
    assert isinstance(RendererRegistry.create_viewport_events(renderer, scenes.full_viewport(canvas)), DatovizViewportEvents)


def test_animator_runs_headless_frames() -> None:
    from gsp.types.animator_base import configure_headless, reset_headless
    from player.backends.datoviz import DatovizAnimator

    scene = scenes.points_scene(width=48, height=48)
    renderer = DatovizRenderer(scene.canvas)
    animator = DatovizAnimator(renderer)
    calls: list[float] = []
    animator.add_callback(lambda dt: calls.append(dt) or [])
    configure_headless(frames=4, fps=20.0)
    try:
        animator.start(*scene.args)
    finally:
        reset_headless()
    assert calls == [0.05] * 4
    renderer.close()


def test_import_without_datoviz_gives_a_clear_error() -> None:
    code = (
        "import sys; sys.modules['datoviz'] = None\n"
        "import player.backends.datoviz as b\n"
        "assert not b.datoviz_available()\n"
        "from gsp.core import Canvas\n"
        "r = b.DatovizRenderer(Canvas(8, 8, 100.0, bytearray([0, 0, 0, 255])))\n"
        "try:\n"
        "    r.drawer.draw(8, 8, [0, 0, 0, 1], [])\n"
        "except b.DatovizUnavailable as e:\n"
        "    print('CLEAR:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "CLEAR:" in out.stdout and "pip install" in out.stdout


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("camera_kind", ["identity", "perspective"])
def test_fast_point_preparation_agrees_with_the_shared_one(uniform: bool, camera_kind: str) -> None:
    from gsp.core import Camera
    from gsp.visuals.markers import Markers
    from player.backends.datoviz.prepare_fast import prepare_points_fast
    from player.backends.prepare import prepare_visual

    rng = np.random.default_rng(1)
    n = 50
    k = 1 if uniform else n
    canvas = Canvas(80, 60, 96.0, GRAY)
    viewport = Viewport(10, 5, 60, 50, GRAY)
    visual = Markers(
        MarkerShape.club,
        scenes.vec3(rng.uniform(-1, 1, (n, 3))), scenes.floats(rng.uniform(1, 400, k)),
        scenes.rgba(rng.integers(0, 256, (k, 4))), scenes.rgba(rng.integers(0, 256, (k, 4))), scenes.floats(rng.uniform(0, 3, k)),
    )
    if camera_kind == "identity":
        camera = Camera(scenes.identity(), scenes.identity())
    else:
        camera = Camera(scenes.mat4(scenes.look_at((0.5, 0.4, 3.0), (0, 0, 0))), scenes.mat4(scenes.perspective(40, 1.2, 0.5, 9)))
    shared = prepare_visual(visual, scenes.identity(), camera, viewport, canvas)
    fast = prepare_points_fast(visual, scenes.identity(), camera, viewport, canvas)
    for field in ("ndc", "sizes_pt2", "diameters_px", "face_colors", "edge_colors", "edge_widths_pt", "edge_widths_px"):
        np.testing.assert_allclose(getattr(fast, field), getattr(shared, field), rtol=1e-6, atol=1e-6, err_msg=field)
    assert fast.marker_shape == shared.marker_shape == "club" and fast.kind == shared.kind


def test_recorded_session_replays_through_datoviz(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # End to end: a recorded animation (3 renders of moving points) replayed with the Datoviz
    # backend gives the same frames as the renderer drew live.
    from player.replay import replay
    from recorder.core import record

    log = tmp_path / "session.gsplog"
    canvas = Canvas(64, 48, 72.0, GRAY)
    scene = scenes.Scene(canvas)
    points = scene.add(scenes.full_viewport(canvas, GRAY), _points(canvas, [[-0.5, 0.0], [0.5, 0.2]], 64.0))
    live = []
    with record(str(log)):
        renderer = DatovizRenderer(canvas)
        for k in range(3):
            xy = np.array([[-0.5 + 0.2 * k, 0.0, 0.0], [0.5, 0.2 - 0.2 * k, 0.0]], np.float32)
            points.get_positions().set_data(bytearray(xy.tobytes()), 0, 2)
            live.append(decode_png(renderer.render(*scene.args)))
        renderer.close()
    result = replay(str(log), backend="datoviz", output=str(tmp_path / "frames"), progress=False)
    assert result.frames == 3
    replayed = [decode_png(p.read_bytes()) for p in sorted(result.outputs)]
    assert len(replayed) == 3
    for a, b in zip(live, replayed):
        assert np.array_equal(a, b)
    assert not np.array_equal(live[0], live[2])


def test_a_translucent_pixel_drawn_twice_at_one_place_is_drawn_once() -> None:
    """The last pixel at a place wins (the GSP contract, the Matplotlib backend's raster);
    Datoviz blended both, so two 50 % blue pixels came out 75 % blue."""
    from gsp.visuals.pixels import Pixels
    from player.backends.matplotlib.renderer import MatplotlibRenderer

    canvas = Canvas(16, 16, 72.0, bytearray([255, 255, 255, 255]))
    scene = scenes.Scene(canvas)
    xy = scenes.vec3([[0.0, 0.0], [0.0, 0.0], [0.5, 0.5], [-0.5, -0.5], [-0.5, -0.5]])
    colors = scenes.rgba([[0, 0, 255, 128], [0, 0, 255, 128], [0, 0, 255, 128], [255, 0, 0, 128], [0, 200, 0, 255]])
    scene.add(scenes.full_viewport(canvas), Pixels(xy, colors, 1))
    drawn = []
    for renderer in (DatovizRenderer(canvas), MatplotlibRenderer(canvas)):
        drawn.append(decode_png(renderer.render(*scene.args))[..., :3].astype(int))
        renderer.close()
    datoviz, matplotlib = drawn
    ink = (matplotlib != 255).any(axis=2)
    assert ink.sum() == 3  # three places: the doubled blue, the single blue, the green over red
    assert np.abs(datoviz - matplotlib).max() <= 2, (datoviz[ink], matplotlib[ink])


def test_a_linear_image_with_transparent_texels_has_no_dark_halo() -> None:
    """Datoviz filtered straight-alpha texels: between opaque white and transparent black it
    drew half-transparent gray, a dark ring Matplotlib does not draw (191 instead of 255,120,120)."""
    from gsp.core.texture import Texture
    from gsp.types.enums import ImageInterpolation
    from gsp.visuals.image import Image
    from player.backends.matplotlib.renderer import MatplotlibRenderer

    canvas = Canvas(64, 64, 72.0, bytearray([255, 0, 0, 255]))
    scene = scenes.Scene(canvas)
    texels = np.zeros((4, 4, 4), np.uint8)
    texels[1:3, 1:3] = 255  # opaque white inside transparent black
    image = Image(Texture(scenes.rgba(texels.reshape(-1, 4)), 4, 4), scenes.vec3([[0.0, 0.0]]),
                  (-0.9, 0.9, -0.9, 0.9), ImageInterpolation.LINEAR)
    scene.add(scenes.full_viewport(canvas, bytearray([255, 0, 0, 255])), image)
    drawn = []
    for renderer in (DatovizRenderer(canvas), MatplotlibRenderer(canvas)):
        drawn.append(decode_png(renderer.render(*scene.args))[..., :3].astype(int))
        renderer.close()
    datoviz, matplotlib = drawn
    assert datoviz[..., 0].min() >= 250  # red everywhere: no dark ring
    assert np.abs(datoviz - matplotlib).max() <= 6


def test_a_process_drawing_with_datoviz_leaves_no_runtime_folder_behind(tmp_path: Path) -> None:
    """Without a writable XDG_RUNTIME_DIR the backend makes one for the Vulkan loader; every
    process left its gsp-dvz-xdg-* folder in the temp folder (567 of them on the test machine)."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env["TMPDIR"] = str(tmp_path)
    code = ("import os; from player.backends.datoviz._lib import dvz_lib; dvz_lib(); "
            "assert os.path.isdir(os.environ['XDG_RUNTIME_DIR'])")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert list(tmp_path.iterdir()) == []


def test_a_texture_wider_than_vulkan_allows_is_drawn_reduced() -> None:
    """A texture past Vulkan's image limit (a 20000-sample spectrogram row) failed an assertion
    in Datoviz's C code: a raw DatovizError and exit status 1, no picture. It is now drawn from
    every k-th texel, as Matplotlib draws it (a canvas has far fewer pixels than that anyway)."""
    from gsp.core.texture import Texture
    from gsp.types.enums import ImageInterpolation
    from gsp.visuals.image import Image
    from player.backends.datoviz.renderer import MAX_IMAGE_SIDE
    from player.backends.matplotlib.renderer import MatplotlibRenderer

    width = MAX_IMAGE_SIDE + 1  # 2 rows of it: 131 kB
    canvas = Canvas(64, 64, 72.0, bytearray([255, 255, 255, 255]))
    scene = scenes.Scene(canvas)
    texels = np.zeros((2, width, 4), np.uint8)
    texels[..., 3] = 255
    texels[:, : width // 2, 0] = 255  # left half red, right half blue
    texels[:, width // 2:, 2] = 255
    image = Image(Texture(scenes.rgba(texels.reshape(-1, 4)), width, 2), scenes.vec3([[0.0, 0.0]]),
                  (-0.9, 0.9, -0.9, 0.9), ImageInterpolation.NEAREST)
    scene.add(scenes.full_viewport(canvas, bytearray([255, 255, 255, 255])), image)
    drawn = []
    for renderer in (DatovizRenderer(canvas), MatplotlibRenderer(canvas)):
        drawn.append(decode_png(renderer.render(*scene.args))[..., :3].astype(int))
        renderer.close()
    datoviz, matplotlib = drawn
    assert (datoviz[32, 8] == [255, 0, 0]).all() and (datoviz[32, 55] == [0, 0, 255]).all()
    assert (np.abs(datoviz - matplotlib).max(axis=2) > 60).mean() < 0.05
