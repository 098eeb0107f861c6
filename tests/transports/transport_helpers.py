"""Shared helpers of the transport tests: node processes and publishing loops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from transports.protocol import PayloadKind
from transports.publisher import Publisher
from transports.state import OpaqueState

NODE_SCRIPT = Path(__file__).with_name("opaque_node.py")
REPO = Path(__file__).resolve().parents[2]


def checkout_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that imports this checkout's packages (a script's
    own folder comes first on its path, and an editable install may point at another checkout)."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)


def local_publisher(**kwargs: Any) -> Publisher:
    """A publisher on free loopback ports with an opaque state."""
    kwargs.setdefault("state", OpaqueState())
    kwargs.setdefault("heartbeat_interval", 0.1)
    return Publisher("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", **kwargs)


def start_node(endpoint: str, snapshot: str, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    """Start an opaque node process writing its result to ``out``."""
    env = checkout_env(PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, str(NODE_SCRIPT), endpoint, snapshot, str(out), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def node_result(proc: subprocess.Popen[bytes], out: Path, timeout: float = 20.0) -> dict[str, Any]:
    """Wait for a node process to finish and return its JSON result."""
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"node did not finish in {timeout} s:\n{err.decode()[-3000:]}") from None
    assert proc.returncode == 0, err.decode()[-3000:]
    return dict(json.loads(out.read_text()))


def wait_connected(pub: Publisher, count: int = 1, timeout: float = 20.0) -> None:
    """Wait until ``count`` snapshots were served (nodes have joined)."""
    deadline = time.monotonic() + timeout
    while pub.service_stats.snapshots < count:
        assert time.monotonic() < deadline, "no node asked for a snapshot"
        time.sleep(0.02)


def publish_series(pub: Publisher, start: int, count: int, interval: float = 0.0, size: int = 16) -> None:
    """Publish ``count`` distinct payloads (every 50th a keyframe, like a log's keyframes)."""
    for i in range(start, start + count):
        body = f"{i:08d};".encode() + bytes(size)
        kind = PayloadKind.KEYFRAME if i % 50 == 49 else PayloadKind.DELTA
        pub.publish(body, kind)
        if interval:
            time.sleep(interval)


def rss_anon(pid: int) -> int:
    """Anonymous resident memory of a process, in bytes (heap and buffers; mapped files apart)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no RssAnon for process {pid}")


class PeakMemory:
    """Samples a process's :func:`rss_anon` every 10 ms in a thread; ``peak`` is the most seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.first = self.peak = rss_anon(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            try:
                self.peak = max(self.peak, rss_anon(self.pid))
            except (OSError, AssertionError):  # the process ended
                return

    def stop(self) -> int:
        """Stop sampling; the peak."""
        self._stop.set()
        self._thread.join()
        return self.peak
