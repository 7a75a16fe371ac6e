"""Bot features on tiny synthetic recordings: shape, finiteness, crops, and the signals they
are meant to carry (regular sampling, straight strokes, noiseless paths)."""

from __future__ import annotations

import numpy as np

from cursorprint.model.bots.features import (
    BOT_FEATURES,
    N_BOT_FEATURES,
    bot_feature_matrix,
    bot_features,
    crop,
)
from cursorprint.model.data.synthetic import random_style, scripted_style, synth_session
from cursorprint.model.data.trajectory import KIND_MOVE, Trajectory


def _f(vec: np.ndarray, name: str) -> float:
    return float(vec[BOT_FEATURES.index(name)])


def test_vector_is_finite_and_fixed_length() -> None:
    rng = np.random.default_rng(0)
    trajs = [synth_session(rng, random_style(rng), 300) for _ in range(3)]
    m = bot_feature_matrix(trajs)
    assert m.shape == (3, N_BOT_FEATURES)
    assert np.isfinite(m).all()


def test_degenerate_inputs_give_defaults_not_errors() -> None:
    empty = Trajectory.from_columns([], [], [], [], [], (100, 100))
    one = Trajectory.from_columns([0.0], [1], [1], [KIND_MOVE], [0], (100, 100))
    still = Trajectory.from_columns(np.arange(10) * 0.016, np.ones(10), np.ones(10),
                                    np.zeros(10), np.zeros(10), (100, 100))
    for tr in (empty, one, still):
        v = bot_features(tr)
        assert v.shape == (N_BOT_FEATURES,) and np.isfinite(v).all()


def test_crop_takes_the_first_seconds_from_a_move() -> None:
    rng = np.random.default_rng(1)
    tr = synth_session(rng, random_style(rng), 600)
    c = crop(tr, 2.0)
    assert c.kind[0] == KIND_MOVE
    assert c.duration <= 2.0 + 1e-9
    later = crop(tr, 2.0, start=200)
    assert later.t[0] >= tr.t[200]
    assert len(crop(tr, None)) <= len(tr)


def test_scripted_paths_are_straighter_and_smoother() -> None:
    rng = np.random.default_rng(2)
    human = bot_feature_matrix([synth_session(rng, random_style(rng), 400) for _ in range(8)])
    bot = bot_feature_matrix([synth_session(rng, scripted_style(rng), 400) for _ in range(8)])
    h, b = human.mean(0), bot.mean(0)
    assert _f(b, "straightness_med") > _f(h, "straightness_med")
    assert _f(b, "smooth_turn_share") > _f(h, "smooth_turn_share")
    assert _f(b, "jitter_log") < _f(h, "jitter_log")


def test_rate_and_subpixel_do_not_change_the_vector_much() -> None:
    """Sub-pixel coordinates are rounded away; an 8 ms copy thins to the same 16 ms grid."""
    rng = np.random.default_rng(3)
    tr = synth_session(rng, random_style(rng), 400)
    shifted = Trajectory.from_columns(tr.t, np.round(tr.x) + 0.3, np.round(tr.y) - 0.2,
                                      tr.kind, tr.button, tr.screen)
    rounded = Trajectory.from_columns(tr.t, np.round(tr.x), np.round(tr.y), tr.kind, tr.button,
                                      tr.screen)
    np.testing.assert_allclose(bot_features(shifted), bot_features(rounded), atol=1e-9)
