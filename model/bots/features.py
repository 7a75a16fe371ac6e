"""Timing and geometry features of a pointer recording that separate humanizing bots from people.

One fixed-length vector per recording (or per first-N-seconds crop of it), made only of rates,
ratios and quantiles — never counts or durations — so a 2 s crop, a 5 s crop and a whole session
live in one space. Before anything is measured, the recording goes through the product's window
rule rate normalisation (``normalise_rate``: at most one move per 16 ms, clicks kept) and
coordinates are rounded to whole pixels, so a collector sampling at 8 ms vs a 60 Hz recording,
or the sub-pixel positions that synthetic (CDP) events carry, are not what the model learns.

Groups (names in :data:`BOT_FEATURES`):
- sampling regularity: spread of the gaps between moves, share of gaps at the modal gap, share of
  long gaps;
- velocity profile: speed quantiles, peak/mean speed per stroke, time-to-peak symmetry,
  sub-movements (speed peaks) per stroke, end-of-stroke speed (arriving at full speed);
- jerk: median |jerk| relative to speed, and the share of (near) zero second differences;
- curvature: straightness of strokes, turning-angle spread, share of perfectly smooth turns,
  wiggle (sign changes of turning), jitter (third differences);
- clicks: hold time, speed just before a press.
A stroke is a run of moves between pauses > 150 ms or clicks, with at least 4 points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cursorprint.model.data.trajectory import KIND_DOWN, KIND_MOVE, KIND_UP, Trajectory
from cursorprint.model.features.windows import normalise_rate

__all__ = ["BOT_FEATURES", "N_BOT_FEATURES", "MIN_MOVES", "crop", "bot_features",
           "bot_feature_matrix"]

MIN_MOVES = 8            # fewer moves than this: the vector is mostly the "no data" defaults
PAUSE_S = 0.15
BUCKET_S = 0.016

BOT_FEATURES = (
    "dt_cv", "dt_mode_share", "dt_long_share", "dt_med_log",
    "speed_p50_log", "speed_p90_log", "speed_cv",
    "peak_over_mean", "time_to_peak", "submoves_per_stroke", "end_speed_ratio",
    "jerk_rel_log", "zero_acc_share", "acc_sign_changes",
    "straightness_med", "straightness_min", "turn_std", "smooth_turn_share", "wiggle",
    "jitter_log", "axis_step_share", "repeat_step_share",
    "hold_ms_log", "press_speed_rel", "has_clicks",
    "stroke_share", "dir_entropy", "step_len_cv",
)
N_BOT_FEATURES = len(BOT_FEATURES)


def crop(traj: Trajectory, seconds: float | None, start: int | None = None) -> Trajectory:
    """The first ``seconds`` from the first move at or after event ``start`` (None: whole)."""
    moves = np.flatnonzero(traj.kind == KIND_MOVE)
    if len(moves) == 0:
        return traj
    first = int(moves[0] if start is None else moves[np.searchsorted(moves, start)]
                if start <= moves[-1] else moves[-1])
    if seconds is None:
        return traj.slice(first, len(traj))
    stop = int(np.searchsorted(traj.t, traj.t[first] + seconds, side="right"))
    return traj.slice(first, max(stop, first + 1))


def _q(v: np.ndarray, q: float, default: float = 0.0) -> float:
    return float(np.quantile(v, q)) if len(v) else default


def _med(v: np.ndarray, default: float = 0.0) -> float:
    return float(np.median(v)) if len(v) else default


def bot_features(traj: Trajectory) -> np.ndarray:
    """The :data:`BOT_FEATURES` vector of one recording (float64, finite)."""
    tr = normalise_rate(traj, BUCKET_S)
    f: dict[str, float] = dict.fromkeys(BOT_FEATURES, 0.0)
    mv = tr.kind == KIND_MOVE
    t = tr.t[mv]
    x = np.round(tr.x[mv].astype(np.float64))
    y = np.round(tr.y[mv].astype(np.float64))
    # drop repeated identical samples (a move event that did not move)
    if len(t) >= 2:
        keep = np.r_[True, (np.diff(x) != 0) | (np.diff(y) != 0)]
        t, x, y = t[keep], x[keep], y[keep]
    if len(t) >= 3:
        dt = np.diff(t)
        inner = dt[dt <= PAUSE_S]
        if len(inner) >= 2:
            med = float(np.median(inner))
            f["dt_cv"] = float(np.std(inner) / max(np.mean(inner), 1e-4))
            hist = np.round(inner / 0.002)
            vals, cnt = np.unique(hist, return_counts=True)
            f["dt_mode_share"] = float(cnt.max() / cnt.sum())
            f["dt_med_log"] = float(np.log(max(med, 1e-3) * 1000.0))
        f["dt_long_share"] = float(np.mean(dt > PAUSE_S))
        dx, dy = np.diff(x), np.diff(y)
        step = np.hypot(dx, dy)
        f["axis_step_share"] = float(np.mean((dx == 0) | (dy == 0)))
        f["repeat_step_share"] = float(np.mean((np.diff(dx) == 0) & (np.diff(dy) == 0))) \
            if len(dx) > 1 else 0.0
        ang = np.arctan2(dy, dx)
        hist = np.bincount(((ang + np.pi) / (2 * np.pi) * 8).astype(int) % 8, weights=step,
                           minlength=8)
        p = hist / max(hist.sum(), 1e-9)
        f["dir_entropy"] = float(-(p[p > 0] * np.log(p[p > 0])).sum() / np.log(8))
        # strokes
        cut = np.flatnonzero(dt > PAUSE_S) + 1
        clicks = tr.t[(tr.kind == KIND_DOWN) | (tr.kind == KIND_UP)]
        if len(clicks):
            ci = np.unique(np.searchsorted(t, clicks))
            cut = np.union1d(cut, ci[(ci > 0) & (ci < len(t))])
        bounds = list(zip(np.r_[0, cut], np.r_[cut, len(t)], strict=True))
        per: dict[str, list[float]] = {k: [] for k in (
            "pom", "ttp", "sub", "end", "straight", "speed", "jerk", "zacc", "asc", "turn",
            "smooth", "wig", "jit", "slcv")}
        in_strokes = 0.0
        for a, b in bounds:
            if b - a < 4:
                continue
            st, sx, sy = t[a:b], x[a:b], y[a:b]
            sdt = np.maximum(np.diff(st), 1e-3)
            sdx, sdy = np.diff(sx), np.diff(sy)
            sl = np.hypot(sdx, sdy)
            path = float(sl.sum())
            if path < 3:
                continue
            in_strokes += float(st[-1] - st[0])
            v = sl / sdt
            per["speed"].append(v)
            per["slcv"].append(float(np.std(sl) / max(np.mean(sl), 1e-9)))
            per["pom"].append(float(v.max() / max(v.mean(), 1e-9)))
            tc = (st[1:] + st[:-1]) / 2
            dur = max(float(tc[-1] - tc[0]), 1e-3)
            per["ttp"].append(float((tc[int(np.argmax(v))] - tc[0]) / dur))
            vs = np.convolve(v, np.ones(3) / 3, mode="same") if len(v) >= 3 else v
            peaks: np.ndarray = np.flatnonzero(
                (vs[1:-1] > vs[:-2]) & (vs[1:-1] >= vs[2:]) & (vs[1:-1] > 0.2 * vs.max())
            ) if len(vs) >= 3 else np.zeros(0)
            per["sub"].append(float(len(peaks)))
            per["end"].append(float(v[-1] / max(v.max(), 1e-9)))
            per["straight"].append(float(np.hypot(sx[-1] - sx[0], sy[-1] - sy[0]) / path))
            if len(v) >= 3:
                acc = np.diff(v) / np.maximum(sdt[1:], 1e-3)
                jerk = np.diff(acc) / np.maximum(sdt[2:], 1e-3) if len(acc) >= 2 else np.zeros(0)
                if len(jerk):
                    per["jerk"].append(float(np.log1p(np.median(np.abs(jerk))
                                                      / max(np.median(v), 1.0))))
                ddx, ddy = np.diff(sdx), np.diff(sdy)
                per["zacc"].append(float(np.mean((np.abs(ddx) <= 1) & (np.abs(ddy) <= 1))))
                sa = np.sign(acc[np.abs(acc) > 1e-6])
                per["asc"].append(float(np.mean(sa[1:] != sa[:-1])) if len(sa) > 1 else 0.0)
                moving = sl > 0
                th = np.arctan2(sdy[moving], sdx[moving])
                if len(th) >= 3:
                    dth = np.angle(np.exp(1j * np.diff(th)))
                    per["turn"].append(float(np.std(dth)))
                    per["smooth"].append(float(np.mean(np.abs(dth) < 0.02)))
                    sg = np.sign(dth[np.abs(dth) > 0.02])
                    per["wig"].append(float(np.mean(sg[1:] != sg[:-1])) if len(sg) > 1 else 0.0)
                if len(sx) >= 4:
                    j3 = np.hypot(np.diff(sx, 3), np.diff(sy, 3))
                    per["jit"].append(float(np.log1p(np.median(j3))))
        total = max(float(t[-1] - t[0]), 1e-3)
        f["stroke_share"] = min(in_strokes / total, 1.0)
        if per["speed"]:
            v_all = np.concatenate(per["speed"])
            f["speed_p50_log"] = float(np.log1p(_q(v_all, 0.5)))
            f["speed_p90_log"] = float(np.log1p(_q(v_all, 0.9)))
            f["speed_cv"] = float(np.std(v_all)) / max(float(np.mean(v_all)), 1e-9)
            f["peak_over_mean"] = _med(np.asarray(per["pom"]))
            f["time_to_peak"] = _med(np.asarray(per["ttp"]))
            f["submoves_per_stroke"] = float(np.log1p(np.mean(per["sub"])))
            f["end_speed_ratio"] = _med(np.asarray(per["end"]))
            f["straightness_med"] = _med(np.asarray(per["straight"]))
            f["straightness_min"] = _q(np.asarray(per["straight"]), 0.25)
            f["step_len_cv"] = _med(np.asarray(per["slcv"]))
        f["jerk_rel_log"] = _med(np.asarray(per["jerk"]))
        f["zero_acc_share"] = _med(np.asarray(per["zacc"]))
        f["acc_sign_changes"] = _med(np.asarray(per["asc"]))
        f["turn_std"] = _med(np.asarray(per["turn"]))
        f["smooth_turn_share"] = _med(np.asarray(per["smooth"]))
        f["wiggle"] = _med(np.asarray(per["wig"]))
        f["jitter_log"] = _med(np.asarray(per["jit"]))
    # clicks: hold time and the speed just before a press, relative to the median speed
    downs = np.flatnonzero(tr.kind == KIND_DOWN)
    ups = np.flatnonzero(tr.kind == KIND_UP)
    if len(downs) and len(ups):
        holds = []
        for d in downs:
            u = ups[ups > d]
            if len(u):
                holds.append(tr.t[u[0]] - tr.t[d])
        if holds:
            f["hold_ms_log"] = float(np.log1p(1000.0 * np.median(holds)))
            f["has_clicks"] = 1.0
        if len(t) >= 3:
            v_pt = np.r_[0.0, np.hypot(np.diff(x), np.diff(y)) / np.maximum(np.diff(t), 1e-3)]
            pre = []
            for d in downs:
                w = (t < tr.t[d]) & (t >= tr.t[d] - 0.1)
                if w.any():
                    pre.append(float(v_pt[w].mean()))
            if pre:
                f["press_speed_rel"] = float(np.log1p(np.median(pre))
                                             - np.log1p(max(_med(v_pt[1:]), 1.0)))
    out = np.array([f[k] for k in BOT_FEATURES], dtype=np.float64)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def bot_feature_matrix(trajs: Sequence[Trajectory]) -> np.ndarray:
    """Rows of :func:`bot_features` (shape ``(len(trajs), N_BOT_FEATURES)``)."""
    if not trajs:
        return np.zeros((0, N_BOT_FEATURES))
    return np.stack([bot_features(tr) for tr in trajs])
