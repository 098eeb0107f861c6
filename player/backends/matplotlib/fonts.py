"""Font families for the texts both backends draw with Matplotlib's text engine.

A GSP ``Texts`` names its font (``"Arial"``, ``"serif"``); a log replayed on another machine
may name one that is not installed there. Matplotlib then falls back to its default font and
logs "findfont: Font family ... not found" for every text drawn, dozens of lines a frame.
:func:`font_family` looks each name up once: a family this machine has (or a generic one that
resolves: ``serif``, ``sans-serif``, ``monospace``) is used as named; another is replaced by
Matplotlib's default family, with one warning per name for the whole process.
"""

from __future__ import annotations

import threading
import warnings

from matplotlib import font_manager, rcParams
from matplotlib.font_manager import FontProperties

__all__ = ["MissingFontWarning", "font_family"]


class MissingFontWarning(UserWarning):
    """A text's font family is not installed here: its texts are drawn in the default font."""


_families: dict[str, str | list[str]] = {}
_lock = threading.Lock()


def font_family(name: str) -> str | list[str]:
    """The family to draw ``name``'s texts with: ``name`` itself when Matplotlib finds it here,
    else Matplotlib's default family (``rcParams["font.family"]``), warned of once per name."""
    with _lock:
        family = _families.get(name)
        if family is None:
            family = _families[name] = _look_up(name)
    return family


def _look_up(name: str) -> str | list[str]:
    try:  # a list: a name with "-" or ":" is not read as a fontconfig pattern
        font_manager.findfont(FontProperties(family=[name]), fallback_to_default=False)
        return name
    except ValueError:
        default: list[str] = list(rcParams["font.family"])
        warnings.warn(MissingFontWarning(
            f"font {name!r} is not installed here: its texts are drawn in the default font "
            f"({', '.join(default)}); said once"), stacklevel=4)
        return default
