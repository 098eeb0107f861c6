"""Payloads of viewport input events (plain dataclasses, so they record as dicts)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KeyEvent", "MouseEvent", "CanvasResizeEvent", "EVENT_PAYLOADS"]


@dataclass
class KeyEvent:
    """A key pressed or released while the pointer is over the viewport."""

    viewport_uuid: str
    event_type: str
    key_name: str


@dataclass
class MouseEvent:
    """A pointer event; x_ndc, y_ndc in the viewport's NDC (-1..1, y up)."""

    viewport_uuid: str
    event_type: str
    x_ndc: float
    y_ndc: float
    left_button: bool = False
    middle_button: bool = False
    right_button: bool = False
    scroll_steps: float = 0.0


@dataclass
class CanvasResizeEvent:
    """The canvas changed size (pixels)."""

    viewport_uuid: str
    event_type: str
    canvas_width_px: int
    canvas_height_px: int


#: event name -> payload class
EVENT_PAYLOADS: dict[str, type] = {
    "key_press_event": KeyEvent,
    "key_release_event": KeyEvent,
    "button_press_event": MouseEvent,
    "button_release_event": MouseEvent,
    "mouse_move_event": MouseEvent,
    "mouse_scroll_event": MouseEvent,
    "canvas_resize_event": CanvasResizeEvent,
}
