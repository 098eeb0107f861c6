"""``gsp.lights.point_light``: the GSP 0.1 module path of PointLight (defined in ``gsp.lights.light``)."""

from gsp.lights.light import PointLight

__all__ = ["PointLight"]
