"""Publish a recorded session at its recorded pace (``gsp serve``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sessions import ChunkKind, LogFormatError
from sessions.chunk import KEYFRAME_KINDS, check_chunk
from sessions.codec import links_as_recorded
from transports.protocol import DEFAULT_MAX_PAYLOAD, PayloadKind
from transports.publisher import Publisher
from transports.scene_state import SceneStreamState
from transports.security import ServerSecurity

__all__ = ["serve_log"]

log = logging.getLogger(__name__)


def serve_log(
    reader: Any,
    bind: str,
    snapshot: str | None = None,
    *,
    speed: float = 1.0,
    stop: threading.Event | None = None,
    wait: float = 0.5,
    security: ServerSecurity | None = None,
    max_payload: int = DEFAULT_MAX_PAYLOAD,
    heartbeat_interval: float = 0.25,
    end_grace: float = 1.0,
    on_ready: Callable[[str, str], Any] | None = None,
) -> int:
    """Publish every intact chunk of an open ``sessions.LogReader`` at its time; return the
    count. A damaged chunk (checksum, size, or a keyframe that cannot be rebuilt) is logged and
    left out, as ``gsp repair`` leaves it out: the nodes then go on without its commands,
    instead of resynchronising against a publisher whose own state stopped there.

    The chunk bytes are forwarded unchanged and the file's own header travels with snapshots,
    so a node that joins before ``wait`` runs out saves a byte-identical copy (except for
    LINKED_KEYFRAME chunks, which point into the file: they travel as the self-contained
    KEYFRAME they stand for). One call is one session (a new session id); the publisher is
    closed, with its END, on return, after serving the final state for ``end_grace`` seconds
    (the :class:`~transports.publisher.Publisher`'s). ``on_ready(endpoint, snapshot_endpoint)``
    is told where it bound (a wildcard port resolved) before the first chunk goes out.
    """
    stop = stop or threading.Event()
    with open(reader.path, "rb") as file:
        header = file.read(reader.header.size)
        pub = Publisher(
            bind,
            snapshot,
            state=SceneStreamState(keep_links_as_recorded=True, skip_failing=True),
            session_header=header,
            security=security,
            max_payload=max_payload,
            heartbeat_interval=heartbeat_interval,
            end_grace=end_grace,
        )
        sent = 0
        ended = False  # every chunk served (or the user stopped it): the nodes are told the session ended
        try:
            log.info("serving %s on %s (snapshots on %s)", reader.path, pub.endpoint, pub.snapshot_endpoint)
            if on_ready is not None:
                on_ready(pub.endpoint, pub.snapshot_endpoint)
            stop.wait(wait)
            began = time.monotonic()
            first_t: int | None = None
            for number, entry in enumerate(reader.index.entries):
                if entry.kind != ChunkKind.COMMANDS and entry.kind not in KEYFRAME_KINDS:
                    continue
                first_t = entry.t_first if first_t is None else first_t
                due = began + (entry.t_first - first_t) / 1e9 / speed
                if stop.wait(max(0.0, due - time.monotonic())):
                    break
                while pub.queued > 8 and not stop.is_set():  # pace to the I/O thread: serve never drops
                    time.sleep(0.001)
                try:
                    if entry.kind == ChunkKind.COMMANDS:
                        file.seek(entry.offset)
                        data = file.read(entry.size)
                        kind = PayloadKind.DELTA
                    else:  # its links as recorded: a user's own link type needs no class here
                        with links_as_recorded():
                            data, kind = reader.standalone_keyframe(number), PayloadKind.KEYFRAME
                    check_chunk(data, offset=entry.offset, chunk_index=number)
                except LogFormatError as error:
                    log.error("%s: left out a damaged chunk (seq %d..%d): %s", reader.path, entry.seq_first,
                              entry.seq_last, error)
                    continue
                if len(data) > max_payload:  # the publisher would refuse it: leave it out as a damaged one
                    log.error("%s: left out a chunk of %d bytes, over the largest message of %d (seq %d..%d; "
                              "--max-message)", reader.path, len(data), max_payload, entry.seq_first, entry.seq_last)
                    continue
                pub.publish(data, kind)
                sent += 1
            ended = True
        finally:
            pub.close(end=ended)  # a failure is no session end: nodes time out instead of keeping half a scene
    return sent
