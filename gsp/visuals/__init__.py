"""Visuals: what can be drawn."""

from gsp.visuals.image import Image
from gsp.visuals.markers import Markers
from gsp.visuals.mesh import Mesh
from gsp.visuals.paths import Paths
from gsp.visuals.pixels import Pixels
from gsp.visuals.points import Points
from gsp.visuals.segments import Segments
from gsp.visuals.texts import Texts

__all__ = ["Image", "Pixels", "Points", "Paths", "Segments", "Markers", "Texts", "Mesh"]
