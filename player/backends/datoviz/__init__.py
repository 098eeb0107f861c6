"""The Datoviz backend: GSP scenes rendered by Datoviz (Vulkan), offscreen.

Importing this package needs neither Datoviz nor Vulkan; the renderer imports them when it is
first used and raises :class:`DatovizUnavailable` with what to install where they are missing.
Public names (imported on first access): ``DatovizRenderer``, ``DatovizAnimator``,
``DatovizViewportEvents``, ``register``.
"""

from __future__ import annotations

from typing import Any

from player.backends.datoviz._lib import DatovizUnavailable, datoviz_available

__all__ = [
    "DatovizRenderer",
    "DatovizAnimator",
    "DatovizViewportEvents",
    "DatovizUnavailable",
    "datoviz_available",
    "register",
]


def __getattr__(name: str) -> Any:
    # Lazy: the renderer module pulls in gsp and numpy-heavy preparation code, not Datoviz itself.
    if name == "DatovizRenderer":
        from player.backends.datoviz.renderer import DatovizRenderer

        return DatovizRenderer
    if name in ("DatovizAnimator", "DatovizViewportEvents"):
        from player.backends.datoviz import animation

        return getattr(animation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register() -> None:
    """Register the ``"datoviz"`` backend in GSP's renderer registry."""
    from gsp.utils.renderer_registry import RendererRegistry
    from player.backends.datoviz.animation import DatovizAnimator, DatovizViewportEvents
    from player.backends.datoviz.renderer import DatovizRenderer

    RendererRegistry.register_renderer("datoviz", DatovizRenderer, DatovizViewportEvents, DatovizAnimator)
