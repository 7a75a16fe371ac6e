"""Heads fitted on a trained backbone's window descriptors.

User heads: owner windows vs other users' windows, class-balanced, Platt-calibrated on held-out
windows (:func:`cursorprint.model.nets.heads.fit_head`). The population head: people vs scripted
(synthetic, automation-like) movement, for users who have no head yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cursorprint.model.data.synthetic import scripted_style, synth_session
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.features.windows import WindowRule, cut
from cursorprint.model.nets.heads import Head, fit_head

__all__ = ["fit_user_heads", "fit_population_head", "scripted_windows"]


def fit_user_heads(emb: np.ndarray, users: Sequence[str], seed: int = 0,
                   max_others: int = 4000) -> dict[str, Head]:
    """One head per user: the user's windows (owner) vs a sample of everyone else's."""
    users_arr = np.asarray(users)
    rng = np.random.default_rng(seed)
    heads: dict[str, Head] = {}
    for user in sorted(set(users)):
        own = np.flatnonzero(users_arr == user)
        oth = np.flatnonzero(users_arr != user)
        if len(oth) > max_others:
            oth = rng.choice(oth, size=max_others, replace=False)
        heads[user] = fit_head(emb[own], emb[oth], seed=seed, kind="user",
                               meta={"owner_windows": int(len(own)),
                                     "other_windows": int(len(oth))})
    return heads


def fit_population_head(human_emb: np.ndarray, scripted_emb: np.ndarray, seed: int = 0) -> Head:
    """People (0) vs scripted movement (1): the score for users without a head."""
    return fit_head(human_emb, scripted_emb, seed=seed, kind="population",
                    meta={"task": "people vs scripted movement"})


def scripted_windows(rule: WindowRule, n_sessions: int, events: int, seed: int
                     ) -> list[Trajectory]:
    """Windows of seeded synthetic scripted sessions (the population head's positives)."""
    rng = np.random.default_rng(seed + 7919)
    screens = ((1920, 1080), (1366, 768), (2560, 1440))
    wins: list[Trajectory] = []
    for i in range(n_sessions):
        tr = synth_session(rng, scripted_style(rng), events, screens[i % 3],
                           {"user": "scripted", "session": f"scripted{i}"})
        wins.extend(cut(tr, rule)[0])
    return wins
