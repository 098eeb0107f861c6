"""Visuals: construction, getters/setters, set_attributes, and the validation rules."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from gsp_testkit import every_visual, f32, rgba, texture, u32, vec3
from hypothesis import given, settings
from hypothesis import strategies as st

from gsp.constants import Constants
from gsp.geometry import MeshGeometry
from gsp.materials import MeshBasicMaterial, MeshMaterial
from gsp.transforms import TransformChain, TransformLinkImmediate
from gsp.types import Buffer, BufferType, CapStyle, JoinStyle, MarkerShape, TextAlign
from gsp.types.visual_base import VisualBase
from gsp.visuals import Image, Markers, Paths, Pixels, Points, Segments, Texts
from gsp.visuals.mesh import Mesh


@pytest.mark.parametrize("visual", every_visual(), ids=lambda v: type(v).__name__)
def test_every_getter_returns_what_the_constructor_got_and_setters_round_trip(visual: VisualBase) -> None:
    visual.check_attributes()
    names = [p for p in inspect.signature(type(visual).__init__).parameters if p != "self"]
    for name in names:
        value = getattr(visual, f"get_{name}")()
        getattr(visual, f"set_{name}")(value)  # setting the current value is always valid
        assert getattr(visual, f"get_{name}")() == value or getattr(visual, f"get_{name}")() is value
    assert isinstance(visual.userData, dict)


def test_set_uuid_and_get_uuid() -> None:
    pts = every_visual()[0]
    old = pts.get_uuid()
    pts.set_uuid("my-id")
    assert pts.get_uuid() == "my-id" != old
    with pytest.raises(TypeError, match="Points.set_uuid"):
        pts.set_uuid("")


def test_points_sizes_count_rule_message() -> None:
    pts = Points(vec3(10), f32(1.0), rgba(1), rgba(1), f32(1.0))
    with pytest.raises(ValueError) as info:
        pts.set_sizes(f32(1.0, 2.0, 3.0))
    assert str(info.value) == "Points.set_sizes: sizes has 3 items, expected 1 or 10 (one per position)"
    with pytest.raises(TypeError, match=r"Points.set_face_colors: face_colors must be of type rgba8, got vec4"):
        pts.set_face_colors(Buffer(10, BufferType.vec4))
    with pytest.raises(TypeError, match=r"Points: positions must be a Buffer or TransformChain of vec3, got ndarray"):
        Points(np.zeros((3, 3)), f32(1.0), rgba(1), rgba(1), f32(1.0))  # type: ignore[arg-type]


def test_resize_with_set_attributes_or_positions_first() -> None:
    pts = Points(vec3(10), f32(*range(10)), rgba(10), rgba(1), f32(1.0))
    pts.set_attributes(positions=vec3(3), sizes=f32(1, 2, 3), face_colors=rgba(3))
    pts.check_attributes()
    assert pts.get_positions().get_count() == 3
    with pytest.raises(ValueError, match=r"Points.set_attributes: sizes has 4 items, expected 1 or 3"):
        pts.set_attributes(sizes=f32(1, 2, 3, 4))
    assert pts.get_sizes().get_count() == 3  # a refused set_attributes changes nothing
    with pytest.raises(TypeError, match=r"Points.set_attributes: unknown attribute\(s\) \['radius'\]"):
        pts.set_attributes(radius=1)
    pts.set_positions(vec3(5))  # positions alone: type check only; check_attributes sees the rest
    with pytest.raises(ValueError, match=r"Points.check_attributes: sizes has 3 items, expected 1 or 5"):
        pts.check_attributes()


def test_markers_shape() -> None:
    mk = Markers(MarkerShape.club, vec3(2), f32(1.0), rgba(2), rgba(2), f32(1.0, 2.0))
    assert mk.get_marker_shape() is MarkerShape.club and not isinstance(mk, Points)
    with pytest.raises(TypeError, match=r"Markers.set_marker_shape: marker_shape must be a MarkerShape"):
        mk.set_marker_shape("disc")  # type: ignore[arg-type]
    assert [m.value for m in MarkerShape] == [m.name for m in MarkerShape] and len(MarkerShape) == 14


def test_segments_rules() -> None:
    with pytest.raises(ValueError, match=r"Segments: positions has 5 items, expected an even count"):
        Segments(vec3(5), f32(1.0), CapStyle.BUTT, rgba(1))
    seg = Segments(vec3(6), f32(1.0, 2.0, 3.0), CapStyle.PROJECTING, rgba(3))
    with pytest.raises(ValueError, match=r"Segments.set_colors: colors has 6 items, expected 1 or 3 \(one per segment\)"):
        seg.set_colors(rgba(6))
    with pytest.raises(TypeError, match=r"Segments.set_cap_style: cap_style must be a CapStyle"):
        seg.set_cap_style(JoinStyle.ROUND)  # type: ignore[arg-type]


def test_paths_sizes_must_sum_to_vertex_count() -> None:
    paths = Paths(vec3(10), u32(3, 7), rgba(10), f32(1.0), CapStyle.ROUND, JoinStyle.BEVEL)
    with pytest.raises(ValueError, match=r"Paths.set_path_sizes: path_sizes sum to 9, expected 10"):
        paths.set_path_sizes(u32(3, 6))
    with pytest.raises(TypeError, match=r"path_sizes must be of type uint32, got int32"):
        paths.set_path_sizes(Buffer.from_numpy(np.array([10], np.int32), BufferType.int32))
    with pytest.raises(ValueError, match=r"Paths.set_line_widths: line_widths has 2 items, expected 1 or 10 \(one per vertex\)"):
        paths.set_line_widths(f32(1.0, 2.0))
    with pytest.raises(TypeError, match=r"Paths.set_join_style: join_style must be a JoinStyle"):
        paths.set_join_style(CapStyle.ROUND)  # type: ignore[arg-type]


def test_texts_rules() -> None:
    texts = Texts(vec3(2), ["a", "b"], rgba(1), f32(10.0), [TextAlign.CENTER_CENTER], f32(0.0), "sans")
    assert texts.get_textAligns() == [TextAlign.CENTER_CENTER]
    texts.set_textAligns([TextAlign.TOP_LEFT, TextAlign.BOTTOM_RIGHT])
    assert texts.get_text_aligns()[1] is TextAlign.BOTTOM_RIGHT
    # GSP 0.1's name for the 5th argument, by keyword, in the constructor and in set_attributes
    by_name = Texts(vec3(2), ["a", "b"], rgba(1), f32(10.0), textAligns=[TextAlign.TOP_LEFT], angles=f32(0.0),
                    font_name="sans")
    assert by_name.get_text_aligns() == [TextAlign.TOP_LEFT]
    by_name.set_attributes(textAligns=[TextAlign.BOTTOM_RIGHT])
    assert by_name.get_textAligns() == [TextAlign.BOTTOM_RIGHT]
    with pytest.raises(TypeError, match="not both"):
        Texts(vec3(1), ["a"], rgba(1), f32(10.0), [TextAlign.TOP_LEFT], f32(0.0), "sans", textAligns=[TextAlign.TOP_LEFT])
    with pytest.raises(TypeError, match="missing required argument.*text_aligns"):
        Texts(vec3(1), ["a"], rgba(1), f32(10.0), angles=f32(0.0), font_name="sans")
    with pytest.raises(ValueError, match=r"Texts.set_strings: strings has 3 items, expected 2 \(one per position\)"):
        texts.set_strings(["a", "b", "c"])
    with pytest.raises(TypeError, match=r"Texts.set_strings: strings must be a list of str"):
        texts.set_strings(["a", 2])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"text_aligns must be a list of TextAlign"):
        texts.set_text_aligns([11])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"Texts.set_font_name: font_name must be a str"):
        texts.set_font_name(None)  # type: ignore[arg-type]
    assert TextAlign.BOTTOM_RIGHT.vertical() == 2 and TextAlign.BOTTOM_RIGHT.horizontal() == 2
    assert [int(a) for a in TextAlign] == [0, 1, 2, 10, 11, 12, 20, 21, 22]


def test_pixels_groups_rules() -> None:
    px = Pixels(vec3(6), rgba(3), 2)
    px.set_groups([[0, 5], [1], [2, 3, 4]])
    with pytest.raises(ValueError, match=r"Pixels.set_groups: groups\[1\] holds vertex index 6, out of range 0..5"):
        px.set_groups([[0], [6], [1]])
    with pytest.raises(ValueError, match=r"Pixels.set_colors: colors has 2 items, expected 1 or 3 \(one per group\)"):
        px.set_colors(rgba(2))
    with pytest.raises(ValueError, match=r"groups sizes sum to 5, expected 6"):
        px.set_groups([2, 3])
    with pytest.raises(ValueError, match=r"not a multiple of the group size 4"):
        px.set_groups(4)


def test_image_rules() -> None:
    img = Image(texture(), vec3(1), [-1, 1, -1, 1], every_visual()[6].get_image_interpolation())
    assert img.get_image_extent() == (-1.0, 1.0, -1.0, 1.0)
    with pytest.raises(ValueError, match=r"Image.set_position: position has 2 items, expected 1"):
        img.set_position(vec3(2))
    with pytest.raises(TypeError, match=r"Image.set_image_extent: image_extent must be \(left, right, bottom, top\)"):
        img.set_image_extent((0, 1))  # type: ignore[arg-type]
    # 4 numbers as an array (as a light's position may be): refused before
    img.set_image_extent(np.array([-0.5, 0.5, -0.25, 0.25], np.float32))  # type: ignore[arg-type]
    assert img.get_image_extent() == (-0.5, 0.5, -0.25, 0.25)
    assert all(type(v) is float for v in img.get_image_extent())
    with pytest.raises(TypeError, match=r"Image.set_image_extent: image_extent must be \(left, right, bottom, top\)"):
        img.set_image_extent(np.zeros((2, 2)))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Image.set_texture: texture must be a Texture"):
        img.set_texture(rgba(1))  # type: ignore[arg-type]


def test_mesh_geometry_and_material_rules() -> None:
    with pytest.raises(ValueError, match=r"MeshGeometry: indices has 4 items, expected a multiple of 3"):
        MeshGeometry(vec3(3), u32(0, 1, 2, 0), None, None)
    with pytest.raises(ValueError, match=r"MeshGeometry: indices refer to vertex 3, but there are 3 positions"):
        MeshGeometry(vec3(3), u32(0, 1, 3), None, None)
    with pytest.raises(ValueError, match=r"MeshGeometry: normals has 2 items, expected 3 \(one per position\)"):
        MeshGeometry(vec3(3), u32(0, 1, 2), vec3(2), None)
    geo = MeshGeometry(vec3(3), u32(0, 1, 2), None, None)
    with pytest.raises(TypeError, match=r"MeshBasicMaterial: face_culling must be a FaceCulling"):
        MeshBasicMaterial(rgba(1), rgba(1), f32(1.0), True, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"MeshBasicMaterial.set_face_sorting: face_sorting must be a bool"):
        MeshBasicMaterial(rgba(1), rgba(1), f32(1.0), True, Constants.FaceCulling.BackSide).set_face_sorting("yes")  # type: ignore[arg-type]
    drawn = "MeshBasicMaterial, MeshNormalMaterial, MeshDepthMaterial, MeshPhongMaterial, MeshTexturedMaterial"
    with pytest.raises(TypeError, match=rf"Mesh: material must be one of {drawn}, got MeshGeometry"):
        Mesh(geo, geo)  # type: ignore[arg-type]
    # A bare MeshMaterial says nothing of how to draw: it passed here and every renderer failed on it.
    with pytest.raises(TypeError, match=rf"Mesh: material must be one of {drawn}, got MeshMaterial"):
        Mesh(geo, MeshMaterial())
    mesh = Mesh(geo, MeshBasicMaterial(rgba(1), rgba(1), f32(1.0), True, Constants.FaceCulling.BackSide))
    with pytest.raises(TypeError, match=rf"Mesh.set_material: material must be one of {drawn}, got MeshMaterial"):
        mesh.set_material(MeshMaterial())


# ---- validation rules as properties ------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(0, 45), slot=st.sampled_from(["sizes", "face_colors", "edge_colors", "edge_widths"]))
def test_points_per_item_slots_accept_exactly_1_or_n(n: int, k: int, slot: str) -> None:
    pts = Points(vec3(n), f32(1.0), rgba(1), rgba(1), f32(1.0))
    value = rgba(k) if "colors" in slot else Buffer(k, BufferType.float32)
    if k in (1, n):
        getattr(pts, f"set_{slot}")(value)
        assert getattr(pts, f"get_{slot}")() is value
    else:
        wanted = "1" if n == 1 else f"1 or {n}"
        with pytest.raises(ValueError, match=rf"Points.set_{slot}: {slot} has {k} items, expected {wanted} \(one per position\)"):
            getattr(pts, f"set_{slot}")(value)


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 20), min_size=1, max_size=8), extra=st.integers(-3, 3))
def test_paths_sum_rule(sizes: list[int], extra: int) -> None:
    total = sum(sizes) + extra
    if total < 0:
        return
    if extra == 0:
        Paths(vec3(total), u32(*sizes), rgba(1), f32(1.0), CapStyle.BUTT, JoinStyle.ROUND).check_attributes()
    else:
        with pytest.raises(ValueError, match=rf"path_sizes sum to {sum(sizes)}, expected {total}"):
            Paths(vec3(total), u32(*sizes), rgba(1), f32(1.0), CapStyle.BUTT, JoinStyle.ROUND)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 30), groups=st.lists(st.lists(st.integers(-2, 32), max_size=5), min_size=1, max_size=5))
def test_pixels_explicit_groups_rule(n: int, groups: list[list[int]]) -> None:
    flat = [i for g in groups for i in g]
    valid = all(0 <= i < n for i in flat) and len(set(flat)) == len(flat)
    if valid:
        px = Pixels(vec3(n), rgba(len(groups)), groups)
        px.check_attributes()
    else:
        with pytest.raises(ValueError, match=r"Pixels: groups\[\d+\]"):
            Pixels(vec3(n), rgba(1), groups)


# ---- transform chains: declared values checked at set time, real data when resolved ---------------
def _chain(buffer: Buffer, count: int, kind: BufferType | None) -> TransformChain:
    chain = TransformChain(count, kind)
    chain.add(TransformLinkImmediate(buffer))
    return chain


def test_chain_declared_type_and_count_checked_at_set_time() -> None:
    with pytest.raises(TypeError, match=r"Points: positions must be of type vec3, got vec2"):
        Points(_chain(Buffer(3, BufferType.vec2), 3, BufferType.vec2), f32(1.0), rgba(1), rgba(1), f32(1.0))
    pts = Points(_chain(vec3(4), 4, BufferType.vec3), f32(1.0), rgba(1), rgba(1), f32(1.0))
    with pytest.raises(ValueError, match=r"sizes has 3 items, expected 1 or 4"):
        pts.set_sizes(_chain(f32(1, 2, 3), 3, BufferType.float32))


def test_undeclared_chain_is_checked_when_resolved() -> None:
    pts = Points(_chain(vec3(4), -1, None), _chain(f32(1, 2, 3), -1, None), rgba(1), rgba(1), f32(1.0))
    with pytest.raises(ValueError, match=r"Points.check_attributes: sizes has 3 items, expected 1 or 4"):
        pts.check_attributes()
    lying = Points(_chain(vec3(4), 5, BufferType.vec3), f32(1.0), rgba(1), rgba(1), f32(1.0))
    with pytest.raises(ValueError, match=r"Points.check_attributes: positions: TransformChain.run: result has 4 items, declared 5"):
        lying.check_attributes()


@settings(max_examples=50, deadline=None)
@given(segments=st.integers(1, 20), k=st.integers(0, 25), slot=st.sampled_from(["line_widths", "colors"]))
def test_segments_per_segment_slots(segments: int, k: int, slot: str) -> None:
    seg = Segments(vec3(2 * segments), f32(1.0), CapStyle.BUTT, rgba(1))
    value = rgba(k) if slot == "colors" else Buffer(k, BufferType.float32)
    if k in (1, segments):
        getattr(seg, f"set_{slot}")(value)
    else:
        with pytest.raises(ValueError, match=rf"Segments.set_{slot}: {slot} has {k} items, expected .*\(one per segment\)"):
            getattr(seg, f"set_{slot}")(value)


@settings(max_examples=50, deadline=None)
@given(w=st.integers(1, 8), h=st.integers(1, 8), k=st.integers(0, 70))
def test_texture_data_size_rule(w: int, h: int, k: int) -> None:
    from gsp.core import Texture

    if k == w * h:
        assert Texture(rgba(k), w, h).get_data().get_count() == k
    else:
        with pytest.raises(ValueError, match=rf"Texture: data has {k} items, expected {w * h} \(one per texel of {w}x{h}\)"):
            Texture(rgba(k), w, h)
