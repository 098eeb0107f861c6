"""One offscreen Datoviz figure that draws numpy arrays and renders repeatedly in one process.

This is the low-level layer of the Datoviz backend (no GSP types here). It uses the Datoviz
server path (batch, scene, figure, server), the only one that renders updated data frame after
frame in Datoviz 0.3.5 (``App(offscreen=True)`` screenshots work once). Visuals are kept alive
across frames and each array is uploaded only when its content fingerprint changed.

Coordinates: every layer takes positions in the NDC of its panel (x right, y up, -1..1). Panel
rectangles are in canvas pixels with the origin at the *top-left* (Datoviz/Vulkan convention);
the GSP adapter flips GSP's bottom-origin viewports.
"""

from __future__ import annotations

import ctypes
import hashlib
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from player.backends.datoviz._lib import dvz_lib
from player.backends.datoviz.server import LOCK, ServerObjects, SharedServer, shared_server

__all__ = [
    "DatovizEngine",
    "Panel",
    "Layer",
    "PointLayer",
    "MarkerLayer",
    "SegmentLayer",
    "PathLayer",
    "ImageLayer",
    "MAX_IMAGE_SIDE",
    "fit_texture",
    "MeshLayer",
    "PixelLayer",
    "MARKER_SHAPES",
    "fingerprint",
    "clip_rect",
    "unmix_alpha",
]


def _hasher() -> Callable[[Any], bytes]:
    try:
        import xxhash  # ~10 GB/s: fingerprints stay cheap next to the upload itself

        return lambda data: xxhash.xxh3_128_digest(data)
    except ImportError:  # pragma: no cover - xxhash is a project dependency
        return lambda data: hashlib.blake2b(data, digest_size=16).digest()


_hash = _hasher()


def is_uniform(array: np.ndarray) -> bool:
    """True for a broadcast (stride-0) array: every item is the same value."""
    return array.ndim >= 1 and array.shape[0] > 1 and array.strides[0] == 0


def fingerprint(array: np.ndarray) -> bytes:
    """A cheap content fingerprint: dtype, shape and a 128-bit hash of the bytes.

    A broadcast (stride-0) array is fingerprinted from its one value, without materializing it.
    """
    array = np.asarray(array)
    uniform = is_uniform(array)
    data = np.ascontiguousarray(array[:1] if uniform else array)
    meta = str((array.dtype.str, array.shape, uniform)).encode()
    return _hash(memoryview(data.reshape(-1).view(np.uint8))) + meta  # type: ignore[arg-type]


def _f32(array: Any, ncol: int | None = None) -> np.ndarray:
    out = np.ascontiguousarray(array, dtype=np.float32)
    if ncol is not None:
        out = out.reshape(-1, ncol)
    return out


def _xy0(array: Any) -> np.ndarray:
    """(N, >=2) positions as contiguous float32 (N, 3) with z = 0.

    Layers draw in painter's order without depth test; z must stay inside Vulkan's [0, 1] clip
    range, so it is flattened to 0 here (one pass, no intermediate copies).
    """
    array = np.asarray(array)
    out = np.empty((array.shape[0], 3), np.float32)
    out[:, :2] = array[:, :2]
    out[:, 2] = 0.0
    return out


def _xyz(array: Any) -> np.ndarray:
    """(N, 3) positions as contiguous float32 for points and markers, as they are when every z
    is inside [-1, 1], else with z = 0.

    Datoviz drops a point or marker whose z is outside [-1, 1] (measured: ±1 drawn, ±1.001 not),
    where Matplotlib ignores z. Checking the range (~15 ms per 10 M points, on upload only)
    is cheaper than always flattening z (~95 ms): the hot path keeps the array as it is.
    """
    out = _f32(array, 3)
    z = out[:, 2]
    if z.size == 0:
        return out
    low, high = z.min(), z.max()
    if low >= -1.0 and high <= 1.0:
        return out
    # Out of range, or NaN somewhere (min/max give NaN): rows whose x, y are NaN are dropped by
    # the GPU anyway; flatten when any drawable row has z outside [-1, 1] (or NaN).
    drawable = np.isfinite(out[:, 0]) & np.isfinite(out[:, 1])
    if not bool((drawable & ~(np.abs(z) <= 1.0)).any()):
        return out
    return _xy0(out)


def _u8(array: Any, ncol: int = 4) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.uint8).reshape(-1, ncol)


def _color_u8(colors: np.ndarray) -> np.ndarray:
    """RGBA colors as uint8 (N, 4): float arrays are taken as 0..1."""
    colors = np.asarray(colors)
    if colors.dtype.kind == "f":
        colors = np.clip(np.rint(colors * 255.0), 0, 255)
    return _u8(colors)


# Datoviz marker shape names (DVZ_MARKER_SHAPE_*) and the rotation (radians, counter-clockwise)
# that makes GSP's 14 shapes from them: triangles are one shape turned.
MARKER_SHAPES: dict[str, tuple[str, float]] = {
    "disc": ("DISC", 0.0),
    "asterisk": ("ASTERISK", 0.0),
    "triangle_up": ("TRIANGLE", 0.0),
    "triangle_left": ("TRIANGLE", np.pi / 2),
    "triangle_down": ("TRIANGLE", np.pi),
    "triangle_right": ("TRIANGLE", -np.pi / 2),
    "square": ("SQUARE", 0.0),
    "cross": ("CROSS", 0.0),
    "club": ("CLUB", 0.0),
    "diamond": ("DIAMOND", 0.0),
    "heart": ("HEART", 0.0),
    "spade": ("SPADE", 0.0),
    "vbar": ("VBAR", 0.0),
    "hbar": ("HBAR", 0.0),
}


def rgb_to_rgba(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> new (H, W, 4) uint8 with alpha 255, in one pass.

    A plain ``rgba[..., :3] = rgb`` copies 3 bytes at a time (~20 ms for 1024×768); reading
    each pixel as an unaligned little-endian uint32 at a 3-byte stride and OR-ing the alpha in
    is a single vectorized pass (~4× faster).
    """
    h, w = rgb.shape[:2]
    n = h * w
    if sys.byteorder != "little" or n == 0:
        out = np.empty((h, w, 4), np.uint8)
        out[..., :3] = rgb
        out[..., 3] = 255
        return out
    padded = np.empty(n * 3 + 1, np.uint8)  # one spare byte: the last pixel's word reads it
    padded[:-1] = np.asarray(rgb).reshape(-1)
    words = as_strided(np.frombuffer(padded.data, np.uint32, count=1), shape=(n,), strides=(3,))
    return np.bitwise_or(words, np.uint32(0xFF000000)).view(np.uint8).reshape(h, w, 4)


def _unmix_tables() -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables of :func:`unmix_alpha`: alpha by the sum over R, G, B of (over white - over
    black) as uint16 (0..765; above: a negative sum wrapped around, opaque), and the straight
    color by ``alpha << 8 | premultiplied`` (fully transparent: 255)."""
    total = np.arange(65536)
    alpha = np.where(total <= 765, 255 - (total + 1) // 3, 255).astype(np.uint16)  # rounded mean
    a, c = np.arange(256.0)[:, None], np.arange(256.0)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        straight = np.where(a > 0, np.clip(np.rint(c * 255.0 / a), 0, 255), 255)
    return alpha, straight.astype(np.uint8).ravel()


_ALPHA_OF_DIFFERENCE, _STRAIGHT_COLOR = _unmix_tables()


def unmix_alpha(over_black: np.ndarray, over_white: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 straight RGBA from two (H, W, 3) uint8 RGB frames of one scene drawn
    over black and over white.

    With "over" blending a pixel of alpha A and premultiplied color P reads P over black and
    P + (1 - A) over white: A is one minus their difference (averaged over R, G, B) and the
    straight color P / A. Fully transparent pixels are (255, 255, 255, 0), as Matplotlib's
    Agg buffer starts. Table lookups and one packing pass (~15 ms at 1024×768, where float
    arithmetic took ten times as long).
    """
    black16, white16 = over_black.astype(np.uint16), over_white.astype(np.uint16)
    difference = (white16[..., 0] + white16[..., 1] + white16[..., 2]) - (black16[..., 0] + black16[..., 1] + black16[..., 2])
    alpha = np.take(_ALPHA_OF_DIFFERENCE, difference)
    rgba = rgb_to_rgba(np.take(_STRAIGHT_COLOR, (alpha << 8)[..., None] | over_black))
    if sys.byteorder != "little" or rgba.size == 0:
        rgba[..., 3] = alpha
        return rgba
    words = rgba.view(np.uint32).reshape(alpha.shape)  # one RGBA word per pixel, A the high byte
    words &= np.uint32(0x00FFFFFF)
    words |= alpha.astype(np.uint32) << 24
    return rgba


class Layer:
    """One Datoviz visual in a panel; subclasses upload their arrays with :meth:`_upload`."""

    kind = "layer"

    def __init__(self, engine: DatovizEngine, panel: Panel, visual: Any, count: int) -> None:
        self.engine = engine
        self.panel = panel
        self.visual = visual
        self.count = count
        self._prints: dict[str, bytes] = {}
        self.uploads = 0  # how many arrays were sent to the GPU (tests and benchmarks read it)

    def _changed(self, name: str, array: np.ndarray) -> bool:
        fp = fingerprint(array)
        if self._prints.get(name) == fp:
            return False
        self._prints[name] = fp
        self.uploads += 1
        self.engine.dirty = True
        return True

    def _upload(
        self,
        name: str,
        array: np.ndarray,
        send: Callable[[np.ndarray], Any],
        convert: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        """Send ``convert(array)`` when ``array``'s content changed since the last upload."""
        if self._changed(name, array):
            send(array if convert is None else convert(array))

    def _xyz(self, positions: np.ndarray) -> np.ndarray:
        return self.panel.place(_xyz(positions))

    def _xy0(self, positions: np.ndarray) -> np.ndarray:
        return self.panel.place(_xy0(positions))

    def show(self, visible: bool) -> None:
        """Show or hide the visual without destroying it."""
        self.engine.c.visual_show(self.visual, bool(visible))


class PointLayer(Layer):
    """Filled discs: positions (N, 3) NDC, diameters (N,) px, colors (N, 4) RGBA."""

    kind = "point"

    def update(self, positions: np.ndarray, sizes: np.ndarray, colors: np.ndarray) -> None:
        c, v, n = self.engine.c, self.visual, self.count
        self._upload("pos", positions, lambda a: c.point_position(v, 0, n, a, 0), self._xyz)
        self._upload("size", sizes, lambda a: c.point_size(v, 0, n, a, 0), _f32)
        self._upload("color", colors, lambda a: c.point_color(v, 0, n, a, 0), _color_u8)


class MarkerLayer(Layer):
    """SDF markers of one shape, with one edge color and width for the whole layer.

    Datoviz bakes the shape and the filled/outline aspect into the pipeline when the visual is
    first drawn (changing them later has no effect), so both are fixed at creation:
    ``engine.layer("marker", panel, n, shape="disc", outline=True)``.
    """

    kind = "marker"

    def __init__(self, engine: DatovizEngine, panel: Panel, visual: Any, count: int,
                 shape: str = "disc", outline: bool = False) -> None:
        super().__init__(engine, panel, visual, count)
        if shape not in MARKER_SHAPES:
            raise ValueError(f"unknown marker shape {shape!r}; expected one of {sorted(MARKER_SHAPES)}")
        self.shape, self.outline = shape, bool(outline)
        c = engine.c
        name, self._turn = MARKER_SHAPES[shape]
        c.marker_mode(visual, c.MARKER_MODE_CODE)
        c.marker_shape(visual, getattr(c, f"MARKER_SHAPE_{name}"))
        c.marker_aspect(visual, c.MARKER_ASPECT_OUTLINE if outline else c.MARKER_ASPECT_FILLED)

    def update(
        self,
        positions: np.ndarray,
        sizes: np.ndarray,
        colors: np.ndarray,
        angles: np.ndarray | None = None,
        edge_color: tuple[int, int, int, int] = (0, 0, 0, 0),
        edge_width: float = 0.0,
    ) -> None:
        """``sizes`` are Datoviz marker sizes in px; ``angles`` in radians, counter-clockwise."""
        c, v, n = self.engine.c, self.visual, self.count
        if angles is None:
            angles = np.broadcast_to(np.zeros(1, np.float32), (n,))
        turn = np.float32(self._turn)
        self._upload("pos", positions, lambda a: c.marker_position(v, 0, n, a, 0), self._xyz)
        self._upload("size", sizes, lambda a: c.marker_size(v, 0, n, a, 0), _f32)
        self._upload("angle", angles, lambda a: c.marker_angle(v, 0, n, a, 0), lambda a: _f32(a) + turn)
        self._upload("color", colors, lambda a: c.marker_color(v, 0, n, a, 0), _color_u8)
        if self._changed("edge", np.array([*edge_color, edge_width], np.float64)):
            c.marker_edgecolor(v, c.cvec4(*[int(x) for x in edge_color]))
            c.marker_linewidth(v, float(edge_width))


_CAPS = {"butt": "BUTT", "round": "ROUND", "square": "SQUARE", "projecting": "SQUARE", "none": "NONE"}
_JOINS = {"miter": "SQUARE", "round": "ROUND"}


class SegmentLayer(Layer):
    """Independent segments: starts and ends (N, 3) NDC, widths (N,) px, colors (N, 4)."""

    kind = "segment"

    def update(
        self,
        starts: np.ndarray,
        ends: np.ndarray,
        widths: np.ndarray,
        colors: np.ndarray,
        cap: str = "butt",
    ) -> None:
        c, v, n = self.engine.c, self.visual, self.count
        both = np.concatenate([_f32(starts, 3), _f32(ends, 3)])
        if self._changed("pos", both):
            both = self.panel.place(both)
            c.segment_position(v, 0, n, both[:n].copy(), both[n:].copy(), 0)
        self._upload("width", widths, lambda a: c.segment_linewidth(v, 0, n, a, 0), _f32)
        self._upload("color", colors, lambda a: c.segment_color(v, 0, n, a, 0), _color_u8)
        if self._changed("cap", np.frombuffer(cap.encode(), np.uint8)):
            kind = getattr(c, f"CAP_{_CAPS[cap]}")
            c.segment_cap(v, kind, kind)


class PathLayer(Layer):
    """Polylines: positions (N, 3) NDC, lengths (P,) vertex counts, per-vertex widths and colors.

    Datoviz joins are miter ("square") or round; a bevel join is drawn as miter by the caller's
    choice (see the adapter, which warns once).
    """

    kind = "path"

    def update(
        self,
        positions: np.ndarray,
        lengths: np.ndarray,
        widths: np.ndarray,
        colors: np.ndarray,
        cap: str = "butt",
        join: str = "miter",
    ) -> None:
        c, v, n = self.engine.c, self.visual, self.count
        lengths = np.ascontiguousarray(lengths, dtype=np.uint32)
        pos = _f32(positions, 3)
        # Datoviz needs all path positions at once, with the lengths, whenever either changes.
        if self._changed("pos", np.concatenate([pos.ravel(), lengths.astype(np.float32)])):
            c.path_position(v, 0, n, self.panel.place(pos), len(lengths), lengths, 0)
        self._upload("width", widths, lambda a: c.path_linewidth(v, 0, n, a, 0), _f32)
        self._upload("color", colors, lambda a: c.path_color(v, 0, n, a, 0), _color_u8)
        if self._changed("style", np.frombuffer(f"{cap}/{join}".encode(), np.uint8)):
            c.path_cap(v, getattr(c, f"CAP_{_CAPS[cap]}"))
            c.path_join(v, getattr(c, f"JOIN_{_JOINS[join]}"))


#: The longest image side drawn, canvas or texture: Vulkan's maxImageDimension2D on lavapipe and
#: most GPUs. Past it Datoviz fails an assertion in C and the process dies, so the renderer
#: refuses a bigger canvas first, and a bigger texture is drawn from every k-th texel.
MAX_IMAGE_SIDE = 16384


def fit_texture(rgba: np.ndarray) -> np.ndarray:
    """``rgba`` (H, W, 4), or every k-th row / column of it when a side is over
    :data:`MAX_IMAGE_SIDE` (k the smallest step that fits it), as a texture Vulkan can hold.
    Its rect stays the same: the picture loses detail no canvas could show, not its place."""
    h, w = rgba.shape[:2]
    ky, kx = -(-h // MAX_IMAGE_SIDE), -(-w // MAX_IMAGE_SIDE)
    return rgba if ky == kx == 1 else np.ascontiguousarray(rgba[::ky, ::kx])


class ImageLayer(Layer):
    """One RGBA image placed in NDC: ``rect = (left, right, bottom, top)``; rows from the top."""

    kind = "image"

    def __init__(self, engine: DatovizEngine, panel: Panel, visual: Any, count: int) -> None:
        super().__init__(engine, panel, visual, count)
        self.texture: Any = None
        self._tex_key: tuple[int, int, str] | None = None

    def update(self, rgba: np.ndarray, rect: tuple[float, float, float, float], interpolation: str = "nearest") -> None:
        c, v = self.engine.c, self.visual
        rgba = fit_texture(_u8(rgba, 4).reshape(rgba.shape[0], rgba.shape[1], 4))
        h, w = rgba.shape[:2]
        key = (w, h, interpolation)
        if self._tex_key != key:
            # A new size or filter needs a new texture; the old one is left to the batch.
            filt = c.FILTER_LINEAR if interpolation == "linear" else c.FILTER_NEAREST
            self.texture = c.texture_2D(
                self.engine.batch, c.FORMAT_R8G8B8A8_UNORM, filt,
                c.SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE, w, h, rgba, 0,
            )
            c.image_texture(v, self.texture)
            self._tex_key = key
            self.engine.dirty = True
            self._prints["texels"] = fingerprint(rgba)
            self.uploads += 1
        elif self._changed("texels", rgba):
            c.texture_data(self.texture, 0, 0, 0, w, h, 1, rgba.nbytes, rgba)
        corners = self.panel.place(np.array([[rect[0], rect[2]], [rect[1], rect[3]]], np.float64))
        (left, bottom), (right, top) = (float(v) for v in corners[0]), (float(v) for v in corners[1])
        geom = np.array([left, top, 0.0, right - left, top - bottom], np.float32)
        if self._changed("rect", geom):
            c.image_position(v, 0, 1, _f32([[left, top, 0.0]], 3), 0)
            c.image_size(v, 0, 1, _f32([[right - left, top - bottom]], 2), 0)
            c.image_anchor(v, 0, 1, _f32([[-1.0, 1.0]], 2), 0)
            c.image_texcoords(v, 0, 1, _f32([[0, 0, 1, 1]], 4), 0)


class MeshLayer(Layer):
    """Unindexed triangles (3N, 3) NDC with per-vertex colors, drawn in the order given.

    Lighting and depth sorting are done by the caller on the CPU (painter's order, as Matplotlib
    does), so the mesh is drawn flat without depth test.
    """

    kind = "mesh"

    def update(self, positions: np.ndarray, colors: np.ndarray) -> None:
        c, v, n = self.engine.c, self.visual, self.count
        self._upload("pos", positions, lambda a: c.mesh_position(v, 0, n, a, 0), self._xy0)
        self._upload("color", colors, lambda a: c.mesh_color(v, 0, n, a, 0), _color_u8)


class PixelLayer(Layer):
    """One-device-pixel dots: positions (N, 3) NDC, colors (N, 4)."""

    kind = "pixel"

    def update(self, positions: np.ndarray, colors: np.ndarray) -> None:
        c, v, n = self.engine.c, self.visual, self.count
        self._upload("pos", positions, lambda a: c.pixel_position(v, 0, n, a, 0), self._xy0)
        self._upload("color", colors, lambda a: c.pixel_color(v, 0, n, a, 0), _color_u8)


_LAYER_FACTORIES: dict[str, tuple[type[Layer], str]] = {
    "point": (PointLayer, "point"),
    "marker": (MarkerLayer, "marker"),
    "segment": (SegmentLayer, "segment"),
    "path": (PathLayer, "path"),
    "image": (ImageLayer, "image"),
    "mesh": (MeshLayer, "mesh"),
    "pixel": (PixelLayer, "pixel"),
}


def clip_rect(rect: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int] | None:
    """The part of pixel rectangle ``rect`` = (x, y, w, h) (top-left origin) inside a ``width``
    × ``height`` figure, or None when none of it is."""
    x, y, w, h = rect
    left, top = max(x, 0), max(y, 0)
    right, bottom = min(x + w, width), min(y + h, height)
    if right <= left or bottom <= top:
        return None
    return left, top, right - left, bottom - top


class Panel:
    """A pixel rectangle of the figure (top-left origin) with a flat background.

    ``rect`` is the rectangle asked for and may extend past the figure's edges; the Datoviz
    panel is ``visible``, its part inside the figure (Datoviz 0.3.5 keeps a panel's offset
    unsigned: a panel past the top or left edge is not drawn at all). Layers still take
    positions in the NDC of ``rect``; :meth:`place` maps them to the NDC of ``visible``.
    """

    def __init__(
        self,
        engine: DatovizEngine,
        handle: Any,
        rect: tuple[int, int, int, int],
        visible: tuple[int, int, int, int] | None = None,
    ) -> None:
        self.engine = engine
        self.handle = handle
        self.rect = rect
        self.visible = rect if visible is None else visible
        self._background: tuple[int, ...] | None = None
        # x' = x * sx + ox, y' = y * sy + oy (NDC of rect -> NDC of visible; y up, rows down).
        self.ndc_map: tuple[float, float, float, float] | None = None
        if self.visible != rect:
            (x, y, w, h), (vx, vy, vw, vh) = rect, self.visible
            self.ndc_map = (
                w / vw, h / vh,
                ((x + w / 2) - (vx + vw / 2)) * 2.0 / vw,
                ((vy + vh / 2) - (y + h / 2)) * 2.0 / vh,
            )

    def place(self, positions: np.ndarray) -> np.ndarray:
        """(N, >=2) positions in the NDC of ``rect`` -> the NDC of the Datoviz panel (a new
        float32 array when the two differ, ``positions`` itself otherwise)."""
        if self.ndc_map is None:
            return positions
        sx, sy, ox, oy = self.ndc_map
        out = np.array(positions, np.float32)
        out[:, 0] = out[:, 0] * np.float32(sx) + np.float32(ox)
        out[:, 1] = out[:, 1] * np.float32(sy) + np.float32(oy)
        return out

    def set_background(self, rgba: tuple[int, int, int, int]) -> None:
        """Fill the panel with an RGBA color (0..255)."""
        rgba = (int(rgba[0]), int(rgba[1]), int(rgba[2]), int(rgba[3]))
        if rgba != self._background:
            self.engine.c.panel_background(self.handle, np.array([rgba] * 4, dtype=np.uint8))
            self._background = rgba
            self.engine.dirty = True


class DatovizEngine:
    """Owns one offscreen Datoviz batch, scene and figure of ``width`` × ``height`` px.

    Every engine of the process renders on one shared Datoviz server (one Vulkan device; see
    :mod:`player.backends.datoviz.server` for why), so engines are cheap to create and close.

    Create panels with :meth:`panel`, layers with :meth:`layer`, fill them with each layer's
    ``update(...)`` and call :meth:`render` for an (H, W, 3) uint8 RGB frame, as often as needed.
    """

    def __init__(self, width: int, height: int) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"Datoviz figure size must be positive, got {width}x{height}")
        self.c = dvz_lib()
        self.server: SharedServer | None = None
        self.objects: ServerObjects | None = None
        self._closed = False
        self.scene: Any = None
        self.batch: Any = None
        self.reset(width, height)

    def reset(self, width: int | None = None, height: int | None = None) -> None:
        """Drop every panel and layer: a new batch, scene and figure on the shared server.

        What the old batch created on the server (canvas, pipelines, buffers, textures) is
        deleted there first, so a long replay that rebuilds its scene often does not grow.
        """
        self._release()
        if width is not None and height is not None:
            self.width, self.height = int(width), int(height)
        # The server first: creating it applies DVZ_LOG_LEVEL, which otherwise lets the batch
        # and scene constructors print their trace logs.
        self.server = shared_server(self.c)
        self.batch = self.c.batch()
        self.scene = self.c.scene(self.batch)
        self.figure = self.c.figure(self.scene, self.width, self.height, 0)
        self.objects = ServerObjects(self.server, self.batch)
        self.dirty = True

    def _release(self) -> None:
        """Delete this engine's objects on the server and free its batch and scene."""
        if self.objects is not None:
            self.objects.release()
            self.objects = None
        if self.scene is not None:
            self.c.scene_destroy(self.scene)
            self.c.batch_destroy(self.batch)
            self.scene = self.batch = None

    def panel(self, x: int, y: int, width: int, height: int) -> Panel:
        """A new panel at pixel rectangle (x, y from the top-left). Later panels draw on top.

        The rectangle may extend past the figure's edges: the part inside is drawn (see
        :class:`Panel`). Raises ValueError when no part of it is inside.
        """
        rect = (int(x), int(y), int(width), int(height))
        visible = clip_rect(rect, self.width, self.height)
        if visible is None:
            raise ValueError(f"panel {rect} lies outside the {self.width}x{self.height} figure")
        handle = self.c.panel(self.figure, *(float(v) for v in visible))
        return Panel(self, handle, rect, visible)

    def layer(self, kind: str, panel: Panel, count: int, **options: Any) -> Layer:
        """A new visual of ``kind`` (point, marker, segment, path, image, mesh, pixel) for ``count`` items."""
        try:
            cls, ctor = _LAYER_FACTORIES[kind]
        except KeyError:
            raise ValueError(f"unknown Datoviz layer kind {kind!r}; expected one of {sorted(_LAYER_FACTORIES)}") from None
        c = self.c
        flags = c.IMAGE_FLAGS_SIZE_NDC if kind == "image" else 0
        visual = getattr(c, ctor)(self.batch, flags)
        if kind == "mesh":
            c.mesh_alloc(visual, int(count), 0)
        elif kind == "path":
            c.path_alloc(visual, int(count))
        else:
            getattr(c, f"{ctor}_alloc")(visual, int(count))
        # Painter's order everywhere (as Matplotlib): with the depth test on, a mesh triangle at
        # the same depth as an earlier one is dropped.
        c.visual_depth(visual, c.DEPTH_TEST_DISABLE)
        if kind == "pixel":
            c.pixel_size(visual, float(options.get("pixel_size", 1.0)))
        c.panel_visual(panel.handle, visual, 0)
        self.dirty = True
        if kind == "marker":
            return MarkerLayer(self, panel, visual, int(count), **options)
        return cls(self, panel, visual, int(count))

    def remove(self, layer: Layer) -> None:
        """Take a layer out of its panel (its GPU memory is released with the batch)."""
        self.c.panel_remove(layer.panel.handle, layer.visual)
        self.dirty = True

    def _grab(self, convert: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Render if anything changed and return ``convert`` of a view of the (H, W, 3) RGB frame.

        The conversion (a copy) runs under the server lock: the frame is Datoviz's memory and
        another engine's grab may reuse it.
        """
        if self._closed:
            raise RuntimeError("this Datoviz engine was closed")
        assert self.server is not None and self.objects is not None
        with LOCK:
            if self.dirty:
                # With nothing changed Datoviz would submit an empty batch (and log an error):
                # the last frame is still in the server's canvas, so grab it again.
                self.objects.render(self.scene)
                self.dirty = False
            ptr = self.c.server_grab(self.server.handle, self.c.figure_id(self.figure), 0)
            if not ptr:
                raise RuntimeError("Datoviz returned no frame (server_grab gave a null pointer)")
            raw = ctypes.cast(ptr, ctypes.POINTER(ctypes.c_uint8))
            return convert(np.ctypeslib.as_array(raw, shape=(self.height, self.width, 3)))

    def render(self) -> np.ndarray:
        """Render the scene and return a copy of the frame as (H, W, 3) uint8 RGB."""
        return self._grab(np.copy)

    def render_rgba(self) -> np.ndarray:
        """Render the scene and return a new (H, W, 4) uint8 RGBA frame (alpha 255)."""
        return self._grab(rgb_to_rgba)

    def close(self) -> None:
        """Delete this engine's objects on the shared server, free its scene (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._release()

    def __del__(self) -> None:
        # An engine dropped without close() would leave its canvas and buffers on the server.
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer (interpreter exit)
            pass
