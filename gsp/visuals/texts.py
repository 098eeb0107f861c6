"""Texts: strings anchored at 3-D positions."""

from __future__ import annotations

from typing import Any

from gsp.core.canvas import Canvas
from gsp.types._checks import check_amounts, check_count, check_finite, check_font_px, check_transbuf, resolve
from gsp.types.buffer_type import BufferType
from gsp.types.enums import TextAlign
from gsp.types.transbuf import TransBuf
from gsp.types.visual_base import VisualBase

__all__ = ["Texts"]

#: A required argument not given (text_aligns may come as textAligns, so the ones after it
#: need a default too).
_MISSING: Any = object()


class Texts(VisualBase):
    """``Texts(positions, strings, colors, font_sizes, text_aligns, angles, font_name)``.

    positions vec3 (one per string); strings: list of str; colors rgba8, font_sizes float32
    (pt), angles float32 (degrees, counter-clockwise) and text_aligns (list of TextAlign)
    each hold 1 item or one per string. GSP 0.1 calls the 5th argument ``textAligns``; it is
    positional in scripts, and ``get_textAligns``/``set_textAligns`` are kept as aliases.
    """

    _attribute_aliases_ = {"textAligns": "text_aligns"}

    def __init__(
        self,
        positions: TransBuf,
        strings: list[str],
        colors: TransBuf,
        font_sizes: TransBuf,
        text_aligns: list[TextAlign] = _MISSING,
        angles: TransBuf = _MISSING,
        font_name: str = _MISSING,
        *,
        textAligns: list[TextAlign] = _MISSING,  # noqa: N803 - GSP 0.1 spelling, by keyword
    ) -> None:
        if textAligns is not _MISSING:
            if text_aligns is not _MISSING:
                raise TypeError("Texts: give text_aligns or textAligns (its GSP 0.1 name), not both")
            text_aligns = textAligns
        missing = [name for name, value in (("text_aligns", text_aligns), ("angles", angles),
                                            ("font_name", font_name)) if value is _MISSING]
        if missing:  # as Python says it of required arguments (they have a default only for textAligns)
            raise TypeError(f"Texts.__init__() missing required argument(s): {', '.join(missing)}")
        super().__init__()
        self._init_attributes_(
            {
                "positions": positions,
                "strings": strings,
                "colors": colors,
                "font_sizes": font_sizes,
                "text_aligns": text_aligns,
                "angles": angles,
                "font_name": font_name,
            }
        )

    def _check_(self, owner: str, attrs: dict[str, Any], only: str | None, resolve: bool) -> None:
        n = check_transbuf(owner, "positions", attrs["positions"], (BufferType.vec3,), resolve_chain=resolve)
        if not isinstance(attrs["font_name"], str):
            raise TypeError(f"{owner}: font_name must be a str, got {type(attrs['font_name']).__name__}")
        if only in (None, "strings"):
            strings = attrs["strings"]
            if not isinstance(strings, (list, tuple)) or not all(isinstance(s, str) for s in strings):
                raise TypeError(f"{owner}: strings must be a list of str, got {strings!r:.80}")
            attrs["strings"] = list(strings)
            check_count(owner, "strings", len(strings), n, "position", one_ok=False)
        if only in (None, "text_aligns"):
            aligns = attrs["text_aligns"]
            if not isinstance(aligns, (list, tuple)) or not all(isinstance(a, TextAlign) for a in aligns):
                raise TypeError(f"{owner}: text_aligns must be a list of TextAlign, got {aligns!r:.80}")
            attrs["text_aligns"] = list(aligns)
            check_count(owner, "text_aligns", len(aligns), n, "position", one_ok=True)
        for name, kind in (("colors", BufferType.rgba8), ("font_sizes", BufferType.float32), ("angles", BufferType.float32)):
            if only in (None, name):
                count = check_transbuf(owner, name, attrs[name], (kind,), resolve_chain=resolve)
                check_count(owner, name, count, n, "position", one_ok=True)
        if resolve:
            check_amounts(f"{owner}: font_sizes", attrs["font_sizes"])
            check_finite(f"{owner}: angles", attrs["angles"], "angle")

    def _check_canvas_(self, owner: str, attrs: dict[str, Any], canvas: Canvas) -> None:
        """The font sizes at the canvas's dpi: none over the largest font drawn (after ``_check_``
        with ``resolve``: they are amounts)."""
        sizes = resolve(owner, "font_sizes", attrs["font_sizes"])
        check_font_px(f"{owner}: font_sizes", sizes.read_view(), float(canvas.get_dpi()))

    def get_positions(self) -> TransBuf:
        """Anchor positions (vec3)."""
        return self._attrs["positions"]

    def set_positions(self, positions: TransBuf) -> None:
        """Set the anchor positions (vec3)."""
        self._set_attribute_("positions", positions)

    def get_strings(self) -> list[str]:
        """The strings."""
        return self._attrs["strings"]

    def set_strings(self, strings: list[str]) -> None:
        """Set the strings (one per position)."""
        self._set_attribute_("strings", strings)

    def get_colors(self) -> TransBuf:
        """Colors (rgba8)."""
        return self._attrs["colors"]

    def set_colors(self, colors: TransBuf) -> None:
        """Set the colors (rgba8, 1 or one per string)."""
        self._set_attribute_("colors", colors)

    def get_font_sizes(self) -> TransBuf:
        """Font sizes in pt (float32)."""
        return self._attrs["font_sizes"]

    def set_font_sizes(self, font_sizes: TransBuf) -> None:
        """Set the font sizes in pt (float32, 1 or one per string)."""
        self._set_attribute_("font_sizes", font_sizes)

    def get_text_aligns(self) -> list[TextAlign]:
        """Anchors (list of TextAlign)."""
        return self._attrs["text_aligns"]

    def set_text_aligns(self, text_aligns: list[TextAlign]) -> None:
        """Set the anchors (list of TextAlign, 1 or one per string)."""
        self._set_attribute_("text_aligns", text_aligns)

    def get_textAligns(self) -> list[TextAlign]:  # noqa: N802 - GSP 0.1 spelling
        """Alias of :meth:`get_text_aligns` (GSP 0.1 spelling)."""
        return self.get_text_aligns()

    def set_textAligns(self, textAligns: list[TextAlign]) -> None:  # noqa: N802,N803 - GSP 0.1 spelling
        """Alias of :meth:`set_text_aligns` (GSP 0.1 spelling)."""
        self._set_attribute_("text_aligns", textAligns)

    def get_angles(self) -> TransBuf:
        """Rotation angles in degrees (float32)."""
        return self._attrs["angles"]

    def set_angles(self, angles: TransBuf) -> None:
        """Set the angles in degrees (float32, 1 or one per string)."""
        self._set_attribute_("angles", angles)

    def get_font_name(self) -> str:
        """Font family name."""
        return self._attrs["font_name"]

    def set_font_name(self, font_name: str) -> None:
        """Set the font family name."""
        self._set_attribute_("font_name", font_name)
