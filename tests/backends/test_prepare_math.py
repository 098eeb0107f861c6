"""The shared render preparation: numbers checked by hand against GSP semantics."""

from __future__ import annotations

import numpy as np
import pytest
from gsp_scenes import (
    WHITE,
    buf,
    checker_texture,
    cube_geometry,
    floats,
    identity,
    look_at,
    mat4,
    mesh_materials,
    perspective,
    rgba,
    vec3,
)

from gsp.core.camera import Camera
from gsp.core.canvas import Canvas
from gsp.core.viewport import Viewport
from gsp.types.buffer_type import BufferType
from gsp.types.enums import CapStyle, ImageInterpolation, JoinStyle, MarkerShape, TextAlign
from gsp.visuals.image import Image
from gsp.visuals.markers import Markers
from gsp.visuals.mesh import Mesh
from gsp.visuals.paths import Paths
from gsp.visuals.pixels import Pixels
from gsp.visuals.points import Points
from gsp.visuals.segments import Segments
from gsp.visuals.texts import Texts
from player.backends.prepare import (
    MARKER_SHAPES,
    area_to_diameter_px,
    prepare_visual,
    project_points,
    pt_to_px,
    text_alignment,
    visual_kind,
)
from player.backends.prepare_convert import is_uniform, transbuf_array


def _setup(width: int = 200, height: int = 100, dpi: float = 144.0) -> tuple[Canvas, Viewport, Camera]:
    canvas = Canvas(400, 300, dpi, WHITE)
    return canvas, Viewport(10, 20, width, height, WHITE), Camera(identity(), identity())


def test_units_follow_matplotlib_scatter_rule() -> None:
    # s = 100 pt² -> 10 pt diameter -> 20 px at 144 dpi; 3 pt -> 6 px.
    assert area_to_diameter_px(100.0, 144.0) == pytest.approx(20.0)
    assert pt_to_px(3.0, 144.0) == pytest.approx(6.0)
    assert area_to_diameter_px(np.array([0.0, 400.0]), 72.0).tolist() == [0.0, 20.0]


def test_points_positions_sizes_colors_and_broadcast() -> None:
    canvas, viewport, camera = _setup()
    points = Points(vec3([[-1, -1], [0, 0], [1, 1]]), floats([100.0]), rgba([[255, 0, 0, 255]]),
                    rgba([[0, 0, 255, 128]]), floats([1.0, 2.0, 3.0]))
    p = prepare_visual(points, identity(), camera, viewport, canvas)
    assert p.kind == "points" and p.marker_shape == "disc"
    np.testing.assert_allclose(p.px, [[0, 0], [100, 50], [200, 100]])
    np.testing.assert_allclose(p.diameters_px, [20.0] * 3)
    np.testing.assert_allclose(p.edge_widths_px, [2.0, 4.0, 6.0])
    np.testing.assert_allclose(p.face_colors, [[1, 0, 0, 1]] * 3)
    np.testing.assert_allclose(p.edge_colors[0], [0, 0, 1, 128 / 255])
    assert is_uniform(p.face_colors) and is_uniform(p.sizes_pt2) and is_uniform(p.diameters_px)
    assert not is_uniform(p.edge_widths_pt)


def test_model_view_projection_with_divide_by_w() -> None:
    canvas, viewport, _ = _setup()
    model = np.eye(4)
    model[:3, 3] = (0.5, 0.0, 0.0)  # translate x by 0.5
    proj = perspective(90.0, 1.0, 1.0, 10.0)
    view = look_at((0, 0, 2), (0, 0, 0))
    camera = Camera(mat4(view), mat4(proj))
    points = Points(vec3([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]), floats([1.0]), rgba([[0, 0, 0, 255]]),
                    rgba([[0, 0, 0, 255]]), floats([0.0]))
    p = prepare_visual(points, mat4(model), camera, viewport, canvas)
    # first point: world (1, .5, 0), eye at z=2: clip x = 1, w = 2 -> ndc (0.5, 0.25)
    np.testing.assert_allclose(p.ndc[0, :2], [0.5, 0.25], atol=1e-6)
    # second: world (.5, 0, 1), distance 1 = the near plane -> z_ndc = -1
    np.testing.assert_allclose(p.ndc[1], [0.5, 0.0, -1.0], atol=1e-6)


def test_points_behind_the_camera_are_nan() -> None:
    proj = perspective(90.0, 1.0, 0.1, 10.0)
    ndc = project_points(np.array([[0, 0, -1], [0, 0, 1]], np.float32), proj)
    assert np.isfinite(ndc[0]).all() and np.isnan(ndc[1]).all()


def test_transform_chain_is_resolved() -> None:
    from gsp.transforms import TransformChain, TransformLinkImmediate

    canvas, viewport, camera = _setup()
    chain = TransformChain(2, BufferType.vec3)
    chain.add(TransformLinkImmediate(vec3([[0.5, 0.5], [-0.5, -0.5]])))
    points = Points(chain, floats([4.0]), rgba([[0, 0, 0, 255]]), rgba([[0, 0, 0, 255]]), floats([0.0]))
    p = prepare_visual(points, identity(), camera, viewport, canvas)
    np.testing.assert_allclose(p.px, [[150, 75], [50, 25]])


def test_a_chain_that_breaks_its_word_is_named_with_its_slot() -> None:
    """The chain's error used to say nothing of which visual and slot it fills."""
    from gsp.transforms import TransformChain, TransformLinkImmediate

    canvas, viewport, camera = _setup()
    chain = TransformChain(3, BufferType.float32)  # declares 3 sizes, makes 2
    chain.add(TransformLinkImmediate(floats([4.0, 5.0])))
    points = Points(vec3([[0, 0], [0.5, 0.5], [-0.5, 0.5]]), chain, rgba([[0, 0, 0, 255]]), rgba([[0, 0, 0, 255]]),
                    floats([0.0]))
    with pytest.raises(ValueError, match=r"Points.sizes: TransformChain.run: result has 2 items, declared 3"):
        prepare_visual(points, identity(), camera, viewport, canvas)


def test_a_chain_error_keeps_its_kind_whatever_its_class_takes() -> None:
    """Re-raised with its slot's name as a plain ValueError or TypeError: an error class whose
    constructor wants more than a message (UnicodeDecodeError) became an unrelated TypeError."""
    from player.backends.prepare_convert import resolve_transbuf

    class Broken:
        def run(self) -> None:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    with pytest.raises(ValueError, match=r"Points.sizes: 'utf-8' codec can't decode"):
        resolve_transbuf(Broken(), "Points.sizes")


def test_a_mesh_edge_width_that_is_no_width_is_refused() -> None:
    from gsp.constants import Constants
    from gsp.geometry import MeshGeometry
    from gsp.materials import MeshBasicMaterial
    from gsp.visuals import Mesh

    canvas, viewport, camera = _setup()
    geometry = MeshGeometry(vec3([[0, 0], [1, 0], [0, 1]]), buf(np.array([0, 1, 2], np.uint32), BufferType.uint32),
                            None, None)
    for width in (float("nan"), -3.0):
        material = MeshBasicMaterial(rgba([[255, 0, 0, 255]]), rgba([[0, 0, 0, 255]]), floats([width]), False,
                                     Constants.FaceCulling.BothSides)
        with pytest.raises(ValueError, match=r"MeshMaterial.edge_widths: .* is not a size"):
            prepare_visual(Mesh(geometry, material), identity(), camera, viewport, canvas)


@pytest.mark.parametrize("shape", list(MarkerShape))
def test_markers_keep_their_shape(shape: MarkerShape) -> None:
    canvas, viewport, camera = _setup()
    markers = Markers(shape, vec3([[0, 0]]), floats([9.0]), rgba([[0, 0, 0, 255]]), rgba([[0, 0, 0, 255]]), floats([0.0]))
    p = prepare_visual(markers, identity(), camera, viewport, canvas)
    assert p.kind == "markers" and p.marker_shape == shape.value and shape.value in MARKER_SHAPES
    assert p.diameters_px[0] == pytest.approx(6.0)


def test_segments_pairs_widths_caps() -> None:
    canvas, viewport, camera = _setup()
    seg = Segments(vec3([[-1, 0], [1, 0], [0, -1], [0, 1]]), floats([2.0, 4.0]), CapStyle.ROUND,
                   rgba([[255, 0, 0, 255], [0, 255, 0, 255]]))
    p = prepare_visual(seg, identity(), camera, viewport, canvas)
    np.testing.assert_allclose(p.starts_px, [[0, 50], [100, 0]])
    np.testing.assert_allclose(p.ends_px, [[200, 50], [100, 100]])
    np.testing.assert_allclose(p.widths_px, [4.0, 8.0])
    assert p.cap_style == "round"


def test_paths_are_split_by_path_sizes() -> None:
    canvas, viewport, camera = _setup()
    paths = Paths(vec3(np.zeros((5, 2))), buf(np.array([2, 3], np.uint32), BufferType.uint32), rgba([[0, 0, 0, 255]]),
                  floats([1.0]), CapStyle.BUTT, JoinStyle.MITER)
    p = prepare_visual(paths, identity(), camera, viewport, canvas)
    assert p.path_slices() == [slice(0, 2), slice(2, 5)]
    assert (p.cap_style, p.join_style) == ("butt", "miter")
    assert p.widths_px.shape == (5,) and p.colors.shape == (5, 4)


def test_text_alignment_names() -> None:
    assert text_alignment(TextAlign.TOP_LEFT) == ("left", "top")
    assert text_alignment(TextAlign.CENTER_CENTER) == ("center", "center")
    assert text_alignment(TextAlign.BOTTOM_RIGHT) == ("right", "bottom")


def test_texts_sizes_angles_and_aligns_broadcast() -> None:
    canvas, viewport, camera = _setup()
    texts = Texts(vec3([[0, 0], [0.5, 0.5]]), ["a", "b"], rgba([[0, 0, 0, 255]]), floats([10.0]),
                  [TextAlign.TOP_RIGHT], floats([45.0, 90.0]), "DejaVu Sans")
    p = prepare_visual(texts, identity(), camera, viewport, canvas)
    assert p.strings == ["a", "b"] and p.halign == ["right", "right"] and p.valign == ["top", "top"]
    np.testing.assert_allclose(p.font_sizes_px, [20.0, 20.0])
    np.testing.assert_allclose(p.angles_deg, [45.0, 90.0])
    assert p.font_name == "DejaVu Sans"


def test_pixels_one_color_per_group_and_integer_pixels() -> None:
    canvas, viewport, camera = _setup(width=10, height=10)
    pixels = Pixels(vec3([[-1, -1], [-0.95, -0.95], [0.99, 0.99], [0.0, 0.0]]),
                    rgba([[255, 0, 0, 255], [0, 0, 255, 255]]), [3, 1])
    p = prepare_visual(pixels, identity(), camera, viewport, canvas)
    assert p.ij.tolist() == [[0, 0], [0, 0], [9, 9], [5, 5]]
    np.testing.assert_allclose(p.colors[:, :3], [[1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 0, 1]])
    raster = p.raster(10, 10)
    assert raster[9, 0].tolist() == [255, 0, 0, 255]  # bottom-left pixel sits in the last row
    assert raster[4, 5].tolist() == [0, 0, 255, 255]
    assert raster[0, 1].tolist() == [0, 0, 0, 0]


def test_image_extent_is_an_offset_around_the_projected_position() -> None:
    canvas, viewport, camera = _setup()
    image = Image(checker_texture(4), vec3([[0.5, -0.5]]), (-0.25, 0.25, -0.5, 0.5), ImageInterpolation.NEAREST)
    p = prepare_visual(image, identity(), camera, viewport, canvas)
    assert p.extent_ndc == pytest.approx((0.25, 0.75, -1.0, 0.0))
    assert p.extent_px == pytest.approx((125.0, 175.0, 0.0, 50.0))
    assert p.rgba.shape == (4, 4, 4) and p.rgba[0, 0].tolist() == [255, 255, 255, 255]
    assert p.interpolation == "nearest"


def _cube(material_name: str) -> object:
    canvas, viewport, _ = _setup(100, 100)
    camera = Camera(mat4(look_at((1.6, 1.3, 2.2), (0, 0, 0))), mat4(perspective(45.0, 1.0, 0.5, 10.0)))
    mesh = Mesh(cube_geometry(), mesh_materials()[material_name])
    return prepare_visual(mesh, identity(), camera, viewport, canvas)


def test_mesh_culling_keeps_the_visible_side() -> None:
    front, back, both = _cube("basic"), _cube("basic_back"), _cube("basic_both")
    # A convex cube seen from outside: 3 faces (6 triangles) face the camera, 3 face away.
    assert len(front.face_ids) == 6 and len(back.face_ids) == 6 and len(both.face_ids) == 12
    assert set(front.face_ids.tolist()).isdisjoint(back.face_ids.tolist())
    assert sorted(front.face_ids.tolist()) == [0, 1, 4, 5, 8, 9]  # +z, +x, +y faces


def test_mesh_sorting_draws_far_faces_first() -> None:
    both = _cube("basic_both")
    depth = both.triangles_ndc[:, :, 2].mean(axis=1)
    assert (np.diff(depth) <= 1e-7).all()


def test_mesh_basic_colors_per_face() -> None:
    front = _cube("basic")
    expected = {0: [220, 60, 60], 4: [60, 60, 220], 8: [60, 220, 220]}
    for face, color in expected.items():
        row = front.face_colors[front.face_ids.tolist().index(face)]
        np.testing.assert_allclose(row[:3] * 255, color, atol=0.5)
    np.testing.assert_allclose(front.edge_widths_px, 100.0 / 72.0 * np.ones(6) * 1.44, rtol=1e-5)


def test_mesh_normal_material_maps_camera_space_normals() -> None:
    p = _cube("normal")
    assert ((p.face_colors[:, :3] >= 0) & (p.face_colors[:, :3] <= 1)).all()
    # Faces toward the camera have camera-space normals with z > 0: blue above 0.5.
    assert (p.face_colors[:, 2] > 0.5).all()


def test_mesh_depth_material_is_lighter_when_nearer() -> None:
    p = _cube("depth")
    depth = p.triangles_ndc[:, :, 2].mean(axis=1)
    gray = p.face_colors[:, 0]
    assert np.corrcoef(depth, gray)[0, 1] < -0.9
    assert ((gray > 0.6) & (gray < 0.9)).all()  # the cube sits ~3 units away in [0.5, 10]


def test_phong_ambient_only_is_diffuse_times_intensity() -> None:
    p = _cube("phong_ambient")
    np.testing.assert_allclose(p.face_colors[:, :3], np.tile(np.array([200, 120, 40]) / 255 * 0.2, (6, 1)), atol=1e-5)


def test_phong_point_light_brightens_faces_toward_it() -> None:
    ambient, lit = _cube("phong_ambient"), _cube("phong_point")
    assert (lit.face_colors[:, 0] > ambient.face_colors[:, 0] + 0.1).all()


def test_phong_directional_light_depends_on_face_orientation() -> None:
    p = _cube("phong_directional")
    by_face = {int(f): p.face_colors[i, 0] for i, f in enumerate(p.face_ids)}
    # Light comes from (-1, .5, 1): the +z face (0) is lit, the +x face (4) gets ambient only.
    assert by_face[0] > by_face[4] + 0.2
    assert by_face[4] == pytest.approx(200 / 255 * 0.2, abs=1e-5)


def test_textured_material_samples_texels_at_uv() -> None:
    p = _cube("textured")
    colors = {tuple(np.round(c[:3] * 255).astype(int)) for c in p.face_colors}
    # 2×2 checker: the white top-left texel, the green bottom-right one.
    assert colors <= {(255, 255, 255), (0, 200, 0), (40, 40, 220), (220, 40, 40)}
    assert (255, 255, 255) in colors and (0, 200, 0) in colors
    # Each visible triangle is cut into 4² flat sub-triangles that remember their parent face.
    assert len(p.face_ids) == 6 * 16 and sorted(set(p.face_ids.tolist())) == [0, 1, 4, 5, 8, 9]
    # The +z face's first triangle spans uv (0,0)-(1,0)-(1,1), below the diagonal v = u: the
    # green bottom-right and blue texels show, the white top-left one does not.
    on_face0 = {tuple(np.round(c[:3] * 255).astype(int)) for c, f in zip(p.face_colors, p.face_ids) if f == 0}
    assert {(0, 200, 0), (40, 40, 220)} <= on_face0 and (255, 255, 255) not in on_face0


def test_bad_input_errors_name_what_and_where() -> None:
    """What ``render``'s checks refuse (two model matrices...) is not checked again here:
    tests/gsp/test_gsp_render_validation.py."""
    with pytest.raises(TypeError, match="not a GSP visual"):
        visual_kind(object())
    with pytest.raises(TypeError, match="Points.sizes: expected a float32 or vec1 buffer, got vec3"):
        transbuf_array(vec3([[0, 0]]), "Points.sizes", ("float32", "vec1"))
