"""AttributeHolder: constructor arguments kept in one dict and validated together."""

from __future__ import annotations

import inspect
from typing import Any

from gsp.capture import init_parameters

__all__ = ["AttributeHolder"]


class AttributeHolder:
    """Stores constructor arguments in ``self._attrs`` and validates them through ``_check_``.

    Subclasses implement ``_check_(owner, attrs, only, resolve)``: check the candidate ``attrs`` (and
    normalise values in place); ``only`` names the single attribute being set (None = check
    everything together); ``resolve`` runs transform chains to check their real data.
    Rules that relate an attribute to the positions are checked when that attribute is set;
    setting positions alone checks their own type only, so that a visual can be resized with
    ``set_attributes(positions=..., sizes=...)`` or a sequence of setters.
    """

    _attrs: dict[str, Any]
    #: Other names an attribute answers to in ``set_attributes`` (GSP 0.1 spellings).
    _attribute_aliases_: dict[str, str] = {}

    def _check_(self, owner: str, attrs: dict[str, Any], only: str | None, resolve: bool) -> None:
        """Validate ``attrs``; raise TypeError/ValueError naming the class and the argument."""

    @classmethod
    def _attribute_names_(cls) -> list[str]:
        """Constructor parameter names, in order (keyword-only aliases left out)."""
        return [p.name for p in init_parameters(cls) if p.kind != inspect.Parameter.KEYWORD_ONLY]

    def _init_attributes_(self, values: dict[str, Any]) -> None:
        candidate = dict(values)
        self._check_(type(self).__name__, candidate, None, False)
        self._attrs = candidate

    def _set_attribute_(self, name: str, value: Any) -> None:
        if name not in self._attrs:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r} (not a constructor argument)")
        candidate = dict(self._attrs)
        candidate[name] = value
        self._check_(f"{type(self).__name__}.set_{name}", candidate, name, False)
        self._attrs = candidate

    def _owner_(self, method: str | None = None) -> str:
        return type(self).__name__ if method is None else f"{type(self).__name__}.{method}"
