"""Human sub-movements for the replay bot: SapiMouse strokes of the TRAINING users only.

A replay bot moves along a real person's recorded stroke, rotated and scaled onto its own start
and target, with pixel jitter and a time stretch (``driver.mjs``, mover ``replay``). Only users
1-72 are used, so the people whose FPR is reported (73-120) never appear inside a bot.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from cursorprint.model.data.datasets import read_sapimouse_session
from cursorprint.model.data.trajectory import KIND_MOVE

__all__ = ["TRAIN_USERS", "replay_segments", "write_replay_segments"]

TRAIN_USERS = range(1, 73)


def replay_segments(root: Path, users: range = TRAIN_USERS, per_user: int = 30,
                    seed: int = 0) -> list[dict[str, object]]:
    """Strokes (moves between pauses > 150 ms or clicks) of >= 8 points and >= 40 px, <= 2 s:
    ``{"p": [[dt_ms, x, y], ...] relative to the stroke start, "dx", "dy", "len"}``."""
    rng = random.Random(seed)
    out: list[dict[str, object]] = []
    for u in users:
        files = sorted(Path(root).glob(f"user{u}/*3min*.csv")) + \
            sorted(Path(root).glob(f"user{u}.1/*3min*.csv"))
        if not files:
            continue
        tr = read_sapimouse_session(files[0], f"sapi{u}")
        t, x, y, k = tr.t * 1000.0, tr.x.astype(float), tr.y.astype(float), tr.kind
        cut = np.flatnonzero((np.diff(t) > 150) | (k[1:] != KIND_MOVE)) + 1
        segs = []
        for a, b in zip(np.r_[0, cut], np.r_[cut, len(t)], strict=True):
            idx = np.arange(a, b)
            idx = idx[k[idx] == KIND_MOVE]
            if len(idx) < 8 or t[idx[-1]] - t[idx[0]] > 2000:
                continue
            dx, dy = x[idx[-1]] - x[idx[0]], y[idx[-1]] - y[idx[0]]
            if np.hypot(dx, dy) < 40:
                continue
            dt = np.diff(t[idx], prepend=t[idx[0]])
            p = np.c_[np.round(dt, 1), x[idx] - x[idx[0]], y[idx] - y[idx[0]]]
            segs.append({"p": p.tolist(), "dx": float(dx), "dy": float(dy),
                         "len": float(np.hypot(dx, dy))})
        rng.shuffle(segs)
        out.extend(segs[:per_user])
    return out


def write_replay_segments(root: Path, path: Path) -> int:
    segs = replay_segments(root)
    Path(path).write_text(json.dumps(segs, separators=(",", ":")))
    return len(segs)
