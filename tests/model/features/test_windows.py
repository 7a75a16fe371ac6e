"""The one window rule: bounds, rate normalisation, too-short sessions, aggregation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cursorprint.model.data.trajectory import BUTTON_LEFT, KIND_DOWN, KIND_MOVE, Trajectory
from cursorprint.model.features.windows import (
    REASON_TOO_FEW_EVENTS,
    WindowRule,
    aggregate,
    cut,
    normalise_rate,
    window_bounds,
)


def _traj(n: int, dt: float) -> Trajectory:
    return Trajectory.from_columns(np.arange(n) * dt, np.arange(n), np.zeros(n), np.zeros(n),
                                   np.zeros(n), (1920, 1080))


def test_window_bounds_overlap_and_tail() -> None:
    rule = WindowRule(events=256, stride=128, min_events=64)
    assert window_bounds(0, rule) == []
    assert window_bounds(100, rule) == [(0, 100)]
    assert window_bounds(512, rule) == [(0, 256), (128, 384), (256, 512)]
    # a 100-event tail (> stride/2) gets a window aligned to the end
    assert window_bounds(612, rule)[-1] == (356, 612)
    # a short tail (<= stride/2) does not
    assert window_bounds(550, rule)[-1] == (256, 512)


def test_rate_normalisation_makes_sampling_rates_comparable() -> None:
    fast = normalise_rate(_traj(3000, 0.005), 0.016)
    slow = normalise_rate(_traj(938, 0.016), 0.016)
    assert abs(len(fast) - len(slow)) <= 2
    click = Trajectory.from_columns([0, 0.001, 0.002], [0, 0, 0], [0, 0, 0],
                                    [KIND_MOVE, KIND_DOWN, KIND_MOVE], [0, BUTTON_LEFT, 0],
                                    (10, 10))
    kept = normalise_rate(click, 0.016)
    assert list(kept.kind) == [KIND_MOVE, KIND_DOWN]     # clicks are always kept


def test_cut_reports_too_few_events() -> None:
    wins, reasons = cut(_traj(20, 0.02))
    assert len(wins) == 1 and reasons == [REASON_TOO_FEW_EVENTS]
    wins, reasons = cut(_traj(2000, 0.02))
    assert reasons == [] and all(len(w) == 256 for w in wins) and len(wins) >= 14
    assert cut(_traj(0, 0.02))[0] == []


def test_aggregate_is_sigmoid_of_mean_logit() -> None:
    assert aggregate([]) == 0.5
    assert aggregate([0.0]) == 0.5
    assert math.isclose(aggregate([1.0, 3.0]), 1 / (1 + math.exp(-2.0)))
    assert aggregate([-1000.0]) == 0.0 and aggregate([1000.0]) == 1.0


def test_rule_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="stride"):
        WindowRule(events=10, stride=20)
    with pytest.raises(ValueError, match="min_events"):
        WindowRule(events=10, stride=5, min_events=0)
    assert WindowRule.from_dict(WindowRule().to_dict()) == WindowRule()
