"""Decoding the blocks of one big chunk on several threads.

The lz4 blocks of a ``BLOCKS`` chunk (sessions/blocks.py) are independent, and the C loop over
them (``sessions._shuffle.BlockRun``: liblz4 and the unshuffle kernel) runs without the GIL, so a
chunk of a few MB decodes on as many cores as it is given: the calling thread and pool threads
each decode a run of blocks, then help with the runs still unfinished (sessions/blocks.py); one
of them computes the payload's checksum first, which xxhash does without the GIL. The call
returns once every block is in place.

``GSP_DECODE_THREADS=N`` (read at import) sets the number of threads, the caller's included;
``1`` (or ``0``) decodes on the calling thread only. The default is the number of CPUs this process may
run on, at most :data:`MAX_DEFAULT_THREADS`. Chunks of fewer than ``2 *``
:data:`MIN_BLOCKS_PER_THREAD` blocks are decoded on the calling thread: below that, handing work
over costs more than it saves.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["ENV_THREADS", "MAX_DEFAULT_THREADS", "MIN_BLOCKS_PER_THREAD", "run", "set_threads", "threads", "workers"]

ENV_THREADS = "GSP_DECODE_THREADS"
MAX_DEFAULT_THREADS = 4
#: Fewest blocks (256 KiB each when written by gsplog) worth giving a thread. 4 since the C loop
#: (2 MB chunks of 6 arrays, VM, 2 threads against 1: 0.58x -> 0.84-0.88x lz4; 3 MB 0.65x ->
#: 1.03-1.07x); 8 while the threads ran the Python loop, which needed the GIL between blocks.
MIN_BLOCKS_PER_THREAD = 4


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _threads_from_env() -> int:
    value = os.environ.get(ENV_THREADS, "").strip()
    if value.isdigit():
        return max(1, int(value))  # 0 reads as "no extra threads"
    if value:
        warnings.warn(f"{ENV_THREADS}={value!r} is not a number of threads: using the default", stacklevel=2)
    return min(MAX_DEFAULT_THREADS, _usable_cpus())


_threads = _threads_from_env()
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def threads() -> int:
    """Threads a big chunk is decoded on, the caller's included."""
    return _threads


def set_threads(count: int) -> None:
    """Decode big chunks on ``count`` threads from now on (1: the calling thread only)."""
    global _threads, _pool
    if count < 1:
        raise ValueError(f"decode threads must be at least 1, got {count}")
    with _pool_lock:
        _threads = count
        if _pool is not None:
            _pool.shutdown(wait=False)  # idle workers end; a new pool of the right size comes on demand
            _pool = None


def workers(block_count: int) -> int:
    """Threads worth using for ``block_count`` blocks (at least 1, at most :func:`threads`)."""
    return max(1, min(_threads, block_count // MIN_BLOCKS_PER_THREAD))


def run(jobs: Sequence[Callable[[], None]]) -> None:
    """Every job: the first on this thread, the others on the pool (all here when decoding is
    single-threaded, there is one job, or the pool takes no more work because the interpreter
    is exiting). Waits for every job, then raises the error of the earliest job (in list order)
    that failed, if any."""
    pooled: list[tuple[int, Future[None]]] = []
    here = [0]
    if len(jobs) > 1 and _threads > 1:
        pool = _get_pool()
        for number in range(1, len(jobs)):
            try:
                pooled.append((number, pool.submit(_Once(jobs[number]))))
            except RuntimeError:  # shut down (interpreter exit): this thread does the rest
                here.extend(range(number, len(jobs)))
                break
    else:
        here.extend(range(1, len(jobs)))
    errors: dict[int, BaseException] = {}
    for number in here:  # the other jobs still write into the same body: wait for them all
        try:
            jobs[number]()
        except BaseException as error:
            errors[number] = error
    for number, future in pooled:
        failure = future.exception()
        if failure is not None:
            errors[number] = failure
    if errors:
        raise errors[min(errors)]


class _Once:
    """A job for the pool that lets go of it as soon as it has run, before its future is done: a
    worker thread deletes its work item only after setting the future's result, and the caller
    may resume in between while the job still holds a chunk's body (which would then come back
    as a spare a moment later)."""

    def __init__(self, job: Callable[[], None]) -> None:
        self.job: Callable[[], None] | None = job

    def __call__(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job()


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(1, _threads - 1), thread_name_prefix="gsplog-decode")
        return _pool


def _forget_pool_in_child() -> None:
    # A forked child inherits the pool object but none of its threads: work sent there would wait forever.
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)
