"""TransBuf: every data slot of a visual takes a Buffer or a TransformChain."""

from __future__ import annotations

from gsp.transforms.transform_chain import TransformChain
from gsp.types.buffer import Buffer

__all__ = ["TransBuf"]

TransBuf = Buffer | TransformChain
