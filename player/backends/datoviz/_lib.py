"""Lazy access to Datoviz's ctypes bindings, with a clear error where Datoviz is missing."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from types import ModuleType
from typing import IO, Any

__all__ = ["DatovizUnavailable", "dvz_lib", "datoviz_available"]

_lib: ModuleType | None = None


class DatovizUnavailable(ImportError):
    """Raised when the Datoviz backend is used where ``datoviz`` cannot be imported."""


def _prepare_environment() -> None:
    # The Vulkan loader complains without a writable runtime dir; Datoviz logs a lot by default.
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime or not os.access(runtime, os.W_OK):
        made = tempfile.mkdtemp(prefix="gsp-dvz-xdg-")
        # Removed at exit: every process that drew with Datoviz left one behind (a node restarted
        # by a supervisor, a loop of gsp-replay runs: hundreds of folders in /tmp).
        atexit.register(shutil.rmtree, made, ignore_errors=True)
        os.environ["XDG_RUNTIME_DIR"] = made
    os.environ.setdefault("DVZ_LOG_LEVEL", "4")


def _quiet(module: ModuleType) -> None:
    # Datoviz reads DVZ_LOG_LEVEL only when its first app/server starts and logs traces to stdout
    # before that; set the level right away (the C function is exported, not wrapped).
    import ctypes

    try:
        level = int(os.environ.get("DVZ_LOG_LEVEL", "4"))
        setter = module.dvz.log_set_level
        setter.argtypes = [ctypes.c_int]
        setter(level)
    except (AttributeError, ValueError):
        pass


def _has_fd(stream: IO[Any] | None) -> bool:
    try:
        return stream is not None and stream.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        return False


def _import_ctypes() -> ModuleType:
    # Importing datoviz enables faulthandler on sys.stderr, which needs a file descriptor. A
    # notebook's or a test runner's captured stderr has none: the import then points it at the
    # process's own stderr (or nowhere), instead of failing as if Datoviz were missing.
    stderr = sys.stderr
    if not _has_fd(stderr):
        sys.stderr = sys.__stderr__ if _has_fd(sys.__stderr__) else open(os.devnull, "w")  # noqa: SIM115
    try:
        from datoviz import _ctypes
    finally:
        sys.stderr = stderr
    return _ctypes


def dvz_lib() -> ModuleType:
    """The ``datoviz._ctypes`` module, imported on first use."""
    global _lib
    if _lib is None:
        _prepare_environment()
        try:
            _ctypes = _import_ctypes()
        except (ImportError, OSError) as exc:  # OSError: libvulkan.so.1 missing
            raise DatovizUnavailable(
                "the 'datoviz' backend needs the datoviz package (pip install 'gsplog[datoviz]') "
                "and a Vulkan loader and driver (e.g. apt-get install libvulkan1 mesa-vulkan-drivers): "
                f"{exc}"
            ) from exc
        _quiet(_ctypes)
        _lib = _ctypes
    return _lib


def datoviz_available() -> bool:
    """True when Datoviz can be imported here."""
    try:
        dvz_lib()
    except DatovizUnavailable:
        return False
    return True
