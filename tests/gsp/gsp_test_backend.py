"""A tiny real backend for testing the base classes: it 'draws' by listing what it was given."""

from __future__ import annotations

from collections.abc import Sequence

from gsp.core import Camera, Viewport
from gsp.types.animator_base import AnimatorBase
from gsp.types.renderer_base import RendererBase
from gsp.types.transbuf import TransBuf
from gsp.types.viewport_events_base import ViewportEventsBase
from gsp.types.visual_base import VisualBase


class ListingRenderer(RendererBase):
    """Returns a byte string naming the visuals; counts renders and clears."""

    def __init__(self, canvas) -> None:  # type: ignore[no-untyped-def]
        super().__init__(canvas)
        self.renders = 0
        self.clears = 0

    def _render(
        self,
        viewports: Sequence[Viewport],
        visuals: Sequence[VisualBase],
        model_matrices: Sequence[TransBuf],
        cameras: Sequence[Camera],
    ) -> bytes:
        self.renders += 1
        return ",".join(type(v).__name__ for v in visuals).encode()

    def clear(self) -> None:
        super().clear()
        self.clears += 1


class ListingAnimator(AnimatorBase):
    """Uses the base class's loops unchanged."""


class ListingViewportEvents(ViewportEventsBase):
    """Uses the base class's dispatch unchanged."""
