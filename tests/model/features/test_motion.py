"""Motion statistics per window (cursorprint.model.features.motion)."""

from __future__ import annotations

import numpy as np

from cursorprint.model.data.trajectory import (
    BUTTON_LEFT,
    BUTTON_RIGHT,
    KIND_DOWN,
    KIND_MOVE,
    KIND_UP,
    Trajectory,
)
from cursorprint.model.features.motion import MOTION_FEATURES, N_MOTION, motion_features

COL = {name: i for i, name in enumerate(MOTION_FEATURES)}


def line(speed_px_s: float, n: int = 100, screen: tuple[int, int] = (1000, 800),
         scale: float = 1.0) -> Trajectory:
    t = np.arange(n) * 0.016
    x = (100 + speed_px_s * t) * scale
    y = (200 + 0.5 * speed_px_s * t) * scale
    z = np.zeros(n, np.uint8)
    return Trajectory.from_columns(t, x, y, z, z, (int(screen[0] * scale), int(screen[1] * scale)))


def test_shape_names_and_determinism() -> None:
    ws = [line(300), line(900)]
    a, b = motion_features(ws), motion_features(ws)
    assert a.shape == (2, N_MOTION) and len(set(MOTION_FEATURES)) == N_MOTION
    assert a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, b)
    assert motion_features([]).shape == (0, N_MOTION)


def test_speed_straightness_and_direction() -> None:
    slow, fast = motion_features([line(200), line(2000)])
    assert fast[COL["log_speed_p50"]] > slow[COL["log_speed_p50"]]
    assert slow[COL["straightness"]] > 0.95          # a straight line
    assert slow[COL["turn_mean"]] < 1e-4               # (float32 coordinates)
    dirs = slow[[COL[f"direction_{i}of8"] for i in range(8)]]
    assert abs(float(dirs.sum()) - 1.0) < 1e-6 and dirs.max() == 1.0


def test_screen_position_is_relative_to_the_screen() -> None:
    a, b = motion_features([line(300), line(300, scale=2.0)])
    for name in ("x_mean", "y_mean", "x_std", "y_std"):
        assert abs(a[COL[name]] - b[COL[name]]) < 1e-3, name


def test_clicks_count_buttons_and_hold_time() -> None:
    base = line(300, n=20)
    t = np.r_[base.t, 0.40, 0.48, 0.60, 0.80]
    x = np.r_[base.x, [400.0] * 4]
    y = np.r_[base.y, [300.0] * 4]
    k = np.r_[base.kind, KIND_DOWN, KIND_UP, KIND_DOWN, KIND_UP].astype(np.uint8)
    b = np.r_[base.button, BUTTON_LEFT, BUTTON_LEFT, BUTTON_RIGHT, BUTTON_RIGHT].astype(np.uint8)
    f = motion_features([Trajectory.from_columns(t, x, y, k, b, base.screen)])[0]
    assert abs(f[COL["click_rate"]] - 2 / 24) < 1e-6
    assert abs(f[COL["right_click_share"]] - 0.5) < 1e-6
    assert abs(f[COL["log_click_ms"]] - np.log1p(140.0)) < 1e-3   # (80 ms + 200 ms) / 2


def test_too_few_moves_give_zeros_not_errors() -> None:
    tr = Trajectory.from_columns([0.0, 0.1], [1.0, 2.0], [1.0, 2.0], [KIND_MOVE] * 2, [0, 0],
                                 (100, 100))
    f = motion_features([tr])[0]
    assert np.isfinite(f).all() and not f[:N_MOTION - 4].any()
