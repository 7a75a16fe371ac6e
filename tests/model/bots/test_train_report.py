"""``train_and_report`` end to end on tiny data in the data sets' own formats: the saved
thresholds are the highest of each calibration population's (SapiMouse's and Balabit's)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cursorprint.model.bots.model import BotModel
from cursorprint.model.bots.train import (
    TARGET_FPR,
    calibrate_thresholds,
    human_samples,
    sapimouse_users,
    train_and_report,
)
from cursorprint.model.data.datasets import load_balabit
from cursorprint.model.data.synthetic import random_style, scripted_style, synth_session
from cursorprint.model.data.trajectory import Trajectory
from tests.model.bots.files import write_balabit, write_corpus, write_sapimouse


def test_train_and_report_thresholds_hold_on_each_population(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)

    def person(user: str) -> Trajectory:
        return synth_session(rng, random_style(rng), 500, meta={"user": user})

    for u in (1, 2, 3, 57, 58, 73, 74):
        write_sapimouse(tmp_path / "sapi" / f"user{u}" / "session_3min.csv", person(f"u{u}"))
    # ten Balabit users (the split is 4 / 2 / 4 by name), sampled like a remote desktop
    for u in range(10, 20):
        write_balabit(tmp_path / "bal" / "training_files" / f"user{u}" / "session_1",
                      person(f"b{u}"), every=7)
    write_corpus(tmp_path / "corpus", [(lib, synth_session(rng, scripted_style(rng), 300))
                                       for lib in ("a", "b") for _ in range(4)])
    report = train_and_report(tmp_path / "corpus", tmp_path / "sapi", tmp_path / "model",
                              tmp_path / "bal", kinds=("logreg",), progress=lambda _m: None)

    saved = json.loads((tmp_path / "model" / "report.json").read_text())
    assert set(saved["lolo"]) == {"logreg", "logreg:balabit"}
    assert set(saved["lolo"]["logreg"]) == {"a", "b"}
    # every non-test Balabit user left out in turn, none of the test users
    louo = saved["balabit_leave_one_user_out"]
    assert sorted(louo) == [f"user{u}" for u in range(10, 16)]
    assert all(0.0 <= r["fpr"] <= 1.0 and r["n"] > 0 for by_h in louo.values()
               for r in by_h.values())
    bal_final = report["final"]["logreg"]["balabit"]["5s"]
    assert bal_final["n_people_sparse"] > 0 and 0.0 <= bal_final["fpr_sparse"] <= 1.0
    model = BotModel.load(tmp_path / "model")
    # the same calibration crops as training takes: SapiMouse 57-58, Balabit users 14 and 15
    sapi_calib = human_samples(sapimouse_users(tmp_path / "sapi", range(57, 73)), crops=25)
    bal = load_balabit(tmp_path / "bal")
    bal_calib = human_samples([t for t in bal if t.meta["user"] in ("user14", "user15")],
                              crops=40)
    assert (bal_calib.regime == "sparse").mean() > 0.9
    each = [calibrate_thresholds(model, [p], TARGET_FPR) for p in (sapi_calib, bal_calib)]
    for h, th in model.thresholds.items():
        assert th == max(e[h] for e in each)
