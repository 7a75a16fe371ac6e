"""Flag rate of the remote-access detector on Balabit (remote desktop) and SapiMouse (browser).

Balabit was recorded over a remote-desktop connection, SapiMouse locally in a web browser, so the
share of sessions the detector (:mod:`cursorprint.model.features.remote_access`) flags is its
detection rate on the one and its false-positive rate on the other. The thresholds were chosen
from reasoning and the TRAINING parts only (Balabit ``training_files``, SapiMouse users of the
published backbone split, 1-72); the held-out figures are Balabit ``test_files`` (every session)
and SapiMouse's test users (73-120, both recordings each). Both parts are reported.

The two sets differ in more than the protocol (other applications, screens, recording
software), so the rates bound what the marks separate on these data, not in the field.

Writes ``report.json`` (rates per part, feature quantiles) and ``features.csv`` (one row per
session: part, session, the measured features, the verdict).
"""

from __future__ import annotations

import csv
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.data import datasets
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.evaluation.protocol import PUBLISHED, user_number
from cursorprint.model.features.remote_access import (
    REASON_REMOTE_ACCESS,
    RemoteAccessFeatures,
    remote_access_features,
)

__all__ = ["evaluate_remote_access", "PARTS"]

log = logging.getLogger(__name__)
# part name -> (data set, held out?)
PARTS = {"balabit_training": ("balabit", False), "sapimouse_users_1_72": ("sapimouse", False),
         "balabit_test": ("balabit", True), "sapimouse_users_73_120": ("sapimouse", True)}
_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_NUMERIC = ("move_intervals", "median_interval_s", "median_step_px", "grid_share", "burst_share",
            "marks")


def _summary(feats: list[RemoteAccessFeatures]) -> dict[str, Any]:
    n = len(feats)
    flagged = sum(f.verdict is True for f in feats)
    no_verdict = sum(f.verdict is None for f in feats)
    out: dict[str, Any] = {
        "sessions": n, "flagged": flagged, "no_verdict": no_verdict,
        "flag_rate": flagged / n if n else None,
        "marks_present": {m: sum(getattr(f, m) for f in feats)
                          for m in ("sparse", "jumps", "quantised", "bursts")},
        "quantiles": {},
    }
    for key in _NUMERIC:
        vals = np.array([getattr(f, key) for f in feats], dtype=np.float64)
        vals = vals[np.isfinite(vals)]
        out["quantiles"][key] = ({str(q): float(np.quantile(vals, q)) for q in _QUANTILES}
                                 if len(vals) else {})
    return out


def _sapimouse_part(sessions: list[Trajectory], users: tuple[int, ...]) -> list[Trajectory]:
    keep = set(users)
    return [s for s in sessions if user_number(str(s.meta["user"])) in keep]


def evaluate_remote_access(balabit: Path, sapimouse: Path, out: Path) -> dict[str, Any]:
    """Measure every session of the four parts; write ``report.json`` and ``features.csv``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    sapi = datasets.load_sapimouse(sapimouse)
    parts: dict[str, list[Trajectory]] = {
        "balabit_training": datasets.load_balabit(balabit, "training_files"),
        "sapimouse_users_1_72": _sapimouse_part(sapi, PUBLISHED.backbone_users),
        "balabit_test": datasets.load_balabit(balabit, "test_files"),
        "sapimouse_users_73_120": _sapimouse_part(sapi, PUBLISHED.test_users),
    }
    report: dict[str, Any] = {"reason": REASON_REMOTE_ACCESS, "parts": {}}
    with open(out / "features.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["part", "source", "user", "session", *_NUMERIC, "sparse", "jumps",
                    "quantised", "bursts", "verdict"])
        for name, sessions in parts.items():
            feats = [remote_access_features(s) for s in sessions]
            for s, ft in zip(sessions, feats, strict=True):
                w.writerow([name, s.meta.get("source"), s.meta.get("user"), s.meta.get("session"),
                            *(getattr(ft, k) for k in _NUMERIC), ft.sparse, ft.jumps,
                            ft.quantised, ft.bursts, ft.verdict])
            source, held_out = PARTS[name]
            report["parts"][name] = {"source": source, "held_out": held_out, **_summary(feats)}
            log.info("%s: %d of %d sessions flagged", name,
                     report["parts"][name]["flagged"], len(sessions))
    report["goal"] = {"balabit_test_min_flag_rate": 0.9, "sapimouse_test_max_flag_rate": 0.01}
    report["seconds"] = round(time.time() - t0, 1)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report
