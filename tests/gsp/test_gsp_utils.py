"""utils: units (checked against a real Matplotlib render), colormaps, groups, matrices, TransBuf, UUIDs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gsp_testkit import vec3

from gsp.transforms import TransformChain, TransformLinkImmediate
from gsp.types import BufferType
from gsp.utils import CmapUtils, GroupUtils, MathUtils, TransBufUtils, UnitUtils, UuidUtils
from gsp.utils.unit_utils import UnitUtils as UnitUtilsFromModule


def test_pt_px_conversions() -> None:
    assert UnitUtilsFromModule is UnitUtils
    assert UnitUtils.pt_to_px(72.0, 100.0) == pytest.approx(100.0)
    assert UnitUtils.px_to_pt(100.0, 100.0) == pytest.approx(72.0)
    assert UnitUtils.area_pt2_to_diameter_px(144.0, 72.0) == pytest.approx(12.0)
    areas = np.array([1.0, 50.0, 400.0])
    np.testing.assert_allclose(UnitUtils.diameter_px_to_area_pt2(UnitUtils.area_pt2_to_diameter_px(areas, 96.0), 96.0), areas)
    assert UnitUtils.point_to_pixel(10.0, 144.0) == pytest.approx(20.0)


@pytest.mark.parametrize(("area", "dpi"), [(400.0, 100.0), (900.0, 72.0), (200.0, 150.0)])
def test_marker_diameter_matches_matplotlib_scatter(area: float, dpi: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size_px = 120
    fig = plt.figure(figsize=(size_px / dpi, size_px / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.scatter([0], [0], s=area, c="black", linewidths=0)
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    plt.close(fig)
    assert rgba.shape[:2] == (size_px, size_px)
    coverage = 1.0 - rgba[..., 0].astype(float) / 255.0  # black on white: 1 inside the disc
    measured = math.sqrt(4.0 * coverage.sum() / math.pi)  # diameter of a disc of that area
    assert measured == pytest.approx(UnitUtils.area_pt2_to_diameter_px(area, dpi), abs=0.5)


def test_cmap_utils_uses_current_matplotlib_colormaps() -> None:
    import matplotlib

    values = np.array([0.0, 5.0, 10.0])
    buf = CmapUtils.get_color_map("viridis", values)
    assert buf.get_type() is BufferType.rgba8 and buf.get_count() == 3
    expected = matplotlib.colormaps["viridis"](np.array([0.0, 0.5, 1.0]), bytes=True)
    np.testing.assert_array_equal(buf.to_numpy(), expected)
    clipped = CmapUtils.rgba8("gray", values, vmin=0.0, vmax=5.0)
    np.testing.assert_array_equal(clipped[1], clipped[2])
    np.testing.assert_array_equal(CmapUtils.rgba8("gray", buf.get_data(0, 1).to_numpy()[:, 0]), CmapUtils.rgba8("gray", [7.0]))
    with pytest.raises(ValueError, match="unknown colormap 'no_such_map'"):
        CmapUtils.get_color_map("no_such_map", values)
    assert CmapUtils.has_colormap("plasma") and CmapUtils.has_color_map("viridis")


def test_group_utils_get_group_count_takes_the_vertex_count_first() -> None:
    # GSP 0.1's order, used by its scripts positionally and with groups= by keyword
    assert GroupUtils.get_group_count(10, groups=5) == 2
    assert GroupUtils.get_group_count(vertex_count=6, groups=[2, 4]) == 2
    quadrants = [[0, 1], [2], [3, 4, 5], [6, 7]]
    assert GroupUtils.get_group_count(8, quadrants) == 4
    with pytest.raises(ValueError, match="8 positions is not a multiple of the group size 3"):
        GroupUtils.get_group_count(8, 3)


def test_group_utils_forms() -> None:
    np.testing.assert_array_equal(GroupUtils.group_indices(2, 6), [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(GroupUtils.group_indices([1, 0, 3], 4), [0, 2, 2, 2])
    np.testing.assert_array_equal(GroupUtils.group_indices([[3, 0], [2]], 5), [0, -1, 1, 0, -1])
    np.testing.assert_array_equal(GroupUtils.group_indices([[3, 0], [2]], 5, check=False), [0, -1, 1, 0, -1])
    assert GroupUtils.get_group_count(9, 3) == 3
    assert GroupUtils.get_group_count(4, [1, 0, 3]) == 3
    assert GroupUtils.get_group_count(2, [[0], [], [1]]) == 3
    with pytest.raises(ValueError, match=r"Pixels: groups\[0\] repeats a vertex"):
        GroupUtils.check([[1, 1]], 3, "Pixels")
    with pytest.raises(ValueError, match="group size\\) must be > 0"):
        GroupUtils.check(0, 3)
    with pytest.raises(TypeError, match="got bool"):
        GroupUtils.check(True, 3)
    with pytest.raises(TypeError, match="got str"):
        GroupUtils.check("3", 3)


def test_math_utils_convention_column_vectors() -> None:
    p = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(MathUtils.apply(MathUtils.translation(1, -1, 2), p), [[2, 1, 5]])
    np.testing.assert_allclose(MathUtils.apply(MathUtils.rotation_z(90), [[1, 0, 0]]), [[0, 1, 0]], atol=1e-6)
    np.testing.assert_allclose(MathUtils.apply(MathUtils.rotation_x(90), [[0, 1, 0]]), [[0, 0, 1]], atol=1e-6)
    np.testing.assert_allclose(MathUtils.apply(MathUtils.scale(2, 3, 4), p), [[2, 6, 12]])
    t = MathUtils.translation(5, 6, 7)
    assert t.dtype == np.float32 and t.shape == (4, 4) and tuple(t[:3, 3]) == (5, 6, 7)
    view = MathUtils.look_at((0, 0, 5), (0, 0, 0))
    np.testing.assert_allclose(MathUtils.apply(view, [[0, 0, 5], [0, 0, 0]]), [[0, 0, 0], [0, 0, -5]], atol=1e-6)
    proj = MathUtils.perspective(90.0, 1.0, 1.0, 10.0)
    np.testing.assert_allclose(MathUtils.apply(proj, [[0, 0, -1], [0, 0, -10], [1, 1, -1]]), [[0, 0, -1], [0, 0, 1], [1, 1, -1]], atol=1e-5)
    ortho = MathUtils.ortho(0, 4, 0, 2, -1, 1)
    np.testing.assert_allclose(MathUtils.apply(ortho, [[0, 0, 0], [4, 2, 0]]), [[-1, -1, 0], [1, 1, 0]], atol=1e-6)
    mvp = MathUtils.mvp(MathUtils.translation(0, 0, -2), MathUtils.identity(), proj)
    np.testing.assert_allclose(mvp, proj.astype(np.float64) @ MathUtils.translation(0, 0, -2), atol=1e-6)
    buf = MathUtils.to_buffer(t, view)
    assert buf.get_type() is BufferType.mat4 and buf.get_count() == 2
    np.testing.assert_array_equal(MathUtils.from_buffer(buf, 0), t)
    with pytest.raises(ValueError, match="axis must be a non-zero 3-vector"):
        MathUtils.rotation(10, (0, 0, 0))
    with pytest.raises(ValueError, match="0 < near < far"):
        MathUtils.perspective(45, 1, 0, 1)


def test_transbuf_utils_and_uuid_utils() -> None:
    buf = vec3(3)
    chain = TransformChain(3, BufferType.vec3)
    chain.add(TransformLinkImmediate(buf))
    assert TransBufUtils.to_buffer(buf) is buf and TransBufUtils.to_buffer(chain) is buf
    np.testing.assert_array_equal(TransBufUtils.to_numpy(chain), buf.to_numpy())
    with pytest.raises(TypeError, match="TransBufUtils.to_buffer: expected a Buffer or TransformChain, got list"):
        TransBufUtils.to_buffer([1, 2])  # type: ignore[arg-type]
    a, b = UuidUtils.generate_uuid(), UuidUtils.generate_uuid()
    assert a != b and len(a) == 36
    UuidUtils.set_uuid_counter(5)
    try:
        assert UuidUtils.generate_uuid().endswith("000000000005")
    finally:
        UuidUtils.set_uuid_counter(None)


def test_gsp01_helper_method_names() -> None:
    # names GSP 0.1 code calls (custom renderers, scripts): vertex count first, as get_group_count
    assert GroupUtils.compute_indices_per_group(6, 2) == [[0, 1], [2, 3], [4, 5]]
    assert GroupUtils.compute_indices_per_group(5, [2, 0, 3]) == [[0, 1], [], [2, 3, 4]]
    assert GroupUtils.compute_indices_per_group(4, [[3, 0], [2]]) == [[3, 0], [2]]
    GroupUtils.sanity_check(6, [[0, 5], [1]])
    with pytest.raises(ValueError, match="GroupUtils.sanity_check: groups: 7 positions is not a multiple"):
        GroupUtils.sanity_check(7, 2)
    assert GroupUtils.sanity_check_safe(6, 3) and not GroupUtils.sanity_check_safe(6, 4)
    np.testing.assert_allclose(UnitUtils.point_to_pixel_numpy(np.array([72.0, 36.0]), 100.0), [100.0, 50.0])
    np.testing.assert_allclose(UnitUtils.pixel_to_point_numpy(np.array([100.0]), 100.0), [72.0])
