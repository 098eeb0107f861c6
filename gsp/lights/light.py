"""Light, AmbientLight, PointLight, DirectionalLight."""

from __future__ import annotations

from typing import Any

import numpy as np

from gsp.capture import Captured, new_uuid
from gsp.constants import Constants
from gsp.transforms.transform_chain import TransformChain
from gsp.types._checks import check_count, check_number, check_transbuf
from gsp.types.buffer import Buffer
from gsp.types.buffer_type import BufferType
from gsp.types.color import Color, check_color
from gsp.types.transbuf import TransBuf

__all__ = ["Light", "AmbientLight", "PointLight", "DirectionalLight", "Vec3Like", "vec3_of"]

#: A 3-D point: a vec3 TransBuf of 1 item, or a sequence of 3 numbers.
Vec3Like = TransBuf | tuple[float, float, float] | list[float]


def _check_vec3(owner: str, name: str, value: Any) -> Any:
    if isinstance(value, np.ndarray):  # numbers, as a list: kept as the tuple they make
        if value.shape != (3,):
            raise ValueError(f"{owner}: {name} must have 3 numbers (x, y, z), got an array of shape {value.shape}")
        value = value.tolist()
    if isinstance(value, (tuple, list)):
        if len(value) != 3:
            raise ValueError(f"{owner}: {name} must have 3 numbers (x, y, z), got {len(value)}")
        return tuple(check_number(owner, name, v) for v in value)
    if not isinstance(value, (Buffer, TransformChain)):
        raise TypeError(f"{owner}: {name} must be 3 numbers (a tuple, list or array) or a Buffer or "
                        f"TransformChain of one vec3, got {type(value).__name__}")
    count = check_transbuf(owner, name, value, (BufferType.vec3,))
    check_count(owner, name, count, 1, "light", one_ok=False)
    return value


def _check_run_vec3(owner: str, name: str, value: Any) -> None:
    if isinstance(value, TransformChain):
        count = check_transbuf(owner, name, value, (BufferType.vec3,), resolve_chain=True)
        check_count(owner, name, count, 1, "light", one_ok=False)


class Light(Captured):
    """``Light(color=white, intensity=1.0)``: the base light (also usable as a plain light)."""

    def __init__(self, color: Color | None = None, intensity: float = 1.0) -> None:
        self._uuid = new_uuid()
        self.userData: dict[str, Any] = {}
        name = type(self).__name__
        self._color = check_color(name, "color", Constants.Color.white if color is None else color)
        self._intensity = check_number(name, "intensity", intensity, minimum=0.0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(uuid={self._uuid})"

    def _check_positions_(self, owner: str) -> None:
        """Positions given as transform chains: run, each holds one vec3 (what a renderer reads)."""

    def get_color(self) -> Color:
        """Light color."""
        return self._color

    def set_color(self, color: Color) -> None:
        """Set the light color."""
        self._color = check_color(f"{type(self).__name__}.set_color", "color", color)

    def get_intensity(self) -> float:
        """Intensity (>= 0)."""
        return self._intensity

    def set_intensity(self, intensity: float) -> None:
        """Set the intensity (>= 0)."""
        self._intensity = check_number(f"{type(self).__name__}.set_intensity", "intensity", intensity, minimum=0.0)


class AmbientLight(Light):
    """``AmbientLight(color=white, intensity=1.0)``: lights every face equally."""


class PointLight(Light):
    """``PointLight(position, color=white, intensity=1.0)``: a light at a point."""

    def __init__(self, position: Vec3Like, color: Color | None = None, intensity: float = 1.0) -> None:
        super().__init__(color, intensity)
        self._position = _check_vec3("PointLight", "position", position)

    def _check_positions_(self, owner: str) -> None:
        _check_run_vec3(owner, "position", self._position)

    def get_position(self) -> Vec3Like:
        """Light position."""
        return self._position

    def set_position(self, position: Vec3Like) -> None:
        """Set the light position (1 vec3 or 3 numbers)."""
        self._position = _check_vec3("PointLight.set_position", "position", position)


class DirectionalLight(Light):
    """``DirectionalLight(light_position, target_position, color=white, intensity=1.0)``: parallel rays."""

    def __init__(
        self, light_position: Vec3Like, target_position: Vec3Like, color: Color | None = None, intensity: float = 1.0
    ) -> None:
        super().__init__(color, intensity)
        self._light_position = _check_vec3("DirectionalLight", "light_position", light_position)
        self._target_position = _check_vec3("DirectionalLight", "target_position", target_position)

    def _check_positions_(self, owner: str) -> None:
        _check_run_vec3(owner, "light_position", self._light_position)
        _check_run_vec3(owner, "target_position", self._target_position)

    def get_light_position(self) -> Vec3Like:
        """Where the light comes from."""
        return self._light_position

    def set_light_position(self, light_position: Vec3Like) -> None:
        """Set where the light comes from."""
        self._light_position = _check_vec3("DirectionalLight.set_light_position", "light_position", light_position)

    def get_target_position(self) -> Vec3Like:
        """Where the light points to."""
        return self._target_position

    def set_target_position(self, target_position: Vec3Like) -> None:
        """Set where the light points to."""
        self._target_position = _check_vec3("DirectionalLight.set_target_position", "target_position", target_position)


def vec3_of(value: Vec3Like) -> tuple[float, float, float]:
    """The 3 numbers of a Vec3Like (runs a chain if needed); for backends."""
    if isinstance(value, (tuple, list)):
        x, y, z = (float(v) for v in value)
        return (x, y, z)
    buf = value if isinstance(value, Buffer) else value.run()
    x, y, z = (float(v) for v in buf.read_view()[0])
    return (x, y, z)
