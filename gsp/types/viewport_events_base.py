"""ViewportEventsBase: input events of one viewport, dispatched to subscribers and reported to the capture seam."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from gsp.capture import Captured, new_uuid, notify
from gsp.core.event import Event
from gsp.core.viewport import Viewport
from gsp.types.renderer_base import RendererBase
from gsp.types.viewport_events_types import EVENT_PAYLOADS, CanvasResizeEvent, KeyEvent, MouseEvent

__all__ = ["ViewportEventsBase", "KeyEvent", "MouseEvent", "CanvasResizeEvent"]


class ViewportEventsBase(Captured):
    """``ViewportEventsBase(renderer, viewport)``: one Event per input kind.

    Backends call :meth:`_dispatch_event` when the window reports input; it records the event
    (``ViewportEvents.event`` with the payload as a dict) and calls the subscribers. Replay
    calls :meth:`event` with the recorded dict.
    """

    _capture_family_ = "ViewportEvents"

    def __init__(self, renderer: RendererBase, viewport: Viewport) -> None:
        if not isinstance(renderer, RendererBase):
            raise TypeError(f"{type(self).__name__}: renderer must be a RendererBase, got {type(renderer).__name__}")
        if not isinstance(viewport, Viewport):
            raise TypeError(f"{type(self).__name__}: viewport must be a Viewport, got {type(viewport).__name__}")
        self._uuid = new_uuid()
        self._renderer = renderer
        self._viewport = viewport
        self.key_press_event: Event[Callable[[KeyEvent], None]] = Event()
        self.key_release_event: Event[Callable[[KeyEvent], None]] = Event()
        self.button_press_event: Event[Callable[[MouseEvent], None]] = Event()
        self.button_release_event: Event[Callable[[MouseEvent], None]] = Event()
        self.mouse_move_event: Event[Callable[[MouseEvent], None]] = Event()
        self.mouse_scroll_event: Event[Callable[[MouseEvent], None]] = Event()
        self.canvas_resize_event: Event[Callable[[CanvasResizeEvent], None]] = Event()

    def get_renderer(self) -> RendererBase:
        """The renderer whose window produces the events."""
        return self._renderer

    def get_viewport(self) -> Viewport:
        """The viewport the events belong to."""
        return self._viewport

    def close(self) -> None:
        """Stop listening (backends disconnect their window callbacks)."""

    def _dispatch_event(self, event_name: str, payload: Any) -> None:
        """Report ``payload`` (a dataclass of :data:`EVENT_PAYLOADS`) and call the subscribers."""
        self._payload_class(event_name)
        notify(self, "event", event_name, dataclasses.asdict(payload))
        getattr(self, event_name).dispatch(payload)

    def event(self, event_name: str, payload: dict[str, Any]) -> None:
        """Dispatch a recorded event (``payload`` as a dict) to the subscribers, as if it came from the window."""
        cls = self._payload_class(event_name)
        if not isinstance(payload, dict):
            raise TypeError(f"ViewportEvents.event: payload must be a dict, got {type(payload).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(payload) - names
        if unknown:
            raise ValueError(f"ViewportEvents.event: {event_name} payload has unknown fields {sorted(unknown)}")
        try:
            obj = cls(**payload)
        except TypeError as exc:
            raise ValueError(f"ViewportEvents.event: bad {event_name} payload: {exc}") from None
        getattr(self, event_name).dispatch(obj)

    def _payload_class(self, event_name: str) -> type:
        cls = EVENT_PAYLOADS.get(event_name)
        if cls is None:
            raise ValueError(f"ViewportEvents: unknown event {event_name!r}; known: {sorted(EVENT_PAYLOADS)}")
        return cls
