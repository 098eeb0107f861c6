"""Lights for Phong and textured mesh materials."""

from gsp.lights.light import AmbientLight, DirectionalLight, Light, PointLight

__all__ = ["Light", "AmbientLight", "PointLight", "DirectionalLight"]
