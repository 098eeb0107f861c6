"""Helpers: colormaps, groups, matrices, TransBuf resolution, units, UUIDs.

``gsp.utils.renderer_registry.RendererRegistry`` (alias module ``renderer_registery``) and
``gsp.utils.bufferx.Bufferx`` are imported from their modules.
"""

from gsp.utils.cmap_utils import CmapUtils
from gsp.utils.group_utils import GroupUtils
from gsp.utils.math_utils import MathUtils
from gsp.utils.transbuf_utils import TransBufUtils
from gsp.utils.unit_utils import UnitUtils
from gsp.utils.uuid_utils import UuidUtils

__all__ = ["CmapUtils", "GroupUtils", "MathUtils", "TransBufUtils", "UnitUtils", "UuidUtils"]
