"""Drive the reference site in Chromium with real people's pointer paths (SapiMouse).

``plan_logins`` cuts consecutive stretches of movement out of one SapiMouse recording (a new,
non-overlapping stretch per login, so no login replays another) and ``run_tour`` has
``drive.mjs`` log in with them, optionally taking a screenshot of every page. Used by
``cursorprint site screenshots`` and by the reference site's browser test.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.data.datasets import read_sapimouse_session
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.stream.records.events import KIND_MOVE

__all__ = ["plan_logins", "run_tour", "DRIVER", "TourError"]

DRIVER = Path(__file__).resolve().parent / "drive.mjs"
MAX_PAUSE_MS = 250.0          # longer pauses of the recording are shortened to this
MAX_SIDE_PX = 700.0           # paths are scaled down to fit the page around the login form


class TourError(RuntimeError):
    """The tour could not run; the message says why."""


def _stretches(traj: Trajectory, seconds: float) -> list[np.ndarray]:
    """Consecutive ``seconds``-long stretches of the recording's moves as ``[t_ms, x, y]`` rows
    from t = 0, pauses longer than MAX_PAUSE_MS shortened to it (a login page is not read for
    long), each scaled down to fit the page."""
    moves = traj.kind == KIND_MOVE
    dt = np.minimum(np.diff(traj.t[moves] * 1000.0, prepend=traj.t[moves][:1] * 1000.0),
                    MAX_PAUSE_MS)
    t, x, y = np.cumsum(dt), traj.x[moves], traj.y[moves]
    out: list[np.ndarray] = []
    start = 0
    for i in range(1, len(t)):
        if t[i] - t[start] >= seconds * 1000.0:
            rows = np.column_stack([t[start:i + 1] - t[start], x[start:i + 1], y[start:i + 1]])
            span = max(float(np.ptp(rows[:, 1])), float(np.ptp(rows[:, 2])), 1.0)
            rows[:, 1:] *= min(1.0, MAX_SIDE_PX / span)
            out.append(rows)
            start = i + 1
    return out


def plan_logins(recording: Path, users: list[str], seconds: float = 8.0, *, name: str = "login",
                stop_when_allowed: bool = False) -> dict[str, Any]:
    """One login per entry of ``users``, each moving along its own stretch of ``recording``;
    screenshots are named ``<name>-<n>-<page>.png``."""
    stretches = _stretches(read_sapimouse_session(recording, recording.parent.name), seconds)
    if len(stretches) < len(users):
        raise TourError(f"{recording}: {len(stretches)} stretches of {seconds} s of movement, "
                        f"{len(users)} logins asked for")
    return {"name": name, "stopWhenAllowed": stop_when_allowed,
            "logins": [{"user": u, "path": np.round(s, 1).tolist()}
                       for u, s in zip(users, stretches, strict=False)]}


def run_tour(site_url: str, plan: dict[str, Any], collector_dir: Path,
             screenshots: Path | None = None, timeout_s: float = 600.0) -> list[dict[str, Any]]:
    """Run ``drive.mjs`` (node, from ``collector_dir`` where playwright-core is installed) and
    return what each login got: ``first`` page, ``decision``, ``via``, ``reasons``, ``score``."""
    if not (collector_dir / "node_modules" / "playwright-core").is_dir():
        raise TourError(f"{collector_dir}: no node_modules/playwright-core (run `npm ci` there)")
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as fh:
        json.dump(plan, fh)
        fh.flush()
        try:
            done = subprocess.run(
                ["node", "--input-type=module", "-e", DRIVER.read_text(), site_url, fh.name,
                 str(screenshots) if screenshots else "-"],
                cwd=collector_dir, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise TourError(f"the browser tour took more than {timeout_s:.0f} s") from None
    if done.returncode != 0:
        raise TourError(f"the browser tour failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["logins"]  # type: ignore[no-any-return]
