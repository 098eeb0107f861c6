"""``gsp.lights.directional_light``: the GSP 0.1 module path of DirectionalLight (defined in ``gsp.lights.light``)."""

from gsp.lights.light import DirectionalLight

__all__ = ["DirectionalLight"]
