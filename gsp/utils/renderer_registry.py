"""RendererRegistry: backend name -> (renderer, viewport events, animator) classes.

Backends are found through the ``gsp.renderers`` entry-point group: each entry point names a
zero-argument ``register()`` function that calls :meth:`RendererRegistry.register_renderer`.
An entry point is loaded only when its name is asked for and not registered yet. The backends
that ship with gsplog (:data:`BUILTIN_BACKENDS`) are offered under the same names when no
installed distribution declares them: a source checkout on ``PYTHONPATH`` has no entry points.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from gsp.core.canvas import Canvas
from gsp.core.viewport import Viewport
from gsp.types.animator_base import AnimatorBase
from gsp.types.renderer_base import RendererBase
from gsp.types.viewport_events_base import ViewportEventsBase

__all__ = ["RendererRegistry", "RendererEntry", "ENTRY_POINT_GROUP", "BUILTIN_BACKENDS"]

ENTRY_POINT_GROUP = "gsp.renderers"

#: name -> register function of each backend shipped with gsplog (pyproject.toml declares the
#: same entry points; an installed distribution's entry point of the same name comes first).
BUILTIN_BACKENDS = {
    "matplotlib": "player.backends.matplotlib:register",
    "datoviz": "player.backends.datoviz:register",
    "null": "player.backends.null:register",
}


@dataclass(frozen=True)
class RendererEntry:
    """The classes registered under one backend name."""

    name: str
    renderer_cls: type[RendererBase]
    viewport_events_cls: type[ViewportEventsBase] | None
    animator_cls: type[AnimatorBase] | None


class RendererRegistry:
    """Process-wide registry of backends (all methods are static)."""

    _entries: dict[str, RendererEntry] = {}
    _lock = threading.RLock()

    @staticmethod
    def register_renderer(
        name: str,
        renderer_cls: type[RendererBase],
        viewport_events_cls: type[ViewportEventsBase] | None,
        animator_cls: type[AnimatorBase] | None,
    ) -> None:
        """Register a backend under ``name`` (registering the same classes again is harmless)."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"RendererRegistry.register_renderer: name must be a non-empty str, got {name!r}")
        for arg, cls, base in (
            ("renderer_cls", renderer_cls, RendererBase),
            ("viewport_events_cls", viewport_events_cls, ViewportEventsBase),
            ("animator_cls", animator_cls, AnimatorBase),
        ):
            if cls is None and arg != "renderer_cls":
                continue
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise TypeError(
                    f"RendererRegistry.register_renderer({name!r}): {arg} must be a subclass of {base.__name__}, got {cls!r}"
                )
        with RendererRegistry._lock:
            RendererRegistry._entries[name] = RendererEntry(name, renderer_cls, viewport_events_cls, animator_cls)

    @staticmethod
    def unregister_renderer(name: str) -> None:
        """Forget ``name`` (tests use this)."""
        with RendererRegistry._lock:
            RendererRegistry._entries.pop(name, None)

    @staticmethod
    def get_renderer_names() -> list[str]:
        """Registered names plus names offered by entry points, sorted."""
        with RendererRegistry._lock:
            names = set(RendererRegistry._entries)
        names.update(ep.name for ep in _entry_points())
        return sorted(names)

    @staticmethod
    def get_entry(name: str) -> RendererEntry:
        """The entry for ``name``, loading its entry point if needed; ValueError listing known names if none."""
        with RendererRegistry._lock:
            entry = RendererRegistry._entries.get(name)
            if entry is not None:
                return entry
            matches = [ep for ep in _entry_points() if ep.name == name]
            if not matches:
                raise ValueError(f"unknown renderer {name!r}; known renderers: {RendererRegistry.get_renderer_names()}")
            register = matches[0].load()
            if not callable(register):
                raise ValueError(f"renderer {name!r}: entry point {matches[0].value} is not a register() function")
            register()
            entry = RendererRegistry._entries.get(name)
            if entry is None:
                raise ValueError(f"renderer {name!r}: {matches[0].value}() did not register a renderer named {name!r}")
            return entry

    @staticmethod
    def create_renderer(name: str, canvas: Canvas) -> RendererBase:
        """A new renderer of backend ``name`` drawing into ``canvas``."""
        return RendererRegistry.get_entry(name).renderer_cls(canvas)

    @staticmethod
    def create_animator(renderer: RendererBase) -> AnimatorBase:
        """A new animator of the backend that ``renderer`` belongs to."""
        entry = RendererRegistry._entry_for(renderer, "create_animator")
        if entry.animator_cls is None:
            raise ValueError(f"renderer {entry.name!r} has no animator")
        return entry.animator_cls(renderer)

    @staticmethod
    def create_viewport_events(renderer: RendererBase, viewport: Viewport) -> ViewportEventsBase:
        """New viewport events of the backend that ``renderer`` belongs to."""
        entry = RendererRegistry._entry_for(renderer, "create_viewport_events")
        if entry.viewport_events_cls is None:
            raise ValueError(f"renderer {entry.name!r} has no viewport events")
        return entry.viewport_events_cls(renderer, viewport)

    @staticmethod
    def _entry_for(renderer: RendererBase, method: str) -> RendererEntry:
        if not isinstance(renderer, RendererBase):
            raise TypeError(f"RendererRegistry.{method}: renderer must be a RendererBase, got {type(renderer).__name__}")
        entry = RendererRegistry._loaded_entry_for(renderer)
        if entry is None:
            # A renderer made directly (MatplotlibRenderer(canvas), as GSP 0.1 scripts do) before
            # its backend was asked for by name: its backend's module is imported, as the class
            # exists, so loading the entry points of imported modules costs no import.
            imported = [ep for ep in _entry_points() if ep.module in sys.modules]
            for ep in imported:
                with contextlib.suppress(ValueError):
                    RendererRegistry.get_entry(ep.name)
            entry = RendererRegistry._loaded_entry_for(renderer)
        if entry is not None:
            return entry
        raise ValueError(
            f"RendererRegistry.{method}: {type(renderer).__name__} is not a registered renderer; "
            f"known renderers: {RendererRegistry.get_renderer_names()}"
        )

    @staticmethod
    def _loaded_entry_for(renderer: RendererBase) -> RendererEntry | None:
        with RendererRegistry._lock:
            entries = list(RendererRegistry._entries.values())
        # The most specific registered class wins (a subclass of a registered renderer is accepted).
        for entry in entries:
            if type(renderer) is entry.renderer_cls:
                return entry
        for entry in entries:
            if isinstance(renderer, entry.renderer_cls):
                return entry
        return None


def _entry_points() -> list[EntryPoint]:
    """The installed entry points of the group, then the built-in backends none of them names."""
    found = list(entry_points(group=ENTRY_POINT_GROUP))
    names = {ep.name for ep in found}
    return found + [EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in BUILTIN_BACKENDS.items()
                    if name not in names]
