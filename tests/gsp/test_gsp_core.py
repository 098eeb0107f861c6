"""Canvas, Viewport, Camera, Texture, Event, Constants."""

from __future__ import annotations

import numpy as np
import pytest
from gsp_testkit import rgba, texture

from gsp.constants import Constants
from gsp.core import Camera, Canvas, Event, Texture, Viewport
from gsp.types import Buffer, BufferType
from gsp.utils.bufferx import Bufferx


def test_canvas_get_set_and_checks() -> None:
    canvas = Canvas(640, 480, 96.0, Constants.Color.black)
    assert (canvas.get_width(), canvas.get_height(), canvas.get_dpi()) == (640, 480, 96.0)
    assert canvas.get_background_color() == bytearray([0, 0, 0, 255])
    canvas.set_width(10)
    canvas.set_height(20)
    canvas.set_dpi(72)
    canvas.set_background_color(bytearray([1, 2, 3, 4]))
    assert (canvas.get_width(), canvas.get_height(), canvas.get_dpi()) == (10, 20, 72.0)
    assert canvas.get_background_color() == bytearray([1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"Canvas.set_width: width must be >= 1, got 0"):
        canvas.set_width(0)
    with pytest.raises(ValueError, match=r"Canvas: dpi must be > 0"):
        Canvas(1, 1, 0, Constants.Color.white)
    with pytest.raises(TypeError, match=r"Canvas: background_color must be a Color"):
        Canvas(1, 1, 72, (1, 2, 3))  # type: ignore[arg-type]
    assert isinstance(canvas.userData, dict)


def test_viewport_get_set_and_checks() -> None:
    vp = Viewport(10, 20, 30, 40, Constants.Color.white)
    assert (vp.get_x(), vp.get_y(), vp.get_width(), vp.get_height()) == (10, 20, 30, 40)
    vp.set_x(-5)
    vp.set_y(7)
    vp.set_width(1)
    vp.set_height(2)
    vp.set_background_color(Constants.Color.red)
    assert (vp.get_x(), vp.get_y(), vp.get_width(), vp.get_height()) == (-5, 7, 1, 2)
    assert vp.get_background_color() == Constants.Color.red
    with pytest.raises(TypeError, match=r"Viewport.set_x: x must be an int, got float"):
        vp.set_x(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Viewport: height must be >= 1"):
        Viewport(0, 0, 1, 0, Constants.Color.white)


def test_camera_needs_one_mat4_each() -> None:
    ident = Bufferx.mat4_identity()
    cam = Camera(ident, ident)
    assert cam.get_view_matrix() is ident and cam.get_projection_matrix() is ident
    two = Buffer(2, BufferType.mat4)
    with pytest.raises(ValueError, match=r"Camera.set_view_matrix: view_matrix has 2 items, expected 1"):
        cam.set_view_matrix(two)
    with pytest.raises(TypeError, match=r"Camera: projection_matrix must be of type mat4, got vec4"):
        Camera(ident, Buffer(4, BufferType.vec4))


def test_texture_size_must_match_data() -> None:
    tex = texture(4, 3)
    assert (tex.get_width(), tex.get_height(), tex.get_data().get_count()) == (4, 3, 12)
    with pytest.raises(ValueError, match=r"Texture: data has 12 items, expected 6 \(one per texel of 3x2\)"):
        Texture(rgba(12), 3, 2)
    with pytest.raises(TypeError, match=r"Texture.set_data: data must be of type rgba8, got vec4"):
        tex.set_data(Buffer(12, BufferType.vec4))
    with pytest.raises(ValueError, match=r"width must be >= 1"):
        Texture(rgba(0), 0, 3)
    # resize: width first, then matching data
    tex.set_width(2)
    tex.set_data(rgba(6))
    tex.check_attributes()
    with pytest.raises(ValueError, match="Texture.check_attributes"):
        tex.set_height(5)
        tex.check_attributes()


def test_event_subscribe_dispatch_unsubscribe_decorator() -> None:
    event: Event = Event()
    seen: list[tuple] = []

    def a(*args: object, **kwargs: object) -> None:
        seen.append(("a", args, kwargs))

    event.subscribe(a)

    @event.event_listener
    def b(*args: object, **kwargs: object) -> None:
        seen.append(("b", args, kwargs))

    event.dispatch(1, k=2)
    assert seen == [("a", (1,), {"k": 2}), ("b", (1,), {"k": 2})]
    event.unsubscribe(a)
    event.dispatch(3)
    assert seen[-1] == ("b", (3,), {}) and len(seen) == 3
    assert b.__name__ == "b"  # the decorator returns the function
    with pytest.raises(ValueError, match="not subscribed"):
        event.unsubscribe(a)
    with pytest.raises(TypeError, match="callable"):
        event.subscribe(42)  # type: ignore[arg-type]


def test_constants_colors_and_face_culling() -> None:
    names = ["white", "black", "red", "green", "blue", "yellow", "magenta", "cyan", "light_gray", "gray", "dark_gray", "transparent"]
    for name in names:
        color = getattr(Constants.Color, name)
        assert isinstance(color, bytearray) and len(color) == 4
    assert Constants.Color.red == bytearray([255, 0, 0, 255])
    assert Constants.Color.transparent[3] == 0
    mutated = Constants.Color.white
    mutated[0] = 0
    assert Constants.Color.white[0] == 255  # constants cannot be changed by accident
    assert [int(m) for m in Constants.FaceCulling] == [0, 1, 2]
    assert Constants.FaceCulling.BothSides.name == "BothSides"
    with pytest.raises(AttributeError, match="no color 'purple'"):
        _ = Constants.Color.purple


def test_uuids_are_unique_and_userdata_free() -> None:
    a, b = Canvas(1, 1, 72, Constants.Color.white), Canvas(1, 1, 72, Constants.Color.white)
    assert a.get_uuid() != b.get_uuid()
    a.userData["k"] = np.int32(1)
    assert b.userData == {}
