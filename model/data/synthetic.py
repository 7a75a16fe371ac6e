"""Synthetic users with distinct mouse-movement styles, for the demo, tests and quick training.

Every trajectory made here carries ``meta["synthetic"] = True`` and ``meta["source"] =
"synthetic"``, so it can never be mistaken for a real recording.

A style is a handful of parameters (speed, curvature, jitter, pauses, click habits, sampling
rate, preferred screen region); each movement follows a minimum-jerk speed profile towards a
target with a sideways bow and noise, which is how human aimed movements look to first order.
``scripted`` styles (constant speed, straight lines, no noise, instant clicks) imitate simple
automation; the population head learns to tell them from people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cursorprint.model.data.trajectory import (
    BUTTON_LEFT,
    BUTTON_NONE,
    BUTTON_RIGHT,
    KIND_DOWN,
    KIND_MOVE,
    KIND_UP,
    Trajectory,
)

__all__ = ["Style", "random_style", "scripted_style", "synth_session", "synth_users"]


@dataclass(frozen=True)
class Style:
    """Movement habits of one synthetic user."""

    speed: float          # screen lengths per second at the peak of a long movement
    curvature: float      # sideways bow as a fraction of the movement distance (signed)
    jitter: float         # positional noise, screen pixels
    pause: float          # mean pause between movements, seconds
    click_p: float        # probability that a movement ends with a click
    right_p: float        # share of right clicks among clicks
    dt: float             # sampling interval, seconds
    reach: float          # typical movement distance, fraction of the screen
    centre: tuple[float, float]   # preferred region, fractions of the screen
    skew: float           # >1: slow start, fast end; <1: the reverse
    scripted: bool = False


def random_style(rng: np.random.Generator) -> Style:
    """A random human-like style; different draws give visibly different habits."""
    return Style(speed=float(rng.uniform(0.4, 2.5)), curvature=float(rng.uniform(-0.35, 0.35)),
                 jitter=float(rng.uniform(0.2, 3.0)), pause=float(rng.uniform(0.1, 1.0)),
                 click_p=float(rng.uniform(0.1, 0.8)), right_p=float(rng.uniform(0.0, 0.3)),
                 dt=float(rng.choice([0.008, 0.016])), reach=float(rng.uniform(0.1, 0.5)),
                 centre=(float(rng.uniform(0.25, 0.75)), float(rng.uniform(0.25, 0.75))),
                 skew=float(rng.uniform(0.6, 1.6)))


def scripted_style(rng: np.random.Generator) -> Style:
    """A simple automation style: straight, constant speed, noiseless, regular clicks."""
    return Style(speed=float(rng.uniform(1.0, 6.0)), curvature=0.0, jitter=0.0,
                 pause=float(rng.uniform(0.0, 0.2)), click_p=0.9, right_p=0.0, dt=0.016,
                 reach=float(rng.uniform(0.2, 0.6)), centre=(0.5, 0.5), skew=1.0, scripted=True)


def _movement(rng: np.random.Generator, style: Style, p0: np.ndarray, p1: np.ndarray,
              scale: float) -> np.ndarray:
    dist = float(np.hypot(*(p1 - p0)))
    dur = max(0.08, 0.1 + dist / scale / style.speed * (1.0 if style.scripted else 1.6))
    n = max(2, int(dur / style.dt))
    tau = np.linspace(0.0, 1.0, n)
    if style.scripted:
        s = tau
    else:
        tau = tau ** style.skew
        s = 10 * tau ** 3 - 15 * tau ** 4 + 6 * tau ** 5
    d = p1 - p0
    perp = np.array([-d[1], d[0]])
    pts = p0[None, :] + s[:, None] * d[None, :]
    pts += (style.curvature * np.sin(np.pi * s))[:, None] * perp[None, :]
    if style.jitter > 0:
        pts += rng.normal(0.0, style.jitter, size=pts.shape)
    return pts


def synth_session(rng: np.random.Generator, style: Style, events: int,
                  screen: tuple[int, int] = (1920, 1080), meta: dict[str, object] | None = None
                  ) -> Trajectory:
    """About ``events`` events of one synthetic user on a screen of ``screen`` pixels."""
    w, h = screen
    scale = float(max(w, h))
    ts: list[np.ndarray] = []
    xs: list[np.ndarray] = []
    ks: list[np.ndarray] = []
    bs: list[np.ndarray] = []
    t = 0.0
    p = np.array([style.centre[0] * w, style.centre[1] * h])
    count = 0
    while count < events:
        ang = rng.uniform(0, 2 * np.pi)
        r = abs(rng.normal(style.reach, style.reach / 3)) * scale
        target = p + r * np.array([np.cos(ang), np.sin(ang)])
        pull = np.array([style.centre[0] * w, style.centre[1] * h])
        target = 0.7 * target + 0.3 * pull
        target = np.clip(target, [0, 0], [w - 1, h - 1])
        pts = _movement(rng, style, p, target, scale)
        n = len(pts)
        ts.append(t + np.arange(n) * style.dt)
        xs.append(pts)
        ks.append(np.full(n, KIND_MOVE, dtype=np.uint8))
        bs.append(np.full(n, BUTTON_NONE, dtype=np.uint8))
        t += n * style.dt
        p = pts[-1]
        if rng.random() < style.click_p:
            btn = BUTTON_RIGHT if rng.random() < style.right_p else BUTTON_LEFT
            hold = 0.0 if style.scripted else float(rng.uniform(0.05, 0.15))
            ts.append(np.array([t, t + hold + 0.001]))
            xs.append(np.stack([p, p]))
            ks.append(np.array([KIND_DOWN, KIND_UP], dtype=np.uint8))
            bs.append(np.array([btn, btn], dtype=np.uint8))
            t += hold + 0.002
            n += 2
        t += float(rng.exponential(style.pause)) if style.pause > 0 else 0.0
        count += n
    xy = np.clip(np.concatenate(xs), [0, 0], [w - 1, h - 1])
    info: dict[str, object] = {"synthetic": True, "source": "synthetic"}
    info.update(meta or {})
    info["synthetic"] = True
    return Trajectory.from_columns(np.concatenate(ts), xy[:, 0], xy[:, 1], np.concatenate(ks),
                                   np.concatenate(bs), screen, info)


def synth_users(n_users: int, sessions: int, events: int, seed: int = 0,
                screens: tuple[tuple[int, int], ...] = ((1920, 1080), (1366, 768), (2560, 1440))
                ) -> list[Trajectory]:
    """``sessions`` sessions of ``events`` events for each of ``n_users`` synthetic users.

    ``meta["user"]`` is ``"synth<i>"``; screens rotate so models see several resolutions.
    """
    rng = np.random.default_rng(seed)
    styles = [random_style(rng) for _ in range(n_users)]
    out = []
    for u, st in enumerate(styles):
        for s in range(sessions):
            screen = screens[(u + s) % len(screens)]
            out.append(synth_session(rng, st, events, screen,
                                     {"user": f"synth{u}", "session": f"synth{u}_{s}"}))
    return out
