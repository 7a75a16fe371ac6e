"""``cursorprint bots corpus|train`` and ``cursorprint score``: the bot score, offline.

- ``bots corpus --out DIR``: record bot sessions of humanizing libraries in Chromium through the
  real collector (``stream/devtools/botcorpus``).
- ``bots train --corpus DIR --sapimouse DIR --out MODEL``: leave-one-library-out report and the
  final bot model (``MODEL/bot.json``, ``MODEL/report.json``).
- ``bots touchpad --model MODEL``: the synthetic touchpad check (``model/bots/touchpad.py``): the
  false-positive rate on SapiMouse people as recorded and made touchpad-like.
- ``score --model DIR FILE...``: one JSON line per recording: the bot score and its reasons, the
  scripted-movement rule codes, and the identity score when ``--user`` is given (identity model
  from ``--identity-model``, or ``DIR`` itself when it holds ``model.json``; the same
  ``SessionScorer.score_session`` the stream's scores equal).

Recordings ``score`` reads (by their header / suffix):
- generic CSV, header ``t_ms,x,y,kind,button``: time in ms, CSS pixels, kind ``move|down|up|
  wheel|leave`` (or the wire codes 0-4), button ``none|left|middle|right`` (or 0-3); the screen
  size from ``--screen WxH`` (default: the extent of the points);
- SapiMouse CSV (``client timestamp,button,state,x,y``), Balabit session files
  (``record timestamp,client timestamp,button,state,x,y``);
- ``.json`` / ``.jsonl``: ``sessions`` topic records (one per line), or bot corpus lines.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["register", "read_recordings", "read_generic_csv"]

_KINDS = {"move": 0, "down": 1, "up": 2, "wheel": 3, "leave": 4}
_BUTTONS = {"none": 0, "": 0, "left": 1, "middle": 2, "right": 3}
GENERIC_HEADER = "t_ms,x,y,kind,button"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    bots = sub.add_parser("bots", help="bot corpus and bot score training")
    verbs = bots.add_subparsers(dest="verb", metavar="VERB", required=True)
    c = verbs.add_parser("corpus", help="record bot sessions of humanizing libraries in Chromium")
    c.add_argument("--out", type=Path, required=True, help="output folder (keep it out of git)")
    c.add_argument("--libs", default=",".join(_all_libs()),
                   help="comma-separated libraries (default: all)")
    c.add_argument("--sessions", type=int, default=25, help="page sessions per library")
    c.add_argument("--sapimouse", type=Path, default=None, help="SapiMouse folder (human "
                   "strokes for the replay library; default CURSORPRINT_DATA_DIR/sapimouse)")
    c.add_argument("--seed", type=int, default=1)
    c.set_defaults(handler=_corpus)
    t = verbs.add_parser("train", help="leave-one-library-out report + final bot model")
    t.add_argument("--corpus", type=Path, required=True)
    t.add_argument("--sapimouse", type=Path, default=None,
                   help="SapiMouse folder (default CURSORPRINT_DATA_DIR/sapimouse)")
    t.add_argument("--balabit", type=Path, default=None,
                   help="Balabit folder: also report the FPR on its people")
    t.add_argument("--out", type=Path, required=True, help="model folder (bot.json, report.json)")
    t.add_argument("--kinds", default="logreg,mlp",
                   help="supervised models to evaluate; the first is saved")
    t.set_defaults(handler=_train)
    p = verbs.add_parser("touchpad", help="synthetic check: FPR on people's movement made "
                         "touchpad-like (slower, clutched strokes)")
    p.add_argument("--model", type=Path, required=True, help="folder with bot.json")
    p.add_argument("--sapimouse", type=Path, default=None,
                   help="SapiMouse folder (default CURSORPRINT_DATA_DIR/sapimouse)")
    p.add_argument("--users", type=_user_range, default="73-96", help="SapiMouse users FIRST-LAST (default: "
                   "test users 73-96, never used to train or calibrate)")
    p.add_argument("--crops", type=int, default=10, help="crops per recording and horizon")
    p.set_defaults(handler=_touchpad)
    s = sub.add_parser("score", help="bot score (and identity score) of recordings, JSON lines")
    s.add_argument("--model", type=Path, required=True,
                   help="folder with bot.json (and optionally an identity model.json)")
    s.add_argument("--user", default=None, help="claimed user: adds the identity score")
    s.add_argument("--identity-model", type=Path, default=None,
                   help="identity model directory (default: --model when it has model.json)")
    s.add_argument("--screen", default=None, help="screen size WxH for generic CSV files")
    s.add_argument("--seconds", type=float, default=None,
                   help="score only the first N seconds of movement")
    s.add_argument("files", nargs="+", type=Path)
    s.set_defaults(handler=_score)


def _all_libs() -> tuple[str, ...]:
    from cursorprint.stream.devtools.botcorpus.corpus import ALL_LIBS

    return ALL_LIBS


def _sapimouse(args: argparse.Namespace) -> Path:
    """``--sapimouse``, else the data set under CURSORPRINT_DATA_DIR (SettingsError if absent)."""
    from cursorprint.stream.settings import load_settings

    if args.sapimouse is not None:
        return Path(args.sapimouse)
    return load_settings(sections=("general",)).general.dataset("sapimouse")


def _corpus(args: argparse.Namespace) -> int:
    from cursorprint.stream.devtools.botcorpus.corpus import make_corpus

    summary = make_corpus(args.out, [s for s in args.libs.split(",") if s], args.sessions,
                          _sapimouse(args), args.seed)
    print(json.dumps(summary, indent=2))
    return 0


def _train(args: argparse.Namespace) -> int:
    from cursorprint.model.bots.train import train_and_report

    train_and_report(args.corpus, _sapimouse(args), args.out, args.balabit,
                     [k for k in args.kinds.split(",") if k],
                     progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(args.out / "report.json")
    return 0


def _user_range(text: str) -> range:
    first, sep, last = text.partition("-")
    if not (first.isdigit() and (not sep or last.isdigit())):
        raise ValueError(f"--users must be FIRST-LAST or N, got {text!r}")
    return range(int(first), int(last or first) + 1)


def _touchpad(args: argparse.Namespace) -> int:
    from cursorprint.model.bots.model import BotModel
    from cursorprint.model.bots.touchpad import touchpad_check
    from cursorprint.model.bots.train import sapimouse_users

    root = _sapimouse(args)
    users = f"{args.users.start}-{args.users.stop - 1}"
    people = sapimouse_users(root, args.users)
    if not people:
        print(f"cursorprint: no SapiMouse recordings of users {users} under {root}",
              file=sys.stderr)
        return 2
    report = touchpad_check(BotModel.load(args.model), people, crops=args.crops)
    print(json.dumps({"synthetic": True, "users": users, "sessions": len(people),
                      "fpr": report}, indent=2))
    return 0


def _code(value: str, table: dict[str, int], what: str, path: Path, line: int) -> int:
    v = value.strip().lower()
    if v.isdigit():
        return int(v)
    if v not in table:
        raise ValueError(f"{path}:{line}: unknown {what} {value!r} (one of {sorted(table)})")
    return table[v]


def read_generic_csv(path: Path, screen: tuple[int, int] | None = None) -> Any:
    """A generic ``t_ms,x,y,kind,button`` CSV as a Trajectory (times made increasing)."""
    from cursorprint.model.data.datasets import strictly_increasing
    from cursorprint.model.data.trajectory import Trajectory

    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or ",".join(c.strip() for c in rows[0]) != GENERIC_HEADER:
        raise ValueError(f"{path}: expected the header {GENERIC_HEADER!r}")
    t, x, y, k, b = [], [], [], [], []
    for i, r in enumerate(rows[1:], 2):
        if len(r) != 5:
            raise ValueError(f"{path}:{i}: expected 5 columns")
        t.append(float(r[0]) / 1000.0)
        x.append(float(r[1]))
        y.append(float(r[2]))
        k.append(_code(r[3], _KINDS, "kind", path, i))
        b.append(_code(r[4], _BUTTONS, "button", path, i))
    if not t:
        raise ValueError(f"{path}: no events")
    tt = strictly_increasing(np.asarray(t) - t[0])
    size = screen or (int(max(x)) + 1, int(max(y)) + 1)
    return Trajectory.from_columns(tt, x, y, k, b, size, {"source": "csv", "session": path.name})


def read_recordings(path: Path, screen: tuple[int, int] | None = None) -> list[tuple[str, Any]]:
    """(name, Trajectory) of each recording in ``path``, by its header or suffix."""
    from cursorprint.model.data.datasets import (
        read_balabit_session,
        read_sapimouse_session,
        trajectory_from_session_record,
    )

    path = Path(path)
    if path.suffix in (".json", ".jsonl"):
        out = []
        for i, line in enumerate(path.read_text().splitlines()):
            if not line.strip():
                continue
            d = json.loads(line)
            rec = d.get("record", d)
            name = f"{path}:{i + 1}" if path.suffix == ".jsonl" else str(path)
            out.append((name, trajectory_from_session_record(rec)))
        return out
    with open(path) as f:
        head = f.readline().strip()
    if head.replace(" ", "") == GENERIC_HEADER:
        return [(str(path), read_generic_csv(path, screen))]
    if head == "client timestamp,button,state,x,y":
        return [(str(path), read_sapimouse_session(path, path.parent.name))]
    if head == "record timestamp,client timestamp,button,state,x,y" or path.name.startswith("session_"):
        return [(str(path), read_balabit_session(path))]
    raise ValueError(f"{path}: unknown format (header {head[:60]!r})")


def _score(args: argparse.Namespace) -> int:
    from cursorprint.model.bots.features import crop
    from cursorprint.model.bots.model import BotModel

    bot = BotModel.load(args.model)
    screen = None
    if args.screen:
        w, _, h = args.screen.lower().partition("x")
        screen = (int(w), int(h))
    identity = None
    id_dir = args.identity_model or args.model
    if args.user is not None:
        if not (id_dir / "model.json").is_file():
            print(f"cursorprint: {id_dir} has no model.json: no identity score", file=sys.stderr)
        else:
            from cursorprint.model.serving.scoring import SessionScorer

            identity = SessionScorer.load(id_dir)
    from cursorprint.stream.score.scripted import scripted_reasons
    status = 0
    for f in args.files:
        try:
            recs = read_recordings(f, screen)
        except (OSError, ValueError) as exc:
            print(json.dumps({"file": str(f), "error": str(exc)}), flush=True)
            status = 1
            continue
        for name, traj in recs:
            if args.seconds is not None:
                traj = crop(traj, args.seconds)
            verdict = bot.score(traj)
            out: dict[str, Any] = {"file": name, "events": len(traj),
                                   "seconds": round(traj.duration, 3), **verdict.to_dict()}
            reasons = list(verdict.reasons)
            reasons += [r for r in scripted_reasons(traj) if r not in reasons]
            if identity is not None:
                s = identity.score_session(args.user, traj)
                out.update({"user": args.user, "score": round(s.score, 4),
                            "head_version": s.head_version})
                reasons += [r for r in s.reasons if r not in reasons]
            out["reasons"] = reasons
            print(json.dumps(out), flush=True)
    return status
