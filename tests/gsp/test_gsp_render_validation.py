"""``render`` refuses, for every backend (the null one included, drawing or not), whatever a
backend would refuse to draw: values (sizes, widths, font sizes, text angles), the results of
transform chains, a mesh's indices against positions resized since, a texture's data against its
size. ``gsp record --no-render`` recorded such renders, and the log then failed to replay."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gsp.constants import Constants
from gsp.core import Camera, Canvas, Texture, Viewport
from gsp.geometry import MeshGeometry
from gsp.lights import PointLight
from gsp.materials import MeshBasicMaterial, MeshPhongMaterial
from gsp.transforms import TransformChain, TransformLinkBase, TransformLinkImmediate
from gsp.types import Buffer, BufferType, CapStyle, ImageInterpolation, JoinStyle, MarkerShape, TextAlign
from gsp.types.renderer_base import set_rendering_enabled
from gsp.utils.bufferx import Bufferx
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals import Image, Markers, Mesh, Paths, Points, Segments, Texts
from player.backends.null import NullRenderer

WHITE = Constants.Color.white
RED = [[255, 0, 0, 255]]
NOT_AMOUNTS = [float("nan"), float("inf"), -float("inf"), -1.0, -0.25]


def floats(values: Any) -> Buffer:
    return Buffer.from_numpy(np.asarray(values, np.float32).reshape(-1), BufferType.float32)


def vec3(values: Any) -> Buffer:
    return Buffer.from_numpy(np.asarray(values, np.float32).reshape(-1, 3), BufferType.vec3)


def rgba(values: Any) -> Buffer:
    return Buffer.from_numpy(np.asarray(values, np.uint8).reshape(-1, 4), BufferType.rgba8)


def uints(values: Any) -> Buffer:
    return Buffer.from_numpy(np.asarray(values, np.uint32), BufferType.uint32)


def chain_of(buffer: Buffer, count: int = -1) -> TransformChain:
    chain = TransformChain(count, buffer.get_type())
    chain.add(TransformLinkImmediate(buffer))
    return chain


def _render(*visuals: Any, renderer: Any = None, dpi: float = 100.0) -> bytes:
    renderer = renderer or NullRenderer(Canvas(40, 40, dpi, WHITE))
    viewport = Viewport(0, 0, 40, 40, WHITE)
    camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
    n = len(visuals)
    return renderer.render([viewport] * n, list(visuals), [Bufferx.mat4_identity()] * n, [camera] * n)


def _points(sizes: Buffer | TransformChain | None = None, widths: Buffer | TransformChain | None = None) -> Points:
    return Points(vec3([[0, 0, 0], [0.5, 0, 0]]), sizes or floats([100.0]), rgba(RED), rgba(RED),
                  widths or floats([1.0]))


def _texts(font_sizes: Buffer | None = None, angles: Buffer | None = None) -> Texts:
    return Texts(vec3([[0, 0, 0]]), ["a"], rgba(RED), font_sizes or floats([12.0]), [TextAlign.CENTER_CENTER],
                 angles or floats([0.0]), "DejaVu Sans")


def _triangle(edge_widths: Buffer) -> Mesh:
    geometry = MeshGeometry(vec3([[0, 0, 0], [1, 0, 0], [0, 1, 0]]), uints([0, 1, 2]), None, None)
    return Mesh(geometry, MeshBasicMaterial(rgba(RED), rgba(RED), edge_widths, False, Constants.FaceCulling.BothSides))


# Every attribute that holds an amount (a size, width or font size), and the visual holding it.
AMOUNT_SLOTS = {
    "Points: sizes": lambda b: _points(sizes=b),
    "Points: edge_widths": lambda b: _points(widths=b),
    "Markers: sizes": lambda b: Markers(MarkerShape.club, vec3([[0, 0, 0]]), b, rgba(RED), rgba(RED), floats([1.0])),
    "Markers: edge_widths": lambda b: Markers(MarkerShape.club, vec3([[0, 0, 0]]), floats([9.0]), rgba(RED),
                                              rgba(RED), b),
    "Segments: line_widths": lambda b: Segments(vec3([[0, 0, 0], [1, 1, 0]]), b, CapStyle.ROUND, rgba(RED)),
    "Paths: line_widths": lambda b: Paths(vec3([[0, 0, 0], [1, 1, 0]]), uints([2]), rgba(RED), b, CapStyle.ROUND,
                                          JoinStyle.ROUND),
    "Texts: font_sizes": lambda b: _texts(font_sizes=b),
    "Mesh: material: edge_widths": _triangle,
}


@pytest.mark.parametrize("slot", list(AMOUNT_SLOTS))
@pytest.mark.parametrize("value", NOT_AMOUNTS)
def test_render_refuses_a_size_or_width_that_is_no_amount_on_the_null_backend(slot: str, value: float) -> None:
    """The backends refused these only when drawing: the null renderer, and any renderer under
    ``--no-render``, accepted them, and the log could not be replayed."""
    good = _points()
    visual = AMOUNT_SLOTS[slot](floats([3.0]))  # drawn once fine: the value changes in place afterwards
    _render(good, visual)
    buffer = _amount_buffer(visual, slot)
    buffer.set_data(np.array([value], np.float32), 0, 1)
    with pytest.raises(ValueError) as raised:
        _render(good, visual)
    assert str(raised.value) == (f"NullRenderer.render: visuals[1]: {slot}: {value} is not a size "
                                 "(sizes and widths are finite and >= 0)")


def _amount_buffer(visual: Any, slot: str) -> Buffer:
    name = slot.split(": ")[-1]
    holder = visual.get_material() if isinstance(visual, Mesh) else visual
    buffer: Buffer = holder._attrs[name]
    return buffer


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_render_refuses_a_text_angle_that_is_not_finite(value: float) -> None:
    """Both backends failed inside Matplotlib's text layout ("cannot convert float NaN to integer")."""
    with pytest.raises(ValueError, match=rf"^NullRenderer.render: visuals\[0\]: Texts: angles: {value} is not a "
                                         r"finite angle$"):
        _render(_texts(angles=floats([value])))
    _render(_texts(angles=floats([1e30])))  # finite: drawn (turned round many times)


def test_render_refuses_a_font_larger_than_drawn_at_the_canvas_dpi() -> None:
    _render(_texts(font_sizes=floats([11796.0])), dpi=100.0)  # 16383 px: the largest drawn
    with pytest.raises(ValueError, match=r"^NullRenderer.render: visuals\[0\]: Texts: font_sizes: 11800 pt is "
                                         r"16389 px at 100 dpi, over the largest font drawn \(16384 px\)$"):
        _render(_texts(font_sizes=floats([11800.0])), dpi=100.0)
    _render(_texts(font_sizes=floats([11800.0])), dpi=72.0)  # 11800 px at 72 dpi


def test_rendering_disabled_refuses_the_same_render_with_the_same_message() -> None:
    """``gsp record --no-render``: nothing is drawn, and what could not be drawn is refused all the same."""
    visual = _points(sizes=floats([100.0, float("nan")]))
    with pytest.raises(ValueError) as drawing:
        _render(visual)
    set_rendering_enabled(False)
    try:
        with pytest.raises(ValueError) as not_drawing:
            _render(visual)
    finally:
        set_rendering_enabled(True)
    assert str(not_drawing.value) == str(drawing.value) == (
        "NullRenderer.render: visuals[0]: Points: sizes: nan is not a size (sizes and widths are finite and >= 0)")


def test_a_buffer_is_checked_again_once_written_through_set_data_or_an_exposed_view() -> None:
    """Values found right are kept on the buffer until it may have changed: a write through
    ``set_data`` (a new version), or any write once a writable view was handed out."""
    sizes = floats(np.full(1000, 4.0))
    visual = Points(vec3(np.zeros((1000, 3))), sizes, rgba(RED), rgba(RED), floats([1.0]))
    _render(visual)
    _render(visual)  # kept: not scanned again
    sizes.set_data(np.array([float("nan")], np.float32), 999, 1)
    with pytest.raises(ValueError, match="sizes: nan is not a size"):
        _render(visual)
    sizes.set_data(np.array([-0.0], np.float32), 999, 1)  # an amount (>= 0), if not by its bits
    _render(visual)
    view = sizes.to_numpy()  # exposed: from now on every render reads the values again
    _render(visual)
    view[10] = -2.0
    with pytest.raises(ValueError, match="sizes: -2.0 is not a size"):
        _render(visual)
    view[10] = 2.0
    _render(visual)


@pytest.mark.parametrize("backend", ["null", "matplotlib"])
def test_an_unchanged_buffer_is_scanned_once(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """The values of a 1M-point visual are not read again at every render while unchanged; a
    backend drawing right after ``render``'s checks does not read them again either."""
    import gsp.types._checks as checks

    scanned: list[int] = []

    def counting(values: np.ndarray) -> float | None:
        scanned.append(values.size)
        return original(values)

    original = checks.first_bad_amount
    monkeypatch.setattr(checks, "first_bad_amount", counting)
    sizes, widths = floats(np.full(5, 4.0)), floats([1.0])
    visual = Points(vec3(np.zeros((5, 3))), sizes, rgba(RED), rgba(RED), widths)
    renderer = RendererRegistry.create_renderer(backend, Canvas(40, 40, 100.0, WHITE))
    try:
        for _ in range(3):
            _render(visual, renderer=renderer)
        assert scanned == [5, 1]
        sizes.set_data(np.full(5, 3.0, np.float32), 0, 5)
        _render(visual, renderer=renderer)
        assert scanned == [5, 1, 5]
    finally:
        renderer.close()


# ---- transform chains: run once by render, their results checked ---------------------------------
class _CountingLink(TransformLinkBase):
    """Yields its buffer and counts the runs (a test link)."""

    runs = 0

    def __init__(self, buffer: Buffer) -> None:
        self._buffer = buffer

    def apply(self, buffer: Buffer | None) -> Buffer:
        type(self).runs += 1
        return self._buffer

    def _serialize_fields(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> _CountingLink:
        return cls(floats([1.0]))


@pytest.mark.parametrize("backend", ["null", "matplotlib"])
def test_render_runs_each_chain_once_and_checks_its_result(backend: str) -> None:
    """Chains ran only when drawn: the null backend (and ``--no-render``) never ran them, so a
    chain that fails or yields what cannot be drawn was accepted. ``render`` runs each once
    (a chain in two slots too), checks the result, and the backend draws that same result."""
    sizes = floats([100.0, 50.0])
    chain = TransformChain(-1, BufferType.float32)
    chain.add(_CountingLink(sizes))
    visual = _points(sizes=chain, widths=chain)
    renderer = RendererRegistry.create_renderer(backend, Canvas(40, 40, 100.0, WHITE))
    try:
        _CountingLink.runs = 0
        _render(visual, renderer=renderer)
        assert _CountingLink.runs == 1
        sizes.set_data(np.array([100.0, float("nan")], np.float32), 0, 2)
        with pytest.raises(ValueError, match=r"^\w+Renderer.render: visuals\[0\]: Points: sizes: nan is not a size"):
            _render(visual, renderer=renderer)
        assert _CountingLink.runs == 2
    finally:
        renderer.close()


def test_render_refuses_a_chain_that_cannot_run_or_yields_the_wrong_count() -> None:
    empty = TransformChain(2, BufferType.float32)  # declared right, but no link to run
    with pytest.raises(ValueError, match=r"^NullRenderer.render: visuals\[0\]: Points: sizes: TransformChain.run: "
                                         r"the chain has no links$"):
        _render(_points(sizes=empty))
    three = chain_of(floats([1.0, 2.0, 3.0]))  # count not declared: 3 items for 2 points
    with pytest.raises(ValueError, match=r"^NullRenderer.render: visuals\[0\]: Points: edge_widths has 3 items, "
                                         r"expected 1 or 2 \(one per position\)$"):
        _render(_points(widths=three))
    two_matrices = chain_of(Buffer.from_numpy(np.stack([np.eye(4)] * 2).astype(np.float32), BufferType.mat4))
    renderer = NullRenderer(Canvas(40, 40, 100.0, WHITE))
    camera = Camera(Bufferx.mat4_identity(), Bufferx.mat4_identity())
    viewport = Viewport(0, 0, 40, 40, WHITE)
    with pytest.raises(ValueError, match=r"^NullRenderer.render: model_matrices\[0\] has 2 items, expected 1"):
        renderer.render([viewport], [_points()], [two_matrices], [camera])
    camera.set_view_matrix(TransformChain(1, BufferType.mat4))
    with pytest.raises(ValueError, match=r"^NullRenderer.render: cameras\[0\]: view_matrix: TransformChain.run: "
                                         r"the chain has no links$"):
        renderer.render([viewport], [_points()], [Bufferx.mat4_identity()], [camera])


def test_render_refuses_a_mesh_whose_indices_outrun_positions_resized_since() -> None:
    """Positions set alone are checked for their type only (a visual is resized step by step):
    the indices were checked against them only when drawn."""
    mesh = _triangle(floats([1.0]))
    _render(mesh)
    mesh.get_geometry().set_positions(vec3([[0, 0, 0], [1, 0, 0]]))
    with pytest.raises(ValueError, match=r"^NullRenderer.render: visuals\[0\]: Mesh: geometry: indices refer to "
                                         r"vertex 2, but there are 2 positions$"):
        _render(mesh)


def test_render_refuses_a_texture_whose_data_no_longer_fits_its_size() -> None:
    texture = Texture(rgba(np.zeros((4, 4), np.uint8)), 2, 2)
    image = Image(texture, vec3([[0, 0, 0]]), (-0.5, 0.5, -0.5, 0.5), ImageInterpolation.NEAREST)
    _render(image)
    texture.set_width(3)  # checked against the data when the data is set next, or drawn
    with pytest.raises(ValueError, match=r"^NullRenderer.render: visuals\[0\]: Image: texture: data has 4 items, "
                                         r"expected 6"):
        _render(image)


def test_render_refuses_a_light_position_chain_that_cannot_run() -> None:
    light = PointLight((1.0, 1.0, 1.0))
    material = MeshPhongMaterial(WHITE, WHITE, 10.0, [light], rgba(RED), floats([1.0]), False,
                                 Constants.FaceCulling.BothSides)
    geometry = MeshGeometry(vec3([[0, 0, 0], [1, 0, 0], [0, 1, 0]]), uints([0, 1, 2]), None, None)
    mesh = Mesh(geometry, material)
    _render(mesh)
    light.set_position(TransformChain(1, BufferType.vec3))
    with pytest.raises(ValueError, match=r"^NullRenderer.render: visuals\[0\]: Mesh: material: lights\[0\]: "
                                         r"position: TransformChain.run: the chain has no links$"):
        _render(mesh)


def test_check_attributes_checks_the_values_too() -> None:
    points = _points(sizes=floats([float("nan")]))
    with pytest.raises(ValueError, match=r"^Points.check_attributes: sizes: nan is not a size"):
        points.check_attributes()
