"""Lines and triangles that reach behind a perspective camera keep their part in front of it.

A camera standing on a ground plane, or a line running past the camera: before, a vertex behind
the camera made its whole segment, path edge or mesh triangle vanish (the floor under the
camera was not drawn at all). Both backends now draw the part in front of the near plane, as
OpenGL clips (``player.backends.prepare_clip``).
"""

from __future__ import annotations

import numpy as np
import pytest
from gsp_scenes import WHITE, Scene, buf, floats, full_viewport, look_at, mat4, perspective, rgba, vec3
from imagecmp import decode_png

from gsp.constants import Constants
from gsp.core.camera import Camera
from gsp.core.canvas import Canvas
from gsp.geometry import MeshGeometry
from gsp.materials import MeshBasicMaterial
from gsp.types import BufferType
from gsp.types.enums import CapStyle, JoinStyle
from gsp.utils.renderer_registry import RendererRegistry
from gsp.visuals.mesh import Mesh
from gsp.visuals.paths import Paths
from gsp.visuals.segments import Segments

BACKENDS = ["matplotlib", pytest.param("datoviz", marks=pytest.mark.datoviz)]
W, H = 120, 80


def _camera_on_the_ground() -> Camera:
    """Eye 1 above the ground plane z = 0, looking along +y and a little down."""
    return Camera(
        mat4(look_at((0, 0, 1), (0, 5, 0.8), (0, 0, 1))), mat4(perspective(60.0, W / H, 0.1, 100.0))
    )


def _render(backend: str, scene: Scene) -> np.ndarray:
    renderer = RendererRegistry.create_renderer(backend, scene.canvas)
    try:
        return decode_png(renderer.render(*scene.args))[..., :3].astype(int)
    finally:
        renderer.close()


def _is(image: np.ndarray, color: tuple[int, int, int], tolerance: int = 40) -> np.ndarray:
    return np.all(np.abs(image - np.array(color)) <= tolerance, axis=-1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("culling", [Constants.FaceCulling.FrontSide, Constants.FaceCulling.BothSides])
def test_a_ground_plane_under_the_camera_fills_the_lower_part_of_the_picture(
    backend: str, culling: Constants.FaceCulling
) -> None:
    # Two triangles 20 × 20 around the eye, counter-clockwise seen from above: every one has
    # vertices behind the camera. Seen from above they stay front faces once clipped.
    canvas = Canvas(W, H, 100.0, WHITE)
    scene = Scene(canvas)
    corners = vec3([[-10, -10, 0], [10, -10, 0], [10, 10, 0], [-10, 10, 0]])
    geometry = MeshGeometry(
        corners, buf(np.array([0, 1, 2, 0, 2, 3], np.uint32), BufferType.uint32), None, None
    )
    material = MeshBasicMaterial(rgba([[0, 160, 0, 255]]), rgba([[0, 0, 0, 0]]), floats([0.0]), True, culling)
    scene.add(full_viewport(canvas), Mesh(geometry, material), camera=_camera_on_the_ground())
    green = _is(_render(backend, scene), (0, 160, 0))
    # The far edge (y = 10) is 3.4° under the view's center: 5 px under the middle row.
    assert green[H // 2 + 8 :].all(), "the ground in front of the camera is not drawn"
    assert not green[: H // 2 - 2].any()  # the sky stays white


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_segment_and_a_path_running_past_the_camera_are_drawn_to_the_edge_of_the_picture(
    backend: str,
) -> None:
    canvas = Canvas(W, H, 100.0, WHITE)
    scene = Scene(canvas)
    camera = _camera_on_the_ground()
    viewport = full_viewport(canvas)
    # A red segment from behind the eye to y = 10, 0.5 under it: straight down the middle column.
    scene.add(
        viewport,
        Segments(vec3([[0, -10, 0.5], [0, 10, 0.5]]), floats([3.0]), CapStyle.BUTT, rgba([[220, 0, 0, 255]])),
        camera=camera,
    )
    # A blue path coming from behind the eye on the left, turning at y = 10 and going back behind
    # it on the right: two long strokes to the bottom corners of the picture.
    path = vec3([[-1, -10, 0.3], [-1, 10, 0.3], [1, 10, 0.3], [1, -10, 0.3]])
    scene.add(
        viewport,
        Paths(
            path,
            buf(np.array([4], np.uint32), BufferType.uint32),
            rgba([[0, 0, 220, 255]]),
            floats([3.0]),
            CapStyle.BUTT,
            JoinStyle.MITER,
        ),
        camera=camera,
    )
    image = _render(backend, scene)
    red, blue = _is(image, (220, 0, 0)), _is(image, (0, 0, 220))
    middle = red[:, W // 2 - 3 : W // 2 + 3].any(axis=1)
    assert middle[H // 2 + 8 :].all(), "the segment's part in front of the camera is not drawn"
    left, right = blue[:, : W // 2 - 3].any(axis=1), blue[:, W // 2 + 3 :].any(axis=1)
    assert left[H // 2 + 8 :].all() and right[H // 2 + 8 :].all(), (
        "the path's edges from behind the camera are not drawn"
    )


def test_clipped_triangles_keep_their_winding_and_the_geometrys_order() -> None:
    from player.backends.prepare import Projection
    from player.backends.prepare_clip import clip_triangles

    proj = Projection(
        model=np.eye(4),
        view=look_at((0, 0, 1), (0, 5, 0.8), (0, 0, 1)),
        proj=perspective(60.0, 1.5, 0.1, 100.0),
    )
    positions = np.array(
        [[-10, -10, 0], [10, -10, 0], [10, 10, 0], [-10, 10, 0], [-1, 5, 0], [1, 5, 0], [0, 6, 0]], np.float32
    )
    faces = np.array([[0, 1, 2], [4, 5, 6], [0, 2, 3]])
    clipped = clip_triangles(positions, proj.mvp, faces, proj.project(positions)[faces])
    assert clipped is not None
    tri, source = clipped
    # Face 0 (two corners behind) keeps a triangle, face 2 (one corner behind) a quad: two.
    assert source.tolist() == [0, 1, 2, 2]
    assert np.isfinite(tri).all() and np.allclose(tri[1], proj.project(positions)[faces[1]])
    a, b = tri[:, 1, :2] - tri[:, 0, :2], tri[:, 2, :2] - tri[:, 0, :2]
    assert (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0] > 0).all()  # all counter-clockwise, as seen from above
    assert np.allclose(tri[[0, 2, 3]].reshape(-1, 3)[:, 2].min(), -1.0, atol=1e-4)  # cut at the near plane


def _near_eye_scene(distance: float) -> Scene:
    """A segment, a path and a triangle, each with one vertex ``distance`` in front of the eye
    plane (eye at the origin looking down -z, near plane at 0.1)."""
    canvas = Canvas(100, 100, 100.0, WHITE)
    scene = Scene(canvas)
    camera = Camera(mat4(np.eye(4)), mat4(perspective(60.0, 1.0, 0.1, 10.0)))
    viewport = full_viewport(canvas)
    d = -distance
    scene.add(
        viewport,
        Segments(vec3([[0, 0, -2], [0.5, 0.3, d]]), floats([3.0]), CapStyle.ROUND, rgba([[220, 0, 0, 255]])),
        camera=camera,
    )
    scene.add(
        viewport,
        Paths(
            vec3([[0, -0.5, -2], [0.5, -0.3, d], [0.9, -0.5, -2]]),
            buf(np.array([3], np.uint32), BufferType.uint32),
            rgba([[0, 0, 220, 255]]),
            floats([3.0]),
            CapStyle.ROUND,
            JoinStyle.ROUND,
        ),
        camera=camera,
    )
    triangle = MeshGeometry(
        vec3([[-1, 0, -2], [-0.5, 0.5, d], [-1, 1, -2]]),
        buf(np.array([0, 1, 2], np.uint32), BufferType.uint32),
        None,
        None,
    )
    material = MeshBasicMaterial(
        rgba([[0, 160, 0, 255]]), rgba([[0, 0, 0, 255]]), floats([1.0]), True, Constants.FaceCulling.BothSides
    )
    scene.add(viewport, Mesh(triangle, material), camera=camera)
    return scene


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("distance", [1e-10, 1e-20])
def test_a_vertex_next_to_the_eye_plane_draws_as_one_a_little_farther(backend: str, distance: float) -> None:
    # Such a vertex projected 10^10 viewports away: Datoviz dropped the whole path (from 10^-8 on),
    # Agg drew a stray stroke across the picture (from 10^-15 on). Clipped at the near plane, the
    # picture is the one of a vertex 10^-3 from the eye plane (nearer than the near plane too).
    reference = _render(backend, _near_eye_scene(1e-3))
    image = _render(backend, _near_eye_scene(distance))
    assert _is(reference, (0, 0, 220)).sum() > 100  # the path is there
    assert (np.abs(image - reference).max(axis=-1) > 80).sum() <= 3
