"""Process and port helpers of the local stack: free ports, liveness, process groups, pid files.

Used by the stack launcher, the tests and the benchmarks, so all of them start, watch and stop
processes the same way.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

__all__ = ["free_port", "port_open", "alive", "signal_group", "wait_gone", "read_pid"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for private stacks, tests, benchmarks)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive -- but in a multi-threaded process (the
    # JVM) the leader thread shows "Z" while the other threads still run their shutdown hooks.
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().split(") ", 1)[1][0] != "Z":
                return True
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False


def signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:      # it exited in the meantime
        pass


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` has exited (and reap it if it is our child); False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:       # not our child (or already reaped): watch /proc
            if not alive(pid):
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
