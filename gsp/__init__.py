"""gsp: the GSP 0.1 scene API (Canvas, Viewport, Buffer, visuals, ...) with a capture seam.

Every public state-changing call can be observed through :mod:`gsp.capture`; ``gsp`` itself
knows nothing of recording, and imports neither Matplotlib nor Datoviz.
"""

from gsp import capture, constants, core, geometry, lights, materials, transforms, types, utils, visuals
from gsp.constants import Constants

__all__ = [
    "Constants",
    "capture",
    "constants",
    "core",
    "geometry",
    "lights",
    "materials",
    "transforms",
    "types",
    "utils",
    "visuals",
]

__version__ = "0.1.0"
