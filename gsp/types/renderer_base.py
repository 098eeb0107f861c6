"""RendererBase: the contract every backend implements, with argument checks in one place."""

from __future__ import annotations

from abc import ABC
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from gsp.capture import Captured, new_uuid, notify, paused
from gsp.core.camera import Camera
from gsp.core.canvas import Canvas
from gsp.core.viewport import Viewport
from gsp.transforms.transform_chain import RunOnce
from gsp.types._checks import check_count, check_transbuf
from gsp.types.buffer import Buffer
from gsp.types.buffer_type import BufferType
from gsp.types.transbuf import TransBuf
from gsp.types.visual_base import VisualBase
from gsp.utils.png import blank_png

__all__ = ["RendererBase", "set_rendering_enabled", "rendering_enabled"]

_rendering_enabled = True
_MAT4 = (BufferType.mat4,)


def set_rendering_enabled(flag: bool) -> None:
    """Process-wide: when False, ``render`` validates and is recorded but draws nothing and
    returns a blank (transparent) PNG of the canvas's size, ``render_rgba`` blank pixels: a
    script that decodes or saves its frames runs on as it would drawing them."""
    global _rendering_enabled
    _rendering_enabled = bool(flag)


def rendering_enabled() -> bool:
    """Whether ``render`` calls the backend (see :func:`set_rendering_enabled`)."""
    return _rendering_enabled


class RendererBase(Captured, ABC):
    """``RendererBase(canvas)``: draws lists of visuals into the canvas.

    Backends implement :meth:`_render` (return PNG bytes of exactly canvas width × height),
    :meth:`show`, and may extend :meth:`clear` / :meth:`close` (call ``super()``). A backend
    that can hand out pixels without PNG encoding implements :meth:`_render_rgba` and sets
    ``renders_rgba = True``. Every backend records as ``Renderer.*`` so replay may pick another
    backend.
    """

    _capture_family_ = "Renderer"
    _captured_methods_ = ("render", "clear", "close")
    #: True when the backend implements :meth:`_render_rgba` (players use it for video and frames).
    renders_rgba: ClassVar[bool] = False

    def __init__(self, canvas: Canvas) -> None:
        if type(self) is RendererBase:
            raise TypeError("RendererBase is abstract: a renderer subclasses it and implements _render (or render)")
        if not isinstance(canvas, Canvas):
            raise TypeError(f"{type(self).__name__}: canvas must be a Canvas, got {type(canvas).__name__}")
        self._uuid = new_uuid()
        self._canvas = canvas
        self._closed = False

    def get_canvas(self) -> Canvas:
        """The canvas drawn into."""
        return self._canvas

    def render(
        self,
        viewports: Sequence[Viewport],
        visuals: Sequence[VisualBase],
        model_matrices: Sequence[TransBuf],
        cameras: Sequence[Camera],
    ) -> bytes:
        """Draw ``visuals[i]`` in ``viewports[i]`` with ``model_matrices[i]`` and ``cameras[i]``.

        The four sequences are parallel (one entry per visual) and must have the same length.
        Returns the image as PNG bytes: a blank one of the canvas's size while rendering is
        disabled (:func:`set_rendering_enabled`). Whatever a backend
        would refuse to draw is refused here first, drawing or not (see ``_check_render_args``).
        """
        with RunOnce():  # each transform chain runs once: checked, then drawn from the same result
            self._check_render_args(viewports, visuals, model_matrices, cameras)
            if not _rendering_enabled:
                return blank_png(self._canvas.get_width(), self._canvas.get_height())
            return self._render(viewports, visuals, model_matrices, cameras)

    def render_rgba(
        self,
        viewports: Sequence[Viewport],
        visuals: Sequence[VisualBase],
        model_matrices: Sequence[TransBuf],
        cameras: Sequence[Camera],
    ) -> Any:
        """Draw like :meth:`render` and return the pixels as a new (height, width, 4) uint8 numpy
        array, row 0 on top, without PNG encoding. Recorded as a ``Renderer.render``, as
        :meth:`render` is: once drawn, so that a render the backend fails to draw is not in the log.

        Raises NotImplementedError where the backend has no such path (``renders_rgba`` False);
        a blank frame while rendering is disabled.
        """
        # paused(): what checking and drawing call is not recorded, as under render()'s capture wrapper.
        with paused(), RunOnce():
            self._check_render_args(viewports, visuals, model_matrices, cameras)
            if not self.renders_rgba:
                raise NotImplementedError(f"{type(self).__name__} draws PNG only: use render()")
            if _rendering_enabled:
                pixels = self._render_rgba(viewports, visuals, model_matrices, cameras)
            else:
                pixels = np.zeros((self._canvas.get_height(), self._canvas.get_width(), 4), dtype=np.uint8)
        notify(self, "render", viewports, visuals, model_matrices, cameras)
        return pixels

    def _render_rgba(
        self,
        viewports: Sequence[Viewport],
        visuals: Sequence[VisualBase],
        model_matrices: Sequence[TransBuf],
        cameras: Sequence[Camera],
    ) -> Any:
        """Backend drawing into pixels; arguments are already checked (see ``renders_rgba``)."""
        raise NotImplementedError

    def _render(
        self,
        viewports: Sequence[Viewport],
        visuals: Sequence[VisualBase],
        model_matrices: Sequence[TransBuf],
        cameras: Sequence[Camera],
    ) -> bytes:
        """Backend drawing; arguments are already checked. Return PNG bytes.

        A backend implements this, or overrides ``render`` itself as GSP 0.1 renderers do
        (it then checks its own arguments)."""
        raise NotImplementedError(f"{type(self).__name__}: a renderer implements _render (or overrides render)")

    def show(self) -> None:
        """Show the result and block until the window closes; returns at once without a display."""

    def clear(self) -> None:
        """Forget what was drawn: the next render draws only its own visuals."""

    def close(self) -> None:
        """Release the backend's resources."""
        self._closed = True

    def _check_render_args(
        self,
        viewports: Sequence[Viewport],
        visuals: Sequence[VisualBase],
        model_matrices: Sequence[TransBuf],
        cameras: Sequence[Camera],
        owner: str | None = None,
    ) -> None:
        """Everything a backend needs to draw, for every backend (the null one too), so that a
        render that could not be drawn is refused at the call, recorded or not: the sequences,
        each entry's type, each visual's attributes together, transform chains run (inside
        ``render``'s :class:`RunOnce`, the backend draws from these same results) and their
        results checked, the values themselves (sizes and widths finite and >= 0, text angles
        finite, fonts not over the largest drawn at the canvas's dpi). A value checked in a buffer
        unchanged since is not checked again (:func:`gsp.types._checks.buffer_fact`)."""
        owner = owner or f"{type(self).__name__}.render"  # the call the errors name (an animator's start)
        seqs = {"viewports": viewports, "visuals": visuals, "model_matrices": model_matrices, "cameras": cameras}
        for name, seq in seqs.items():
            if not isinstance(seq, Sequence) or isinstance(seq, (str, bytes)):
                raise TypeError(f"{owner}: {name} must be a sequence (list), got {type(seq).__name__}")
        lengths = {name: len(seq) for name, seq in seqs.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{name}={n}" for name, n in lengths.items())
            raise ValueError(f"{owner}: the four sequences must have the same length (one entry per visual), got {detail}")
        for i, (vp, vis, mat, cam) in enumerate(zip(viewports, visuals, model_matrices, cameras)):
            if not isinstance(vp, Viewport):
                raise TypeError(f"{owner}: viewports[{i}] must be a Viewport, got {type(vp).__name__}")
            if not isinstance(vis, VisualBase):
                raise TypeError(f"{owner}: visuals[{i}] must be a visual, got {type(vis).__name__}")
            if not isinstance(cam, Camera):
                raise TypeError(f"{owner}: cameras[{i}] must be a Camera, got {type(cam).__name__}")
            count = check_transbuf(owner, f"model_matrices[{i}]", mat, _MAT4, resolve_chain=True)
            check_count(owner, f"model_matrices[{i}]", count, 1, "visual", one_ok=False)
            for name, matrix in (("view_matrix", cam.get_view_matrix()), ("projection_matrix", cam.get_projection_matrix())):
                if not isinstance(matrix, Buffer):  # a Buffer's count was checked when set, and stays
                    count = check_transbuf(owner, f"cameras[{i}]: {name}", matrix, _MAT4, resolve_chain=True)
                    check_count(owner, f"cameras[{i}]: {name}", count, 1, "camera", one_ok=False)
        # Attributes set one by one may disagree (positions resized alone): check them together,
        # with the results of their chains and the values a backend refuses.
        canvas = self._canvas
        for i, vis in enumerate(visuals):
            where = f"{owner}: visuals[{i}]: {type(vis).__name__}"
            attrs = dict(vis._attrs)
            vis._check_(where, attrs, None, True)
            vis._check_canvas_(where, attrs, canvas)
