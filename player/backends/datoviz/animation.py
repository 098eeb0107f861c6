"""Animator and viewport events of the Datoviz backend (offscreen: no window, no live input)."""

from __future__ import annotations

from typing import Any

from gsp.types.animator_base import AnimatorBase
from gsp.types.viewport_events_base import ViewportEventsBase

__all__ = ["DatovizAnimator", "DatovizViewportEvents"]


class DatovizAnimator(AnimatorBase):
    """The base class's headless frame loop, rendering each frame with the Datoviz renderer.

    Datoviz 0.3.5 renders repeated frames only offscreen here (its window loop needs a display),
    so there is no live window: run the animator headless (frames, video export).
    """

    def _has_display(self) -> bool:
        # Offscreen only: ``start`` always runs the headless loop (configure_headless sets its length).
        return False

    def _run_live(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the Datoviz backend renders offscreen only: run the animator headless")


class DatovizViewportEvents(ViewportEventsBase):
    """No input device offscreen: events arrive only through ``dispatch`` (e.g. replayed ones)."""
