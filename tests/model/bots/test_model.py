"""Bot models on tiny synthetic data: they separate, calibrate on people, save and load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cursorprint.model.bots.features import MIN_MOVES, N_BOT_FEATURES
from cursorprint.model.bots.model import (
    FLAG_AT,
    MLP,
    REASON_AUTOMATION,
    REASON_TOO_SHORT,
    REGIMES,
    BotModel,
    HumanDensity,
    LogReg,
    _Scaler,
    auc,
    horizon_of,
    regime_of,
)
from cursorprint.model.bots.train import (
    Samples,
    bot_samples,
    calibrate_thresholds,
    fit_bot_model,
    human_samples,
    thresholds_of,
)
from cursorprint.model.data.synthetic import random_style, scripted_style, synth_session
from cursorprint.model.data.trajectory import Trajectory


def test_auc_by_ranks() -> None:
    assert auc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0
    assert auc(np.array([0.0]), np.array([1.0])) == 0.0
    assert auc(np.array([1.0, 1.0]), np.array([1.0])) == 0.5


def _blobs(n: int = 200, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(0, 1, (n, d)), rng.normal(1.5, 1, (n, d))]
    return x, np.r_[np.zeros(n), np.ones(n)]


def test_classifiers_separate_and_round_trip() -> None:
    x, y = _blobs()
    for model in (LogReg().fit(x, y), MLP(epochs=200).fit(x, y)):
        s = model.logit(x)
        assert auc(s[y == 1], s[y == 0]) > 0.9
        again = type(model).from_dict(model.to_dict())
        np.testing.assert_allclose(again.logit(x), s, rtol=1e-9, atol=1e-9)


def test_density_flags_what_people_do_not_do() -> None:
    x, y = _blobs()
    dens = HumanDensity().fit(x[y == 0])
    s = dens.score(x)
    assert auc(s[y == 1], s[y == 0]) > 0.8


def _synthetic_sets(seed: int = 0) -> tuple[Samples, Samples, Samples, list]:
    rng = np.random.default_rng(seed)
    people = [synth_session(rng, random_style(rng), 500, meta={"user": f"u{i}"}) for i in range(12)]
    bots = [("scripted", "t", synth_session(rng, scripted_style(rng), 300)) for _ in range(10)]
    return (human_samples(people[:6], crops=3, seed=1), human_samples(people[6:], crops=4),
            bot_samples(bots, extra_starts=1), bots)


def test_fit_threshold_on_calibration_people_and_save(tmp_path: Path) -> None:
    train_p, calib_p, bots, raw = _synthetic_sets()
    model = fit_bot_model(bots, train_p, calib_p, target_fpr=0.05)
    assert np.mean(model.fused(calib_p.x) >= model.threshold) <= 0.05 + 1.0 / len(calib_p.x)
    assert np.mean(model.fused(bots.x) >= model.threshold) > 0.5
    model.save(tmp_path)
    loaded = BotModel.load(tmp_path)
    np.testing.assert_allclose(loaded.fused(bots.x), model.fused(bots.x))
    verdict = loaded.score(raw[0][2])
    assert 0.0 <= verdict.score <= 1.0
    assert (REASON_AUTOMATION in verdict.reasons) == (verdict.fused >= verdict.threshold)
    assert verdict.threshold == loaded.threshold_for(horizon_of(raw[0][2]))
    assert set(loaded.thresholds) == {"2s", "5s", "whole"}
    assert bots.x.shape[1] == N_BOT_FEATURES


def test_the_cut_decides_the_reason_and_too_little_movement_has_no_score() -> None:
    train_p, calib_p, bots, raw = _synthetic_sets()
    model = fit_bot_model(bots, train_p, calib_p, target_fpr=0.05)
    traj = raw[0][2]
    verdict = model.score(traj)
    assert verdict.score is not None
    assert (REASON_AUTOMATION in verdict.reasons) == (verdict.score >= FLAG_AT)
    assert REASON_AUTOMATION in model.score(traj, cut=verdict.score).reasons
    assert REASON_AUTOMATION not in model.score(traj, cut=1.0).reasons
    short = model.score(traj.slice(0, MIN_MOVES - 1))
    assert short.score is None and short.reasons == (REASON_TOO_SHORT,)
    assert short.to_dict()["bot_score"] is None


def _monotone_model(ref: np.ndarray) -> BotModel:
    """A model whose fused score rises with the first feature alone (fusion "supervised")."""
    d = N_BOT_FEATURES
    w = np.zeros(d)
    w[0] = 1.0
    sup = LogReg(1.0, _Scaler(np.zeros(d), np.ones(d)), w, 0.0)
    dens = HumanDensity(0.2, _Scaler(np.zeros(d), np.ones(d)), np.eye(d))
    return BotModel(sup, dens, np.sort(ref), np.sort(ref), 0.0, "supervised")


def _population(n: int, shift: float, horizon: str, seed: int) -> Samples:
    x = np.random.default_rng(seed).normal(0.0, 1.0, (n, N_BOT_FEATURES))
    x[:, 0] += shift
    return Samples(x, np.full(n, horizon), np.full(n, "p"), np.full(n, "local"))


def test_the_threshold_holds_the_target_on_every_calibration_population() -> None:
    # a large population and a small one that scores higher (people on a remote desktop)
    big, small = _population(4000, 0.0, "5s", 1), _population(500, 1.0, "5s", 2)
    model = _monotone_model(np.r_[big.x[:, 0], small.x[:, 0]])
    target = 0.01
    pooled = calibrate_thresholds(model, [Samples.concat([big, small])], target)["5s"]
    each = calibrate_thresholds(model, [big, small], target)["5s"]
    fpr = {name: float(np.mean(model.fused(p.x) >= th))
           for name, p, th in (("small_pooled", small, pooled), ("big_each", big, each),
                               ("small_each", small, each))}
    assert fpr["small_pooled"] > 2 * target          # why a pooled quantile is not enough
    assert fpr["small_each"] <= target + 1.0 / len(small.x)
    assert fpr["big_each"] <= target + 1.0 / len(big.x)
    assert each > pooled


def test_fit_takes_calibration_populations_and_thresholds_each() -> None:
    train_p, calib_p, bots, _ = _synthetic_sets()
    half = calib_p.group == calib_p.group[0]
    populations = [calib_p.where(half), calib_p.where(~half)]
    model = fit_bot_model(bots, train_p, populations, target_fpr=0.05)
    for p in populations:
        flagged = model.fused(p.x) >= thresholds_of(model, p)
        for h in ("2s", "5s"):
            at = p.horizon == h
            assert np.mean(flagged[at]) <= 0.05 + 1.0 / at.sum()
    with pytest.raises(ValueError, match="no calibration people"):
        calibrate_thresholds(model, [calib_p.where(np.zeros(len(calib_p.x), bool))])


def test_regime_is_observed_on_the_input_and_reported() -> None:
    rng = np.random.default_rng(3)
    local = synth_session(rng, scripted_style(rng), 600)
    assert regime_of(local) == "local"
    moves = np.flatnonzero(local.kind == 0)
    keep = np.sort(np.r_[moves[::7], np.flatnonzero(local.kind != 0)])    # ~110 ms updates
    sparse = Trajectory(local.t[keep], local.x[keep], local.y[keep], local.kind[keep],
                        local.button[keep], local.screen, local.meta)
    assert regime_of(sparse) == "sparse"
    train_p, calib_p, bots, _ = _synthetic_sets()
    assert set(bots.regime) <= set(REGIMES) and len(bots.regime) == len(bots.x)
    both = Samples.concat([bots, calib_p])
    assert list(both.regime) == [*bots.regime, *calib_p.regime]
    every_other = np.arange(len(both.x)) % 2 == 0
    assert list(both.where(every_other).regime) == list(both.regime[every_other])
    model = fit_bot_model(bots, train_p, calib_p, target_fpr=0.05)
    assert model.score(sparse).to_dict()["bot_regime"] == "sparse"
    assert model.score(local).regime == "local"
