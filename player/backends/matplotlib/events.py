"""MatplotlibViewportEvents: Matplotlib window input turned into GSP viewport events.

The figure's ``mpl_connect`` events are mapped to the GSP events of one viewport, with pointer
positions in that viewport's NDC (-1..1, y up), measured on the picture shown (a window the user
resized shows the canvas stretched to its size). Pointer and key events are dispatched only while
the pointer is over the viewport; resizes are dispatched always. Dispatching goes through the
base class, which reports each event to the capture seam.
"""

from __future__ import annotations

from typing import Any

from gsp.types.viewport_events_base import CanvasResizeEvent, KeyEvent, MouseEvent, ViewportEventsBase

__all__ = ["MatplotlibViewportEvents"]

# Matplotlib event name -> GSP event name
_MOUSE = {
    "button_press_event": "button_press_event",
    "button_release_event": "button_release_event",
    "motion_notify_event": "mouse_move_event",
    "scroll_event": "mouse_scroll_event",
}
_KEYS = {"key_press_event": "key_press_event", "key_release_event": "key_release_event"}


class MatplotlibViewportEvents(ViewportEventsBase):
    """Input events of one viewport of a :class:`~player.backends.matplotlib.MatplotlibRenderer`."""

    def __init__(self, renderer: Any, viewport: Any) -> None:
        super().__init__(renderer, viewport)
        figure = renderer.get_figure()
        self._canvas = figure.canvas
        self._connections: list[int] = []
        # Plain functions, not bound methods: Matplotlib holds a bound method by a weak
        # reference, so a ViewportEvents the script kept no reference to (one per viewport,
        # made in a loop, only its subscribers kept) was collected and its events went nowhere.
        # The figure keeps it alive until close() disconnects it.
        for mpl_name in _MOUSE:
            self._connections.append(self._canvas.mpl_connect(mpl_name, lambda event: self._on_mouse(event)))
        for mpl_name in _KEYS:
            self._connections.append(self._canvas.mpl_connect(mpl_name, lambda event: self._on_key(event)))
        self._connections.append(self._canvas.mpl_connect("resize_event", lambda event: self._on_resize(event)))

    def close(self) -> None:
        """Disconnect from the figure."""
        for cid in self._connections:
            self._canvas.mpl_disconnect(cid)
        self._connections.clear()
        super().close()

    def to_ndc(self, x_px: float, y_px: float) -> tuple[float, float]:
        """Canvas pixels (from the bottom-left) -> this viewport's NDC."""
        vp = self.get_viewport()
        x_ndc = (x_px - vp.get_x()) / vp.get_width() * 2.0 - 1.0
        y_ndc = (y_px - vp.get_y()) / vp.get_height() * 2.0 - 1.0
        return float(x_ndc), float(y_ndc)

    def _canvas_px(self, x: float, y: float) -> tuple[float, float]:
        """Window pixels -> canvas pixels. The window's pixels are the figure's: more than the
        canvas's on a HiDPI or scaled screen, and as many as the user made them by resizing the
        window, where the figure (and the picture shown) stretches to fill it."""
        canvas = self.get_renderer().get_canvas()
        shown_w, shown_h = self._canvas.get_width_height(physical=True)  # whole pixels, as drawn
        return (x * float(canvas.get_width()) / max(shown_w, 1), y * float(canvas.get_height()) / max(shown_h, 1))

    def _inside(self, event: Any) -> tuple[float, float] | None:
        if event.x is None or event.y is None:
            return None
        x_ndc, y_ndc = self.to_ndc(*self._canvas_px(event.x, event.y))
        if -1.0 <= x_ndc <= 1.0 and -1.0 <= y_ndc <= 1.0:
            return x_ndc, y_ndc
        return None

    def _on_mouse(self, event: Any) -> None:
        where = self._inside(event)
        if where is None:
            return
        button = int(event.button) if event.button is not None and event.name != "scroll_event" else 0
        self._dispatch_event(
            _MOUSE[event.name],
            MouseEvent(
                viewport_uuid=self.get_viewport().get_uuid(),
                event_type=_MOUSE[event.name],
                x_ndc=where[0],
                y_ndc=where[1],
                left_button=button == 1,
                middle_button=button == 2,
                right_button=button == 3,
                scroll_steps=float(getattr(event, "step", 0.0) or 0.0),
            ),
        )

    def _on_key(self, event: Any) -> None:
        if self._inside(event) is None or event.key is None:
            return
        name = _KEYS[event.name]
        self._dispatch_event(name, KeyEvent(viewport_uuid=self.get_viewport().get_uuid(), event_type=name, key_name=str(event.key)))

    def _on_resize(self, event: Any) -> None:
        self._dispatch_event(
            "canvas_resize_event",
            CanvasResizeEvent(
                viewport_uuid=self.get_viewport().get_uuid(),
                event_type="canvas_resize_event",
                canvas_width_px=int(event.width),  # Matplotlib's are canvas pixels already
                canvas_height_px=int(event.height),
            ),
        )
