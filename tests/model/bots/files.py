"""Tiny recordings written in the data sets' own formats (SapiMouse, Balabit) and a bot corpus
folder, for tests of the readers and of training end to end."""

from __future__ import annotations

import json
from pathlib import Path

from cursorprint.model.data.trajectory import KIND_DOWN, KIND_MOVE, KIND_UP, Trajectory

__all__ = ["write_sapimouse", "write_balabit", "write_corpus"]

_NAMES = {KIND_MOVE: ("NoButton", "Move"), KIND_DOWN: ("Left", "Pressed"),
          KIND_UP: ("Left", "Released")}


def _rows(tr: Trajectory, every: int = 1) -> list[tuple[float, str, str, int, int]]:
    moves = 0
    out = []
    for t, x, y, k in zip(tr.t, tr.x, tr.y, tr.kind, strict=True):
        if int(k) not in _NAMES:
            continue
        if int(k) == KIND_MOVE:
            moves += 1
            if moves % every:
                continue
        out.append((float(t), *_NAMES[int(k)], int(x), int(y)))
    return out


def write_sapimouse(path: Path, tr: Trajectory) -> Path:
    """``tr`` as a SapiMouse CSV (milliseconds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("client timestamp,button,state,x,y\n" + "".join(
        f"{int(round(1000 * t))},{b},{s},{x},{y}\n" for t, b, s, x, y in _rows(tr)))
    return path


def write_balabit(path: Path, tr: Trajectory, every: int = 1) -> Path:
    """``tr`` as a Balabit session file (seconds), keeping every ``every``-th move (7 on a
    16 ms recording: the ~110 ms updates of a remote desktop)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("record timestamp,client timestamp,button,state,x,y\n" + "".join(
        f"{t:.3f},{t:.3f},{b},{s},{x},{y}\n" for t, b, s, x, y in _rows(tr, every)))
    return path


def write_corpus(path: Path, sessions: list[tuple[str, Trajectory]]) -> Path:
    """A ``bots corpus`` folder: (library, trajectory) as ``sessions`` records."""
    path.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (lib, tr) in enumerate(sessions):
        rec = {"session_id": f"s{i}", "screen": list(tr.screen), "t": tr.t.tolist(),
               "x": tr.x.tolist(), "y": tr.y.tolist(), "k": tr.kind.tolist(),
               "b": tr.button.tolist()}
        lines.append(json.dumps({"lib": lib, "task": "t", "ok": True, "record": rec}))
    (path / "sessions.jsonl").write_text("\n".join(lines) + "\n")
    return path
