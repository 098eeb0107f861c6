"""Materials: how a Mesh's faces and edges are colored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gsp.capture import Captured, new_uuid
from gsp.constants import FaceCulling
from gsp.core.texture import Texture
from gsp.lights.light import Light
from gsp.types._attributes import AttributeHolder
from gsp.types._checks import check_amounts, check_bool, check_enum, check_number, check_transbuf
from gsp.types.buffer_type import BufferType
from gsp.types.color import Color, check_color
from gsp.types.transbuf import TransBuf

#: A material color: a Color, or an rgba8 Buffer/TransformChain (GSP 0.1 passes buffers).
ColorOrBuf = Color | TransBuf

__all__ = [
    "Material",
    "MeshMaterial",
    "MeshBasicMaterial",
    "MeshNormalMaterial",
    "MeshDepthMaterial",
    "MeshPhongMaterial",
    "MeshTexturedMaterial",
]

_RGBA = (BufferType.rgba8,)
_F32 = (BufferType.float32,)


class Material(AttributeHolder, Captured):
    """Base of all materials: constructor arguments are attributes with get_/set_."""

    def __init__(self) -> None:
        self._uuid = new_uuid()
        self.userData: dict[str, Any] = {}
        self._attrs = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(uuid={self._uuid})"

    def _check_(self, owner: str, attrs: dict[str, Any], only: str | None, resolve: bool) -> None:
        # Each rule looks at one attribute; the face/vertex counts are the mesh's to check.
        for name, value in attrs.items():
            if only is None or only == name:
                _CHECKS[name](owner, name, value, resolve, attrs)

    def check_attributes(self) -> None:
        """Validate everything, running transform chains."""
        self._check_(f"{type(self).__name__}.check_attributes", dict(self._attrs), None, True)


class MeshMaterial(Material):
    """Base of mesh materials: face sorting and culling."""

    def get_face_sorting(self) -> bool:
        """Whether faces are drawn back to front."""
        return self._attrs["face_sorting"]

    def set_face_sorting(self, face_sorting: bool) -> None:
        """Set face sorting."""
        self._set_attribute_("face_sorting", face_sorting)

    def get_face_culling(self) -> FaceCulling:
        """Which faces are hidden."""
        return self._attrs["face_culling"]

    def set_face_culling(self, face_culling: FaceCulling) -> None:
        """Set which faces are hidden."""
        self._set_attribute_("face_culling", face_culling)


class _EdgedMaterial(MeshMaterial):
    """Accessors of the materials that draw triangle edges (all but the textured one)."""

    def get_edge_colors(self) -> TransBuf:
        """Edge colors (rgba8, 1 or one per face)."""
        return self._attrs["edge_colors"]

    def set_edge_colors(self, edge_colors: TransBuf) -> None:
        """Set the edge colors."""
        self._set_attribute_("edge_colors", edge_colors)

    def get_edge_widths(self) -> TransBuf:
        """Edge widths in pt (float32)."""
        return self._attrs["edge_widths"]

    def set_edge_widths(self, edge_widths: TransBuf) -> None:
        """Set the edge widths in pt."""
        self._set_attribute_("edge_widths", edge_widths)


class MeshBasicMaterial(_EdgedMaterial):
    """``MeshBasicMaterial(face_colors, edge_colors, edge_widths, face_sorting, face_culling)``: flat colors."""

    def __init__(
        self,
        face_colors: TransBuf,
        edge_colors: TransBuf,
        edge_widths: TransBuf,
        face_sorting: bool,
        face_culling: FaceCulling,
    ) -> None:
        super().__init__()
        self._init_attributes_(
            {
                "face_colors": face_colors,
                "edge_colors": edge_colors,
                "edge_widths": edge_widths,
                "face_sorting": face_sorting,
                "face_culling": face_culling,
            }
        )

    def get_face_colors(self) -> TransBuf:
        """Face colors (rgba8, 1 or one per face)."""
        return self._attrs["face_colors"]

    def set_face_colors(self, face_colors: TransBuf) -> None:
        """Set the face colors."""
        self._set_attribute_("face_colors", face_colors)


class MeshNormalMaterial(_EdgedMaterial):
    """``MeshNormalMaterial(edge_colors, edge_widths, face_sorting, face_culling)``: colors from normals."""

    def __init__(self, edge_colors: TransBuf, edge_widths: TransBuf, face_sorting: bool, face_culling: FaceCulling) -> None:
        super().__init__()
        self._init_attributes_(
            {
                "edge_colors": edge_colors,
                "edge_widths": edge_widths,
                "face_sorting": face_sorting,
                "face_culling": face_culling,
            }
        )


class MeshDepthMaterial(_EdgedMaterial):
    """``MeshDepthMaterial(edge_colors, edge_widths, face_sorting, face_culling)``: gray levels from depth."""

    def __init__(self, edge_colors: TransBuf, edge_widths: TransBuf, face_sorting: bool, face_culling: FaceCulling) -> None:
        super().__init__()
        self._init_attributes_(
            {
                "edge_colors": edge_colors,
                "edge_widths": edge_widths,
                "face_sorting": face_sorting,
                "face_culling": face_culling,
            }
        )


class _LitMaterial(MeshMaterial):
    """Accessors of the lit materials (Phong, textured)."""

    def get_specular_color(self) -> ColorOrBuf:
        """Specular color."""
        return self._attrs["specular_color"]

    def set_specular_color(self, specular_color: ColorOrBuf) -> None:
        """Set the specular color."""
        self._set_attribute_("specular_color", specular_color)

    def get_shininess(self) -> float:
        """Phong exponent (>= 0)."""
        return self._attrs["shininess"]

    def set_shininess(self, shininess: float) -> None:
        """Set the Phong exponent."""
        self._set_attribute_("shininess", shininess)

    def get_lights(self) -> list[Light]:
        """The lights."""
        return self._attrs["lights"]

    def set_lights(self, lights: Sequence[Light]) -> None:
        """Set the lights."""
        self._set_attribute_("lights", lights)


class MeshPhongMaterial(_LitMaterial, _EdgedMaterial):
    """``MeshPhongMaterial(diffuse_color, specular_color, shininess, lights, edge_colors, edge_widths, face_sorting, face_culling)``."""

    def __init__(
        self,
        diffuse_color: ColorOrBuf,
        specular_color: ColorOrBuf,
        shininess: float,
        lights: Sequence[Light],
        edge_colors: TransBuf,
        edge_widths: TransBuf,
        face_sorting: bool,
        face_culling: FaceCulling,
    ) -> None:
        super().__init__()
        self._init_attributes_(
            {
                "diffuse_color": diffuse_color,
                "specular_color": specular_color,
                "shininess": shininess,
                "lights": lights,
                "edge_colors": edge_colors,
                "edge_widths": edge_widths,
                "face_sorting": face_sorting,
                "face_culling": face_culling,
            }
        )

    def get_diffuse_color(self) -> ColorOrBuf:
        """Diffuse color."""
        return self._attrs["diffuse_color"]

    def set_diffuse_color(self, diffuse_color: ColorOrBuf) -> None:
        """Set the diffuse color."""
        self._set_attribute_("diffuse_color", diffuse_color)


class MeshTexturedMaterial(_LitMaterial):
    """``MeshTexturedMaterial(texture, color, specular_color, shininess, lights, face_sorting, face_culling)``."""

    def __init__(
        self,
        texture: Texture,
        color: ColorOrBuf,
        specular_color: ColorOrBuf,
        shininess: float,
        lights: Sequence[Light],
        face_sorting: bool,
        face_culling: FaceCulling,
    ) -> None:
        super().__init__()
        self._init_attributes_(
            {
                "texture": texture,
                "color": color,
                "specular_color": specular_color,
                "shininess": shininess,
                "lights": lights,
                "face_sorting": face_sorting,
                "face_culling": face_culling,
            }
        )

    def get_texture(self) -> Texture:
        """The texture (sampled with the geometry's uvs)."""
        return self._attrs["texture"]

    def set_texture(self, texture: Texture) -> None:
        """Set the texture."""
        self._set_attribute_("texture", texture)

    def get_color(self) -> ColorOrBuf:
        """Color multiplied with the texture."""
        return self._attrs["color"]

    def set_color(self, color: ColorOrBuf) -> None:
        """Set the color multiplied with the texture."""
        self._set_attribute_("color", color)


# ---- one rule per attribute name: (owner, name, value, resolve, attrs) -> None; may normalise attrs ----
def _rgba(owner: str, name: str, value: Any, resolve: bool, attrs: dict[str, Any]) -> None:
    check_transbuf(owner, name, value, _RGBA, resolve_chain=resolve)


def _widths(owner: str, name: str, value: Any, resolve: bool, attrs: dict[str, Any]) -> None:
    check_transbuf(owner, name, value, _F32, resolve_chain=resolve)
    if resolve:
        check_amounts(f"{owner}: {name}", value)


def _color(owner: str, name: str, value: Any, resolve: bool, attrs: dict[str, Any]) -> None:
    # A Color, or (as GSP 0.1 passes it) an rgba8 TransBuf; its count is the mesh's to check.
    if isinstance(value, (bytes, bytearray)):
        attrs[name] = check_color(owner, name, value)
    elif isinstance(value, TransBuf):
        check_transbuf(owner, name, value, _RGBA, resolve_chain=resolve)
    else:
        raise TypeError(
            f"{owner}: {name} must be a Color (bytearray of 4 bytes RGBA 0..255) or an rgba8 Buffer/TransformChain, "
            f"got {type(value).__name__}"
        )


def _shininess(owner: str, name: str, value: Any, resolve: bool, attrs: dict[str, Any]) -> None:
    attrs[name] = check_number(owner, name, value, minimum=0.0)


def _lights(owner: str, name: str, value: Any, resolve: bool, attrs: dict[str, Any]) -> None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(light, Light) for light in value):
        raise TypeError(f"{owner}: lights must be a list of Light, got {value!r:.80}")
    attrs[name] = list(value)
    if resolve:
        for i, light in enumerate(value):
            light._check_positions_(f"{owner}: {name}[{i}]")


def _texture(owner: str, name: str, value: Any, resolve: bool, attrs: dict[str, Any]) -> None:
    if not isinstance(value, Texture):
        raise TypeError(f"{owner}: texture must be a Texture, got {type(value).__name__}")
    if resolve:
        value._check_(f"{owner}: {name}", dict(value._attrs), None, True)


def _face_sorting(owner: str, name: str, value: Any, resolve: bool, attrs: dict[str, Any]) -> None:
    attrs[name] = check_bool(owner, name, value)


def _face_culling(owner: str, name: str, value: Any, resolve: bool, attrs: dict[str, Any]) -> None:
    check_enum(owner, name, value, FaceCulling)


_CHECKS = {
    "face_colors": _rgba,
    "edge_colors": _rgba,
    "edge_widths": _widths,
    "diffuse_color": _color,
    "specular_color": _color,
    "color": _color,
    "shininess": _shininess,
    "lights": _lights,
    "texture": _texture,
    "face_sorting": _face_sorting,
    "face_culling": _face_culling,
}
