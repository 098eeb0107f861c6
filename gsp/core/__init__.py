"""Core objects: Canvas, Viewport, Camera, Texture, Event."""

from gsp.core.camera import Camera
from gsp.core.canvas import Canvas
from gsp.core.event import Event
from gsp.core.texture import Texture
from gsp.core.viewport import Viewport

__all__ = ["Canvas", "Viewport", "Camera", "Texture", "Event"]
