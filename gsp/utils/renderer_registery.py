"""Alias of :mod:`gsp.utils.renderer_registry` under its GSP 0.1 spelling."""

from gsp.utils.renderer_registry import RendererEntry, RendererRegistry

__all__ = ["RendererRegistry", "RendererEntry"]
