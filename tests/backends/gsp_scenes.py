"""Small GSP scenes shared by the backend tests (Matplotlib, and Datoviz for parity).

Every builder returns a :class:`Scene`: the canvas and the four parallel sequences that
``renderer.render(...)`` takes. Sizes stay small so that reference images are light.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gsp.core.camera import Camera
from gsp.core.canvas import Canvas
from gsp.core.texture import Texture
from gsp.core.viewport import Viewport
from gsp.types.buffer import Buffer
from gsp.types.buffer_type import BufferType
from gsp.types.enums import ImageInterpolation, JoinStyle, MarkerShape

WHITE = bytearray([255, 255, 255, 255])
BLACK = bytearray([0, 0, 0, 255])
TRANSPARENT = bytearray([0, 0, 0, 0])


def buf(array: Any, kind: BufferType) -> Buffer:
    """A Buffer holding ``array`` as ``kind``."""
    return Buffer.from_numpy(np.asarray(array), kind)


def rgba(colors: Any) -> Buffer:
    """An rgba8 Buffer from (N, 4) 0..255 values."""
    return buf(np.asarray(colors, dtype=np.uint8).reshape(-1, 4), BufferType.rgba8)


def floats(values: Any) -> Buffer:
    """A float32 Buffer."""
    return buf(np.asarray(values, dtype=np.float32).reshape(-1), BufferType.float32)


def vec3(values: Any) -> Buffer:
    """A vec3 Buffer from (N, 2) or (N, 3) values (z = 0 when missing)."""
    values = np.asarray(values, dtype=np.float32)
    if values.shape[-1] == 2:
        values = np.concatenate([values, np.zeros((*values.shape[:-1], 1), np.float32)], axis=-1)
    return buf(values.reshape(-1, 3), BufferType.vec3)


def mat4(matrix: Any) -> Buffer:
    """A mat4 Buffer (count 1) of a (4, 4) matrix."""
    return buf(np.asarray(matrix, dtype=np.float32).reshape(1, 4, 4), BufferType.mat4)


def identity() -> Buffer:
    """The identity mat4."""
    return mat4(np.eye(4))


def perspective(fovy_deg: float, aspect: float, near: float, far: float) -> np.ndarray:
    """OpenGL perspective matrix (column vectors)."""
    f = 1.0 / np.tan(np.deg2rad(fovy_deg) / 2.0)
    return np.array(
        [
            [f / aspect, 0, 0, 0],
            [0, f, 0, 0],
            [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)],
            [0, 0, -1, 0],
        ]
    )


def look_at(eye: Any, target: Any, up: Any = (0, 1, 0)) -> np.ndarray:
    """OpenGL view matrix looking from ``eye`` at ``target``."""
    eye, target, up = (np.asarray(v, dtype=float) for v in (eye, target, up))
    f = target - eye
    f /= np.linalg.norm(f)
    s = np.cross(f, up)
    s /= np.linalg.norm(s)
    u = np.cross(s, f)
    m = np.eye(4)
    m[0, :3], m[1, :3], m[2, :3] = s, u, -f
    m[:3, 3] = -m[:3, :3] @ eye
    return m


@dataclass
class Scene:
    """A canvas and the parallel sequences of one render call."""

    canvas: Canvas
    viewports: list[Any] = field(default_factory=list)
    visuals: list[Any] = field(default_factory=list)
    model_matrices: list[Any] = field(default_factory=list)
    cameras: list[Any] = field(default_factory=list)

    def add(self, viewport: Any, visual: Any, model: Any = None, camera: Any = None) -> Any:
        """Append one draw; identity model matrix and camera by default."""
        self.viewports.append(viewport)
        self.visuals.append(visual)
        self.model_matrices.append(model if model is not None else identity())
        self.cameras.append(camera if camera is not None else Camera(identity(), identity()))
        return visual

    @property
    def args(self) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
        """(viewports, visuals, model_matrices, cameras)."""
        return self.viewports, self.visuals, self.model_matrices, self.cameras


def full_viewport(canvas: Canvas, background: bytearray = WHITE) -> Viewport:
    """A viewport covering the whole canvas."""
    return Viewport(0, 0, canvas.get_width(), canvas.get_height(), background)


# ------------------------------------------------------------------------------------------
# Scenes
# ------------------------------------------------------------------------------------------
def points_scene(width: int = 128, height: int = 128, dpi: float = 100.0) -> Scene:
    """Five points: sizes, face colors, edge colors and widths all different."""
    from gsp.visuals.points import Points

    canvas = Canvas(width, height, dpi, bytearray([240, 240, 240, 255]))
    scene = Scene(canvas)
    positions = vec3([[-0.6, -0.6], [0.6, -0.6], [0.0, 0.0], [-0.6, 0.6], [0.6, 0.6]])
    sizes = floats([100, 200, 600, 300, 50])
    faces = rgba([[255, 0, 0, 255], [0, 160, 0, 255], [0, 0, 255, 255], [255, 200, 0, 255], [0, 0, 0, 255]])
    edges = rgba([[0, 0, 0, 255], [0, 0, 0, 255], [255, 0, 255, 255], [0, 0, 0, 255], [255, 0, 0, 255]])
    widths = floats([0.0, 1.0, 3.0, 2.0, 1.0])
    scene.add(full_viewport(canvas), Points(positions, sizes, faces, edges, widths))
    return scene


def marker_scene(shape: Any, size: int = 48, dpi: float = 100.0) -> Scene:
    """One large marker of ``shape`` with a visible edge, centred."""
    from gsp.visuals.markers import Markers

    canvas = Canvas(size, size, dpi, WHITE)
    scene = Scene(canvas)
    markers = Markers(
        shape, vec3([[0.0, 0.0]]), floats([900.0]), rgba([[30, 120, 220, 255]]), rgba([[0, 0, 0, 255]]), floats([1.5])
    )
    scene.add(full_viewport(canvas), markers)
    return scene


def segments_scene(dpi: float = 100.0) -> Scene:
    """Three thick segments, one per cap style, over thin guides at the end points."""
    from gsp.types.enums import CapStyle
    from gsp.visuals.segments import Segments

    canvas = Canvas(150, 120, dpi, WHITE)
    scene = Scene(canvas)
    viewport = full_viewport(canvas)
    for i, cap in enumerate((CapStyle.BUTT, CapStyle.PROJECTING, CapStyle.ROUND)):
        y = 0.5 - 0.5 * i
        scene.add(viewport, Segments(vec3([[-0.5, y], [0.5, y]]), floats([10.0]), cap, rgba([[40, 80, 200, 255]])))
    guides = vec3([[-0.5, -0.9], [-0.5, 0.9], [0.5, -0.9], [0.5, 0.9]])
    scene.add(viewport, Segments(guides, floats([0.5]), CapStyle.BUTT, rgba([[255, 0, 0, 255]])))
    return scene


def paths_scene(join: Any, dpi: float = 100.0) -> Scene:
    """Two zig-zag paths with a sharp angle: one uniform, one with per-vertex colors."""
    from gsp.types.enums import CapStyle
    from gsp.visuals.paths import Paths

    canvas = Canvas(128, 128, dpi, WHITE)
    scene = Scene(canvas)
    zig = np.array([[-0.7, 0.1], [-0.35, 0.75], [0.0, 0.1], [0.35, 0.75], [0.7, 0.1]])
    positions = vec3(np.concatenate([zig, zig - [0, 0.85]]))
    colors = np.array([[20, 20, 20, 255]] * 5 + [[255, 0, 0, 255], [255, 128, 0, 255], [0, 160, 0, 255], [0, 0, 255, 255], [128, 0, 128, 255]])
    paths = Paths(positions, buf(np.array([5, 5], np.uint32), BufferType.uint32), rgba(colors), floats([8.0]), CapStyle.BUTT, join)
    scene.add(full_viewport(canvas), paths)
    return scene


def texts_scene(dpi: float = 100.0) -> Scene:
    """The nine alignments around anchor dots, plus a rotated, larger text."""
    from gsp.types.enums import TextAlign
    from gsp.visuals.points import Points
    from gsp.visuals.texts import Texts

    canvas = Canvas(200, 150, dpi, WHITE)
    scene = Scene(canvas)
    viewport = full_viewport(canvas)
    aligns = list(TextAlign)
    xs, ys = [-0.6, 0.0, 0.6], [0.6, 0.0, -0.6]
    anchors = [[xs[a.value % 10], ys[a.value // 10]] for a in aligns]
    scene.add(
        viewport,
        Texts(vec3(anchors), ["Ag"] * 9, rgba([[0, 0, 0, 255]]), floats([9.0]), aligns, floats([0.0]), "DejaVu Sans"),
    )
    scene.add(
        viewport,
        Texts(vec3([[-0.9, -0.95]]), ["rot"], rgba([[200, 0, 0, 255]]), floats([14.0]), [TextAlign.BOTTOM_LEFT], floats([30.0]), "DejaVu Serif"),
    )
    scene.add(viewport, Points(vec3(anchors), floats([9.0]), rgba([[255, 0, 0, 255]]), rgba([[255, 0, 0, 255]]), floats([0.0])))
    return scene


def pixels_scene(dpi: float = 100.0) -> Scene:
    """A diagonal line and a square of single pixels in three color groups."""
    from gsp.visuals.pixels import Pixels

    canvas = Canvas(64, 64, dpi, BLACK)
    scene = Scene(canvas)
    n = 32
    diag = np.stack([np.linspace(-0.9, 0.9, n), np.linspace(-0.9, 0.9, n)], axis=1)
    grid = np.stack(np.meshgrid(np.linspace(0.2, 0.6, 8), np.linspace(-0.6, -0.2, 8)), axis=-1).reshape(-1, 2)
    ring = np.stack([0.5 * np.cos(np.linspace(0, 6.28, 40)), 0.5 * np.sin(np.linspace(0, 6.28, 40))], axis=1)
    positions = vec3(np.concatenate([diag, grid, ring]))
    colors = rgba([[255, 255, 0, 255], [0, 255, 255, 255], [255, 0, 255, 255]])
    scene.add(full_viewport(canvas, BLACK), Pixels(positions, colors, [n, 64, 40]))
    return scene


def checker_texture(n: int = 4) -> Texture:
    """An n×n texture: red/blue checks, a white top-left texel, a green bottom-right texel."""
    texels = np.zeros((n, n, 4), np.uint8)
    texels[...] = [40, 40, 220, 255]
    texels[(np.add.outer(np.arange(n), np.arange(n)) % 2) == 0] = [220, 40, 40, 255]
    texels[0, 0] = [255, 255, 255, 255]
    texels[-1, -1] = [0, 200, 0, 255]
    return Texture(rgba(texels.reshape(-1, 4)), n, n)


def image_scene(interpolation: Any, dpi: float = 100.0) -> Scene:
    """A 4×4 texture drawn off-centre with an asymmetric extent."""
    from gsp.visuals.image import Image

    canvas = Canvas(128, 128, dpi, bytearray([200, 200, 200, 255]))
    scene = Scene(canvas)
    image = Image(checker_texture(), vec3([[0.1, -0.1]]), (-0.8, 0.6, -0.5, 0.9), interpolation)
    scene.add(full_viewport(canvas), image)
    return scene


def cube_geometry() -> Any:
    """A unit cube (12 triangles, counter-clockwise seen from outside) with uvs."""
    from gsp.geometry.geometry import MeshGeometry

    corners = np.array(
        [[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1], [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]],
        dtype=np.float32,
    ) * 0.5
    quads = [(4, 5, 6, 7), (1, 0, 3, 2), (5, 1, 2, 6), (0, 4, 7, 3), (7, 6, 2, 3), (0, 1, 5, 4)]
    positions, uvs, indices = [], [], []
    for q in quads:
        base = len(positions)
        positions.extend(corners[list(q)])
        uvs.extend([[0, 0], [1, 0], [1, 1], [0, 1]])
        indices.extend([base, base + 1, base + 2, base, base + 2, base + 3])
    normals = np.zeros((len(positions), 3), np.float32)
    return MeshGeometry(
        vec3(np.array(positions)),
        buf(np.array(indices, np.uint32), BufferType.uint32),
        vec3(normals),
        buf(np.array(uvs, np.float32), BufferType.vec2),
    )


def mesh_camera(width: int, height: int) -> Camera:
    """A perspective camera looking at the origin from above-right-front."""
    return Camera(mat4(look_at((1.6, 1.3, 2.2), (0, 0, 0))), mat4(perspective(45.0, width / height, 0.5, 10.0)))


def mesh_scene(material: Any, culling_note: str = "", size: int = 128, dpi: float = 100.0) -> Scene:
    """The cube with ``material`` seen in perspective."""
    from gsp.visuals.mesh import Mesh

    canvas = Canvas(size, size, dpi, bytearray([30, 30, 40, 255]))
    scene = Scene(canvas)
    scene.add(full_viewport(canvas, bytearray([30, 30, 40, 255])), Mesh(cube_geometry(), material), identity(), mesh_camera(size, size))
    return scene


def mesh_materials() -> dict[str, Any]:
    """One material of each kind (and the lights) for the cube: name -> material."""
    from gsp.constants import Constants
    from gsp.lights import AmbientLight, DirectionalLight, PointLight
    from gsp.materials import (
        MeshBasicMaterial,
        MeshDepthMaterial,
        MeshNormalMaterial,
        MeshPhongMaterial,
        MeshTexturedMaterial,
    )

    front = Constants.FaceCulling.FrontSide
    edges, widths = rgba([[0, 0, 0, 255]]), floats([1.0])
    faces = rgba(np.repeat(np.array([[220, 60, 60, 255], [60, 200, 60, 255], [60, 60, 220, 255],
                                     [220, 220, 60, 255], [60, 220, 220, 255], [220, 60, 220, 255]]), 2, axis=0))
    ambient = AmbientLight(bytearray([255, 255, 255, 255]), 0.2)
    point = PointLight((2.0, 2.0, 2.0), bytearray([255, 255, 255, 255]), 0.8)
    directional = DirectionalLight((-1.0, 0.5, 1.0), (0.0, 0.0, 0.0), bytearray([255, 200, 150, 255]), 0.6)
    return {
        "basic": MeshBasicMaterial(faces, edges, widths, True, front),
        "basic_back": MeshBasicMaterial(faces, edges, widths, True, Constants.FaceCulling.BackSide),
        "basic_both": MeshBasicMaterial(rgba([[220, 60, 60, 128]]), edges, widths, True, Constants.FaceCulling.BothSides),
        "normal": MeshNormalMaterial(edges, floats([0.0]), True, front),
        "depth": MeshDepthMaterial(edges, floats([0.0]), True, front),
        "phong_ambient": MeshPhongMaterial(bytearray([200, 120, 40, 255]), bytearray([255, 255, 255, 255]), 16.0, [ambient], edges, floats([0.0]), True, front),
        "phong_point": MeshPhongMaterial(bytearray([200, 120, 40, 255]), bytearray([255, 255, 255, 255]), 16.0, [ambient, point], edges, floats([0.0]), True, front),
        "phong_directional": MeshPhongMaterial(bytearray([200, 120, 40, 255]), bytearray([255, 255, 255, 255]), 16.0, [ambient, directional], edges, floats([0.0]), True, front),
        "textured": MeshTexturedMaterial(checker_texture(2), bytearray([255, 255, 255, 255]), bytearray([0, 0, 0, 255]), 8.0, [], True, front),
        "textured_lit": MeshTexturedMaterial(checker_texture(2), bytearray([255, 255, 255, 255]), bytearray([255, 255, 255, 255]), 8.0, [ambient, point], True, front),
    }


def all_scenes() -> dict[str, Any]:
    """Name -> scene factory, one per visual kind and variant (the parity set of both backends)."""
    out: dict[str, Any] = {"points": points_scene}
    for shape in MarkerShape:
        out[f"marker_{shape.value}"] = lambda s=shape: marker_scene(s)
    out["segments"] = segments_scene
    for join in JoinStyle:
        out[f"paths_{join.name.lower()}"] = lambda j=join: paths_scene(j)
    out["texts"] = texts_scene
    out["pixels"] = pixels_scene
    for interp in ImageInterpolation:
        out[f"image_{interp.name.lower()}"] = lambda i=interp: image_scene(i)
    for name, material in mesh_materials().items():
        out[f"mesh_{name}"] = lambda m=material: mesh_scene(m)
    return out
