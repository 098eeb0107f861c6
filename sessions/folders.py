"""Output folders made on demand, and taken back when the output is not kept.

A tool writing ``a/b/out.gsplog`` (or a replay writing ``frames/``) makes the missing folders
of the path, as ``mkdir -p`` would; when it fails before anything is kept, it removes the folders
it made, so that a refused or failed output leaves no empty tree behind.
"""

from __future__ import annotations

import os

__all__ = ["missing_folders", "make_folders", "remove_folders"]


def missing_folders(folder: str | os.PathLike[str]) -> list[str]:
    """The folders of ``folder``'s path that do not exist, innermost first."""
    missing: list[str] = []
    path = os.fspath(folder)
    while path and not os.path.lexists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def make_folders(folder: str | os.PathLike[str]) -> list[str]:
    """Make ``folder`` and the folders above it that are missing; the folders made, innermost
    first. One that cannot be made is left for the output's own open to report."""
    made: list[str] = []
    for path in reversed(missing_folders(folder)):
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        except OSError:
            break
        made.insert(0, path)
    return made


def remove_folders(made: list[str]) -> None:
    """Remove folders :func:`make_folders` made (innermost first), as long as they are empty:
    one that something else filled meanwhile stays, and so do those above it."""
    for folder in made:
        try:
            os.rmdir(folder)
        except OSError:
            return
