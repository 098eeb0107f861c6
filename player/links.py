"""The user's own transform links: import the modules that register them before a replay.

A ``TransformChain`` link travels by value, as ``{"link_type": name, ...}``, and is rebuilt only
through gsp's link registry (``gsp.transforms.register_link``): nothing is imported by name
from a log. A link class defined in the recorded script, or in a module of the user's, is
registered only once that code runs; a replay that has not run it skips the commands that hold
such a link (``sessions.errors.SkippedCommandWarning`` with its ``link_type``) and draws
frames without it. :func:`import_link_modules` runs that code first: ``gsp-replay --links``
and ``gsp node --links`` call it. Importing a module runs it: give only code you trust.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass, field
from types import ModuleType

__all__ = ["LinkModule", "LinkModuleError", "import_link_modules", "is_link_file"]


class LinkModuleError(ValueError):
    """A ``--links`` module that cannot be found or whose code failed (the message names it)."""


@dataclass
class LinkModule:
    """One imported module: the ``spec`` given, the module, and the link types it registered."""

    spec: str
    module: ModuleType
    registered: list[str] = field(default_factory=list)


def is_link_file(spec: str) -> bool:
    """Whether ``spec`` names a file (``links.py``, ``./lab/links.py``) rather than a module name."""
    return spec.endswith(".py") or os.sep in spec or (os.altsep is not None and os.altsep in spec)


def import_link_modules(specs: list[str] | tuple[str, ...]) -> list[LinkModule]:
    """Import each of ``specs`` in order, so that the transform link classes it registers are known
    to the replay: a module name (``mylab.links``, found on ``sys.path`` or in the current folder)
    or the path of a ``.py`` file. A file is imported under its own name (``links.py`` as
    ``links``; another name when a module of that name is already loaded), with ``__name__``
    set to that name, not ``"__main__"``: a recorded script given here runs all but its
    ``if __name__ == "__main__":`` part. Its folder is added at the end of ``sys.path``, so that
    it can import the modules beside it.

    This runs the modules' code. ``LinkModuleError`` names a module that cannot be found, or
    the error its code raised (with the line of that module it came from).
    """
    from gsp.transforms import registered_links

    done: list[LinkModule] = []
    for spec in specs:
        before = set(registered_links())
        module = _import_file(spec) if is_link_file(spec) else _import_name(spec)
        done.append(LinkModule(spec, module, sorted(set(registered_links()) - before)))
    return done


def _import_name(name: str) -> ModuleType:
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # `gsp-replay` (a console script) does not put it there, `python -m` does
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and (error.name == name or name.startswith(error.name + ".")):
            raise LinkModuleError(f"--links {name}: no module named {error.name!r} here (give a module name "
                                  "importable from the current folder or sys.path, or the path of a .py file)") from None
        raise _failed(name, error) from None
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        raise _failed(name, error) from None


def _import_file(spec: str) -> ModuleType:
    path = os.path.abspath(spec)
    if not os.path.isfile(path):
        raise LinkModuleError(f"--links {spec}: no such file")
    stem = os.path.splitext(os.path.basename(path))[0]
    name = stem if stem.isidentifier() else "_gsp_links_module"
    loaded = sys.modules.get(name)
    if loaded is not None:
        if os.path.abspath(getattr(loaded, "__file__", None) or "") == path:
            return loaded  # given twice, or imported by name already
        number = 2
        while f"_gsp_links_{stem}_{number}" in sys.modules:
            number += 1
        name = f"_gsp_links_{stem}_{number}"
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.append(folder)
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise LinkModuleError(f"--links {spec}: not a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # as an import does: the module's own classes may look it up
    try:
        module_spec.loader.exec_module(module)
    except BaseException as error:
        sys.modules.pop(name, None)
        if isinstance(error, KeyboardInterrupt):
            raise
        raise _failed(spec, error) from None
    return module


def _failed(spec: str, error: BaseException) -> LinkModuleError:
    """The error of a module whose code raised: its type and message, and the innermost line of
    the user's code it came from (not of the import machinery)."""
    where = ""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if "importlib" not in f.filename and f.filename != __file__]
    if frames:
        last = frames[-1]
        where = f" ({last.filename}, line {last.lineno})"
    if isinstance(error, SystemExit):
        what = f"it called sys.exit({error.code!r})"
    else:
        what = f"{type(error).__name__}: {error}"
    return LinkModuleError(f"--links {spec}: importing it failed: {what}{where}")
