"""The synthetic touchpad transform and check, and ``cursorprint bots touchpad``, on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cursorprint.model.bots.features import PAUSE_S
from cursorprint.model.bots.model import BotModel
from cursorprint.model.bots.touchpad import VARIANTS, touchpad_check, touchpad_like
from cursorprint.model.bots.train import bot_samples, fit_bot_model, human_samples
from cursorprint.model.data.synthetic import random_style, scripted_style, synth_session
from cursorprint.model.data.trajectory import KIND_DOWN, KIND_MOVE, KIND_UP, Trajectory
from cursorprint.stream.cli.root import main
from tests.model.bots.files import write_sapimouse


def _person(seed: int = 0, events: int = 600) -> Trajectory:
    rng = np.random.default_rng(seed)
    return synth_session(rng, random_style(rng), events, meta={"user": f"u{seed}"})


def _moves(tr: Trajectory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = tr.kind == KIND_MOVE
    return tr.t[m], tr.x[m].astype(float), tr.y[m].astype(float)


def test_slower_on_the_same_clock_and_clicks_kept() -> None:
    tr = _person()
    slow = touchpad_like(tr, speed=0.5, clutch_px=None)
    t0, _, _ = _moves(tr)
    t1, x1, y1 = _moves(slow)
    assert t1[-1] - t1[0] == pytest.approx(2 * (t0[-1] - t0[0]), abs=0.05)
    gaps = np.diff(t1)
    np.testing.assert_allclose(np.median(gaps[gaps <= PAUSE_S]), 1 / 60, rtol=0.01)
    assert np.all(np.diff(slow.t) > 0)
    assert np.array_equal(x1, np.round(x1)) and np.array_equal(y1, np.round(y1))
    clicks = (tr.kind == KIND_DOWN) | (tr.kind == KIND_UP)
    kept = (slow.kind == KIND_DOWN) | (slow.kind == KIND_UP)
    assert list(slow.kind[kept]) == list(tr.kind[clicks])
    assert slow.meta["synthetic"] == "touchpad_like"


def test_clutching_rests_after_every_stretch_of_path() -> None:
    tr = _person(1)
    t, x, y = _moves(tr)
    path = float(np.hypot(np.diff(x), np.diff(y)).sum())
    plain = touchpad_like(tr, speed=1.0, clutch_px=None)
    clutched = touchpad_like(tr, speed=1.0, clutch_px=100.0, lift_s=0.3)
    rests = int(np.sum(np.diff(_moves(clutched)[0]) >= 0.3))
    assert rests >= 0.8 * (path // 100.0)
    assert clutched.t[-1] - plain.t[-1] == pytest.approx(0.3 * (path // 100.0), abs=0.1)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="speed"):
        touchpad_like(_person(), speed=1.5)
    with pytest.raises(ValueError, match="clutch_px"):
        touchpad_like(_person(), clutch_px=0.0)


def _tiny_model() -> BotModel:
    rng = np.random.default_rng(5)
    people = [_person(i, 500) for i in range(8)]
    bots = [("scripted", "t", synth_session(rng, scripted_style(rng), 300)) for _ in range(6)]
    return fit_bot_model(bot_samples(bots), human_samples(people[:4], crops=3, seed=1),
                         human_samples(people[4:], crops=3), target_fpr=0.05)


def test_check_reports_every_variant_and_horizon() -> None:
    model = _tiny_model()
    out = touchpad_check(model, [_person(20, 500), _person(21, 500)], crops=2)
    assert list(out) == ["original", *(v[0] for v in VARIANTS)]
    for by_h in out.values():
        assert set(by_h) == {"2s", "5s", "whole"}
        assert all(0.0 <= r["fpr"] <= 1.0 and r["n"] > 0 for r in by_h.values())


def test_cli_prints_the_synthetic_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    _tiny_model().save(tmp_path / "model")
    write_sapimouse(tmp_path / "sapi" / "user73" / "session_3min.csv", _person(30, 800))
    rc = main(["bots", "touchpad", "--model", str(tmp_path / "model"), "--sapimouse",
               str(tmp_path / "sapi"), "--users", "73", "--crops", "2"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["synthetic"] is True and out["sessions"] == 1
    assert out["users"] == "73-73" and set(out["fpr"]) == {"original", *(v[0] for v in VARIANTS)}
    assert main(["bots", "touchpad", "--model", str(tmp_path / "model"), "--sapimouse",
                 str(tmp_path / "sapi"), "--users", "90-91"]) == 2
