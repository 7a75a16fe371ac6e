"""Readers that turn recordings into :class:`Trajectory` objects.

* Balabit Mouse Dynamics Challenge session files (cleaned: out-of-range coordinates clamped to
  the session's real screen, repeated/decreasing timestamps made strictly increasing by 1 ms).
* SapiMouse (browser recordings of 120 users) for backbone pretraining.
* Records of the project's own ``sessions`` Kafka topic (a decoded JSON dict).
* Synthetic users: re-exported from :mod:`cursorprint.model.data.synthetic` (meta says synthetic).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from cursorprint.model.data.synthetic import synth_users
from cursorprint.model.data.trajectory import (
    BUTTON_LEFT,
    BUTTON_MIDDLE,
    BUTTON_NONE,
    BUTTON_RIGHT,
    KIND_DOWN,
    KIND_MOVE,
    KIND_UP,
    KIND_WHEEL,
    Trajectory,
)

__all__ = ["DatasetError", "read_balabit_session", "load_balabit", "read_labels",
           "read_sapimouse_session", "load_sapimouse", "trajectory_from_session_record",
           "strictly_increasing", "synth_users"]

_STATE = {"Move": KIND_MOVE, "Drag": KIND_MOVE, "Pressed": KIND_DOWN, "Released": KIND_UP,
          "Down": KIND_WHEEL, "Up": KIND_WHEEL}
_BUTTON = {"NoButton": BUTTON_NONE, "Left": BUTTON_LEFT, "Right": BUTTON_RIGHT,
           "Scroll": BUTTON_NONE, "Middle": BUTTON_MIDDLE, "XButton": BUTTON_NONE,
           "Other": BUTTON_NONE}
_MAX_SANE = 10000.0   # coordinates at or above this are artefacts (Balabit has 65535)


class DatasetError(ValueError):
    """A recording that cannot be read; the message names the file and the problem."""


def strictly_increasing(t: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """Times made strictly increasing by at least ``eps`` (vectorised, keeps order)."""
    i = np.arange(len(t)) * eps
    return np.maximum.accumulate(np.asarray(t, dtype=np.float64) - i) + i


def _read_rows(path: Path, header: str) -> list[list[str]]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    if not rows or ",".join(rows[0]).strip() != header:
        raise DatasetError(f"{path}: expected header {header!r}")
    return rows[1:]


def _build(path: Path, t: list[str], b: list[str], s: list[str], x: list[str], y: list[str],
           t_scale: float, meta: dict[str, object]) -> Trajectory:
    try:
        tt = np.asarray(t, dtype=np.float64) * t_scale
        xx = np.asarray(x, dtype=np.float64)
        yy = np.asarray(y, dtype=np.float64)
        kind = np.array([_STATE[v] for v in s], dtype=np.uint8)
        btn = np.array([_BUTTON[v] for v in b], dtype=np.uint8)
    except (ValueError, KeyError) as exc:
        raise DatasetError(f"{path}: bad value {exc}") from exc
    if len(tt) == 0:
        raise DatasetError(f"{path}: no events")
    sane = (xx >= 0) & (yy >= 0) & (xx < _MAX_SANE) & (yy < _MAX_SANE)
    w = int(xx[sane].max()) + 1 if sane.any() else 1920
    h = int(yy[sane].max()) + 1 if sane.any() else 1080
    xx = np.clip(xx, 0, w - 1)
    yy = np.clip(yy, 0, h - 1)
    tt = strictly_increasing(tt - tt[0])
    return Trajectory.from_columns(tt, xx, yy, kind, btn, (w, h), meta)


def read_balabit_session(path: Path) -> Trajectory:
    """One Balabit session file; ``meta`` has user (from the folder), session and source."""
    path = Path(path)
    rows = _read_rows(path, "record timestamp,client timestamp,button,state,x,y")
    cols = list(zip(*rows, strict=True)) if rows else [()] * 6
    return _build(path, list(cols[1]), list(cols[2]), list(cols[3]), list(cols[4]),
                  list(cols[5]), 1.0, {"user": path.parent.name, "session": path.name,
                                       "source": "balabit"})


def load_balabit(root: Path, split: str = "training_files") -> list[Trajectory]:
    """Every session of ``root/split`` (``training_files`` or ``test_files``), sorted."""
    base = Path(root) / split
    if not base.is_dir():
        raise DatasetError(f"{base} is not a folder (expected the Balabit {split})")
    return [read_balabit_session(p) for p in sorted(base.glob("user*/session_*"))]


def read_labels(path: Path) -> dict[str, tuple[str, int]]:
    """``labels_dev.csv``: filename -> (user, is_illegal)."""
    out: dict[str, tuple[str, int]] = {}
    rows = _read_rows(Path(path), "filename,user,is_illegal")
    for i, r in enumerate(rows, 2):
        if len(r) != 3 or r[2] not in ("0", "1"):
            raise DatasetError(f"{path}:{i}: expected filename,user,0|1, got {r}")
        out[r[0]] = (r[1], int(r[2]))
    return out


def read_sapimouse_session(path: Path, user: str) -> Trajectory:
    """One SapiMouse CSV (milliseconds, browser page pixels)."""
    path = Path(path)
    rows = _read_rows(path, "client timestamp,button,state,x,y")
    cols = list(zip(*rows, strict=True)) if rows else [()] * 5
    return _build(path, list(cols[0]), list(cols[1]), list(cols[2]), list(cols[3]),
                  list(cols[4]), 1e-3, {"user": user, "session": f"{user}/{path.stem}",
                                        "recording": path.parent.name,
                                        "source": "sapimouse"})


def load_sapimouse(root: Path) -> list[Trajectory]:
    """All SapiMouse sessions; ``user35.1``/``user35.2`` are the same person (``sapi35``)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder (expected the SapiMouse data set)")
    out: list[Trajectory] = []
    for d in sorted(root.glob("user*")):
        user = "sapi" + d.name[4:].split(".")[0]
        out.extend(read_sapimouse_session(p, user) for p in sorted(d.glob("*.csv")))
    return out


def trajectory_from_session_record(rec: Mapping[str, object]) -> Trajectory:
    """A decoded ``sessions`` topic record -> Trajectory (raises DatasetError naming the field)."""
    try:
        screen_raw = rec["screen"]
        cols = {k: np.asarray(rec[k], dtype=np.float64) for k in ("t", "x", "y", "k", "b")}
    except KeyError as exc:
        raise DatasetError(f"sessions record lacks field {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"sessions record has a non-numeric event column: {exc}") from exc
    n = len(cols["t"])
    for k, v in cols.items():
        if v.ndim != 1 or len(v) != n:
            raise DatasetError(f"sessions record field {k!r} must be a list of {n} numbers")
        if not np.isfinite(v).all():
            raise DatasetError(f"sessions record field {k!r} has non-finite values")
    if not (isinstance(screen_raw, list | tuple) and len(screen_raw) == 2):
        raise DatasetError(f"sessions record field 'screen' must be [w, h], got {screen_raw!r}")
    w, h = (int(v) for v in screen_raw)
    if w <= 0 or h <= 0:
        raise DatasetError(f"sessions record field 'screen' must be positive, got {screen_raw!r}")
    if n and np.any(np.diff(cols["t"]) < 0):
        raise DatasetError("sessions record field 't' must be non-decreasing")
    meta = {k: rec[k] for k in ("session_id", "user", "site", "path", "part") if k in rec}
    meta["source"] = "sessions"
    return Trajectory.from_columns(cols["t"], cols["x"], cols["y"], cols["k"], cols["b"], (w, h),
                                   meta)
