"""TransBufUtils: get the data behind a TransBuf."""

from __future__ import annotations

import numpy as np

from gsp.transforms.transform_chain import TransformChain
from gsp.types.buffer import Buffer
from gsp.types.transbuf import TransBuf

__all__ = ["TransBufUtils"]


class TransBufUtils:
    """Resolve a Buffer or TransformChain to a Buffer (chains run and are checked against their declaration)."""

    @staticmethod
    def to_buffer(transbuf: TransBuf) -> Buffer:
        """The Buffer itself, or the result of ``chain.run()``."""
        if isinstance(transbuf, Buffer):
            return transbuf
        if isinstance(transbuf, TransformChain):
            return transbuf.run()
        raise TypeError(f"TransBufUtils.to_buffer: expected a Buffer or TransformChain, got {type(transbuf).__name__}")

    @staticmethod
    def to_numpy(transbuf: TransBuf) -> np.ndarray:
        """The resolved buffer in numpy form (a view of the Buffer's memory)."""
        return TransBufUtils.to_buffer(transbuf).to_numpy()
