"""Waiting for a service this process started to answer 200 on its readiness URL.

Shared by the main job, the benchmarks and the integration tests, so they all give up the same
way: as soon as the process has exited, or when the deadline passes.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request

from cursorprint.stream.records.errors import CursorprintError

__all__ = ["NotReady", "wait_ready"]


class NotReady(CursorprintError, RuntimeError):
    """The service exited, or did not answer 200 in time."""


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Poll ``url`` (e.g. a /readyz) every half second until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NotReady(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise NotReady(f"{url} not ready after {timeout:.0f} s")
