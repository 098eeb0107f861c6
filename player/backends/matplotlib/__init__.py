"""The Matplotlib backend: ``MatplotlibRenderer``, ``MatplotlibAnimator``, ``MatplotlibViewportEvents``.

``register()`` registers them under the name ``"matplotlib"`` (the ``gsp.renderers`` entry point).
"""

from __future__ import annotations

from player.backends.matplotlib.renderer import MatplotlibRenderer

__all__ = ["MatplotlibRenderer", "MatplotlibAnimator", "MatplotlibViewportEvents", "register"]


def __getattr__(name: str) -> object:
    # The animator and events need more of gsp: import them only when asked for.
    if name == "MatplotlibAnimator":
        from player.backends.matplotlib.animator import MatplotlibAnimator

        return MatplotlibAnimator
    if name == "MatplotlibViewportEvents":
        from player.backends.matplotlib.events import MatplotlibViewportEvents

        return MatplotlibViewportEvents
    raise AttributeError(name)


def register() -> None:
    """Register the Matplotlib backend under the name ``"matplotlib"``."""
    from gsp.utils.renderer_registry import RendererRegistry
    from player.backends.matplotlib.animator import MatplotlibAnimator
    from player.backends.matplotlib.events import MatplotlibViewportEvents

    RendererRegistry.register_renderer("matplotlib", MatplotlibRenderer, MatplotlibViewportEvents, MatplotlibAnimator)
