"""Bufferx: the GSP 0.1 numpy helper (``gsp_extra.bufferx.Bufferx``) for our Buffer."""

from __future__ import annotations

from typing import Any

import numpy as np

from gsp.types.buffer import Buffer
from gsp.types.buffer_type import BufferType

__all__ = ["Bufferx"]


class Bufferx:
    """Static numpy conversions, same names and arguments as GSP 0.1's ``Bufferx``."""

    @staticmethod
    def to_numpy(buffer: Buffer) -> np.ndarray:
        """The buffer in numpy form (see :class:`BufferType`): a view sharing the buffer's memory."""
        if not isinstance(buffer, Buffer):
            raise TypeError(f"Bufferx.to_numpy: expected a Buffer, got {type(buffer).__name__}")
        return buffer.to_numpy()

    @staticmethod
    def from_numpy(array_numpy: Any, bufferType: BufferType) -> Buffer:  # noqa: N803 - GSP 0.1 name
        """A new Buffer holding a copy of the array converted to ``bufferType``."""
        return Buffer.from_numpy(array_numpy, bufferType)

    @staticmethod
    def mat4_identity() -> Buffer:
        """A mat4 Buffer of count 1 holding the identity."""
        return Buffer.from_numpy(np.eye(4, dtype=np.float32), BufferType.mat4)
