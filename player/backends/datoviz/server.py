"""One Datoviz server (Vulkan instance and device) per process, shared by every engine.

Why one: NVIDIA's Vulkan driver lets a process create only 30 Vulkan instances in its lifetime.
Seen on an H100 (driver 580.159.04): creating and destroying ``dvz.server(0)`` in a loop, the
31st ``vkCreateInstance`` fails with ``ERROR_INCOMPATIBLE_DRIVER`` even though every earlier
instance was destroyed (open files, threads and memory stay flat), and Datoviz then calls
``exit(1)``: the process ends at once, with no Python traceback (a pytest run stops with no
summary). A server per engine also costs ~0.3 s of Vulkan setup there. So engines share one
server and give back what they created on it (:class:`ServerObjects`) instead of destroying it.

Each engine keeps its own batch and scene. A new scene always asks for Datoviz's default
texture and sampler under the fixed ids 0x1 and 0x2 ("object already exists" on a server that
has them): those two requests are dropped from a batch before it reaches a server that holds
them already. This reads and edits the request array of ``DvzBatch`` through the ctypes
structures of Datoviz 0.3.5 (the pinned version).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import threading
from typing import Any

__all__ = ["SharedServer", "ServerObjects", "shared_server", "LOCK"]

# Datoviz's server is not thread-safe: every submission and frame grab holds this lock.
LOCK = threading.RLock()

_DEFAULT_IDS = (0x1, 0x2)  # DVZ_SCENE_DEFAULT_TEX_ID, DVZ_SCENE_DEFAULT_SAMPLER_ID


class SharedServer:
    """The process's Datoviz server; ``alive`` turns False once it was destroyed at exit."""

    def __init__(self, c: Any) -> None:
        self.c = c
        self.handle: Any = c.server(0)
        self.pid = os.getpid()
        self.alive = True
        self.has_defaults = False  # the default texture and sampler exist on the server

    def destroy(self) -> None:
        """Release the Vulkan device and instance (at interpreter exit)."""
        with LOCK:
            if self.alive and self.pid == os.getpid():
                self.alive = False
                self.c.server_destroy(self.handle)


_server: SharedServer | None = None


def shared_server(c: Any) -> SharedServer:
    """The server of this process, created on first use (a forked child gets its own)."""
    global _server
    with LOCK:
        if _server is None or _server.pid != os.getpid() or not _server.alive:
            _server = SharedServer(c)
            atexit.register(_server.destroy)
        return _server


class ServerObjects:
    """The server-side objects one batch created, deleted on :meth:`release`.

    :meth:`submit` must replace every direct submission of the batch (``scene_render``,
    ``server_submit``): it notes each ``create`` request on its way to the server.
    """

    # Deletion order: the canvas (its command buffers use the pipelines), then pipelines,
    # then the buffers and textures they bind. Shaders have no delete request in 0.3.5.
    _DELETE_ORDER = ("CANVAS", "GRAPHICS", "DAT", "TEX", "SAMPLER")

    def __init__(self, server: SharedServer, batch: Any) -> None:
        self.server = server
        self.batch = batch
        self.created: dict[int, list[int]] = {}

    def _note_pending(self) -> None:
        """Record the ids the pending requests create; drop duplicate default objects."""
        c = self.server.c
        raw = self.batch.contents
        count = int(raw.count)
        requests = raw.requests
        create = int(c.REQUEST_ACTION_CREATE)
        keep: list[int] = []
        for i in range(count):
            request = requests[i]
            rid = int(request.id)
            if int(request.action) == create:
                if rid in _DEFAULT_IDS:
                    if self.server.has_defaults:
                        continue  # drop it: the server holds this default object already
                else:
                    self.created.setdefault(int(request.type), []).append(rid)
            keep.append(i)
        if len(keep) != count:
            size = ctypes.sizeof(c.DvzRequest)
            base = ctypes.addressof(requests.contents)
            for new, old in enumerate(keep):
                if new != old:
                    ctypes.memmove(base + new * size, base + old * size, size)
            raw.count = len(keep)

    def render(self, scene: Any) -> None:
        """``scene_render`` with the created objects noted first."""
        with LOCK:
            self._note_pending()
            self.server.c.scene_render(scene, self.server.handle)
            self.server.has_defaults = True

    def release(self) -> None:
        """Delete every object this batch created on the server; drop unsent requests."""
        c = self.server.c
        with LOCK:
            c.batch_clear(self.batch)  # pending requests never reach the server
            if not self.server.alive or self.server.pid != os.getpid() or not self.created:
                self.created = {}
                return
            for name in self._DELETE_ORDER:
                kind = int(getattr(c, f"REQUEST_OBJECT_{name}"))
                delete = getattr(c, f"delete_{name.lower()}")
                for rid in self.created.get(kind, ()):
                    delete(self.batch, rid)
            self.created = {}
            if int(c.batch_size(self.batch)):
                c.server_submit(self.server.handle, self.batch)
