"""MathUtils: 4×4 transform matrices (float32) for model, view and projection.

Convention: column vectors. A matrix ``M`` is a numpy (4, 4) array indexed ``M[row, col]``
and a point transforms as ``p' = M @ p`` with ``p = (x, y, z, 1)``; the translation sits in
``M[:3, 3]``. Transforms compose right to left: ``p_ndc = P @ V @ M @ p`` then divide by w.
A mat4 Buffer stores the array's 16 floats in that (row-major) order, so
``buffer.to_numpy()[0]`` gives ``M`` back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from gsp.types.buffer import Buffer
from gsp.types.buffer_type import BufferType

__all__ = ["MathUtils"]


def _f32(m: np.ndarray) -> np.ndarray:
    return np.asarray(m, dtype=np.float32)


class MathUtils:
    """Matrix builders; all return (4, 4) float32 arrays (see the module docstring for the convention)."""

    @staticmethod
    def identity() -> np.ndarray:
        """The identity."""
        return np.eye(4, dtype=np.float32)

    @staticmethod
    def translation(x: float, y: float, z: float) -> np.ndarray:
        """Move by (x, y, z)."""
        m = np.eye(4)
        m[:3, 3] = (x, y, z)
        return _f32(m)

    @staticmethod
    def scale(sx: float, sy: float | None = None, sz: float | None = None) -> np.ndarray:
        """Scale per axis (one argument: uniform)."""
        sy = sx if sy is None else sy
        sz = sx if sz is None else sz
        return _f32(np.diag([sx, sy, sz, 1.0]))

    @staticmethod
    def rotation(angle_deg: float, axis: Sequence[float]) -> np.ndarray:
        """Rotate by ``angle_deg`` counter-clockwise (right hand) around ``axis``."""
        a = np.asarray(axis, dtype=np.float64)
        norm = np.linalg.norm(a)
        if a.shape != (3,) or norm == 0:
            raise ValueError(f"MathUtils.rotation: axis must be a non-zero 3-vector, got {axis!r}")
        x, y, z = a / norm
        c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
        t = 1.0 - c
        m = np.eye(4)
        m[:3, :3] = [
            [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
            [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
            [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
        ]
        return _f32(m)

    @staticmethod
    def rotation_x(angle_deg: float) -> np.ndarray:
        """Rotate around the x axis."""
        return MathUtils.rotation(angle_deg, (1.0, 0.0, 0.0))

    @staticmethod
    def rotation_y(angle_deg: float) -> np.ndarray:
        """Rotate around the y axis."""
        return MathUtils.rotation(angle_deg, (0.0, 1.0, 0.0))

    @staticmethod
    def rotation_z(angle_deg: float) -> np.ndarray:
        """Rotate around the z axis."""
        return MathUtils.rotation(angle_deg, (0.0, 0.0, 1.0))

    @staticmethod
    def look_at(eye: Sequence[float], target: Sequence[float], up: Sequence[float] = (0.0, 1.0, 0.0)) -> np.ndarray:
        """View matrix of a camera at ``eye`` looking at ``target`` (camera looks down its -z)."""
        e, t, u = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
        forward = t - e
        if np.linalg.norm(forward) == 0:
            raise ValueError("MathUtils.look_at: eye and target are the same point")
        f = forward / np.linalg.norm(forward)
        side = np.cross(f, u)
        if np.linalg.norm(side) == 0:
            raise ValueError("MathUtils.look_at: up is parallel to the viewing direction")
        s = side / np.linalg.norm(side)
        up2 = np.cross(s, f)
        m = np.eye(4)
        m[0, :3], m[1, :3], m[2, :3] = s, up2, -f
        m[:3, 3] = -m[:3, :3] @ e
        return _f32(m)

    @staticmethod
    def perspective(fovy_deg: float, aspect: float, near: float, far: float) -> np.ndarray:
        """OpenGL-style perspective projection (NDC z in -1..1)."""
        if not (0 < near < far) or aspect <= 0 or not (0 < fovy_deg < 180):
            raise ValueError(
                f"MathUtils.perspective: need 0 < fovy < 180, aspect > 0, 0 < near < far; got "
                f"fovy={fovy_deg}, aspect={aspect}, near={near}, far={far}"
            )
        f = 1.0 / math.tan(math.radians(fovy_deg) / 2.0)
        m = np.zeros((4, 4))
        m[0, 0], m[1, 1] = f / aspect, f
        m[2, 2], m[2, 3] = (far + near) / (near - far), 2.0 * far * near / (near - far)
        m[3, 2] = -1.0
        return _f32(m)

    @staticmethod
    def ortho(left: float, right: float, bottom: float, top: float, near: float, far: float) -> np.ndarray:
        """Orthographic projection of the box onto NDC -1..1."""
        if left == right or bottom == top or near == far:
            raise ValueError("MathUtils.ortho: the box must have non-zero width, height and depth")
        m = np.eye(4)
        m[0, 0], m[1, 1], m[2, 2] = 2.0 / (right - left), 2.0 / (top - bottom), -2.0 / (far - near)
        m[:3, 3] = (-(right + left) / (right - left), -(top + bottom) / (top - bottom), -(far + near) / (far - near))
        return _f32(m)

    @staticmethod
    def mvp(model: np.ndarray, view: np.ndarray, projection: np.ndarray) -> np.ndarray:
        """P @ V @ M."""
        return _f32(np.asarray(projection, np.float64) @ np.asarray(view, np.float64) @ np.asarray(model, np.float64))

    @staticmethod
    def apply(matrix: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Transform (N, 3) points by a 4×4 matrix, dividing by w: returns (N, 3) float32."""
        p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        h = np.c_[p, np.ones(len(p))] @ np.asarray(matrix, dtype=np.float64).T
        return _f32(h[:, :3] / h[:, 3:4])

    @staticmethod
    def to_buffer(*matrices: np.ndarray) -> Buffer:
        """A mat4 Buffer holding the given (4, 4) matrices in order."""
        return Buffer.from_numpy(np.stack([np.asarray(m, np.float32) for m in matrices]), BufferType.mat4)

    @staticmethod
    def from_buffer(buffer: Buffer, index: int = 0) -> np.ndarray:
        """Matrix ``index`` of a mat4 Buffer as a (4, 4) float32 array (a copy)."""
        if buffer.get_type() is not BufferType.mat4:
            raise TypeError(f"MathUtils.from_buffer: expected a mat4 Buffer, got {buffer.get_type().name}")
        return buffer.read_view()[index].copy()
