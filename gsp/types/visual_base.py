"""VisualBase: the base of every visual (Points, Paths, Mesh, ...)."""

from __future__ import annotations

from typing import Any

from gsp.capture import Captured, new_uuid
from gsp.types._attributes import AttributeHolder

__all__ = ["VisualBase"]


class VisualBase(AttributeHolder, Captured):
    """A drawable object: its constructor arguments are its attributes, each with get_/set_.

    ``userData`` is a free dict for the application. ``set_uuid`` is a plain (not recorded)
    method: recording identifies objects by the UUID they had at construction, so call it, if
    at all, before the visual is used.
    """

    _uncaptured_methods_ = ("set_uuid",)

    def __init__(self) -> None:
        self._uuid = new_uuid()
        self.userData: dict[str, Any] = {}
        self._attrs = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(uuid={self.get_uuid()})"

    def get_uuid(self) -> str:
        """The visual's UUID."""
        return self._uuid

    def set_uuid(self, uuid: str) -> None:
        """Replace the UUID (not recorded; see the class docstring)."""
        if not isinstance(uuid, str) or not uuid:
            raise TypeError(f"{type(self).__name__}.set_uuid: uuid must be a non-empty str, got {uuid!r}")
        self._uuid = uuid

    def set_attributes(self, **kwargs: Any) -> None:
        """Set several attributes at once; they are validated together, then all applied."""
        owner = self._owner_("set_attributes")
        kwargs = {self._attribute_aliases_.get(name, name): value for name, value in kwargs.items()}
        names = self._attribute_names_()
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise TypeError(f"{owner}: unknown attribute(s) {unknown}; expected some of {names}")
        candidate = dict(self._attrs)
        candidate.update(kwargs)
        self._check_(owner, candidate, None, False)
        self._attrs = candidate

    def check_attributes(self) -> None:
        """Validate all attributes together, running transform chains to check their real data
        and the values a renderer refuses (sizes and widths finite and >= 0...): what ``render``
        checks, but for the rules that depend on the canvas."""
        self._check_(self._owner_("check_attributes"), dict(self._attrs), None, True)

    def _check_canvas_(self, owner: str, attrs: dict[str, Any], canvas: Any) -> None:
        """Rules that depend on the canvas drawn into (``render`` calls it after ``_check_``
        with ``resolve``): none but for the visuals that override it."""
