"""``gsp.lights.ambient_light``: the GSP 0.1 module path of AmbientLight (defined in ``gsp.lights.light``)."""

from gsp.lights.light import AmbientLight

__all__ = ["AmbientLight"]
