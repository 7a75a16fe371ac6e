"""Time to detect: how many seconds of movement the live path needs to flag someone who is not
the account's owner, at thresholds that flag a given share of the owners' own sessions.

Input: replayed attempts (a recorded session played under a claimed user: the owner's own
account = genuine, another enrolled user's = impostor), each with its **running score**: the
score the decision call would give after each part the pipeline scored (every rolling window,
then the closed session), and the movement seconds of the session up to that part's last
event (the activity clock of :mod:`~cursorprint.model.evaluation.protocol`: inter-event gaps
each counted at most 0.25 s). Running scores are compared as logits (the evidence the decision
call adds up: the windows' mean logit), so scores a hair from 1 still rank.

Threshold for an owner flag rate ``r``: the lowest score that at most ``floor(r * genuine)``
owners' sessions reach at any point of their running score (a session is flagged once, so
its highest running score decides). With 48 owners' sessions, 1 % means no owner's session
is flagged (the threshold lies just above the highest owner's running score) and 5 % means two.

Time to detect of an impostor attempt: the movement seconds of the first part at which its
running score reaches the threshold; an attempt that never does is *not detected* (its time
is taken as infinite, so the median and p90 are ``None`` when more than half, or more than
10 %, of the attempts are never detected: "not reached within the session").

**Acting after N seconds.** Early windows are short and their scores swing: a site can leave
the running score alone until the session has N seconds of movement (the decision call's
``min_seconds``: ``not_enough_data`` before). The same figures with every part before N s left
out, for owners and impostors alike, are under ``acting_after_s``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Point", "Attempt", "owner_threshold", "time_to_detect_report", "plot_time_to_detect",
           "RATES"]

RATES = (0.01, 0.05)          # owners' sessions flagged: the operating points a bank uses
ACT_AFTER_S = (10.0, 20.0, 30.0)   # movement seconds before the running score is acted on


@dataclass(frozen=True)
class Point:
    """The running evidence once part ``part`` was scored, ``seconds`` of movement in: the
    logit of the running score (not the owner)."""

    seconds: float
    logit: float
    part: str | int

    @property
    def score(self) -> float:
        return _sigmoid(self.logit)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


@dataclass
class Attempt:
    session: str              # the recording played, e.g. "user73/session_1min"
    owner: str                # who recorded it
    claimed: str              # the account it was played under
    points: list[Point] = field(default_factory=list)   # in order of movement seconds

    @property
    def genuine(self) -> bool:
        return self.owner == self.claimed

    @property
    def peak(self) -> float:
        """The highest running logit (what decides whether the session is ever flagged)."""
        return max((p.logit for p in self.points), default=-math.inf)

    def detected_at(self, threshold: float) -> float | None:
        """Movement seconds at which the running logit first reaches ``threshold``."""
        return next((p.seconds for p in self.points if p.logit >= threshold), None)


def owner_threshold(genuine_peaks: Sequence[float], rate: float) -> float:
    """The lowest threshold that flags at most ``floor(rate * n)`` of the owners' sessions."""
    if not genuine_peaks:
        raise ValueError("no owners' sessions: a threshold needs genuine attempts")
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate={rate} must be in [0, 1)")
    peaks = np.sort(np.asarray(genuine_peaks, dtype=np.float64))[::-1]
    flagged = int(math.floor(rate * len(peaks) + 1e-9))
    # just above the highest peak that must not be flagged
    return float(np.nextafter(peaks[flagged], np.inf))


def _quantile(times: np.ndarray, q: float) -> float | None:
    """Quantile with undetected attempts as +inf; None when it falls on one."""
    v = float(np.quantile(times, q, method="higher"))
    return None if math.isinf(v) else round(v, 2)


def time_to_detect_report(attempts: Sequence[Attempt], rates: Sequence[float] = RATES,
                          act_after_s: Sequence[float] = ACT_AFTER_S) -> dict[str, Any]:
    """The figures (see the module docstring) as a JSON-ready dict."""
    genuine = [a for a in attempts if a.genuine]
    impostor = [a for a in attempts if not a.genuine]
    if not impostor:
        raise ValueError("no impostor attempts")
    out: dict[str, Any] = {"genuine_attempts": len(genuine), "impostor_attempts": len(impostor),
                           "operating_points": _operating_points(genuine, impostor, rates),
                           "acting_after_s": {}}
    for after in act_after_s:
        out["acting_after_s"][f"{after:g}"] = _operating_points(
            [_from(a, after) for a in genuine], [_from(a, after) for a in impostor], rates)
    return out


def _from(a: Attempt, seconds: float) -> Attempt:
    """The attempt as a site sees it that acts only after ``seconds`` of movement (a session
    shorter than that has no point left: never flagged)."""
    return replace(a, points=[p for p in a.points if p.seconds >= seconds])


def _operating_points(genuine: Sequence[Attempt], impostor: Sequence[Attempt],
                      rates: Sequence[float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rate in rates:
        thr = owner_threshold([a.peak for a in genuine], rate)
        times = np.array([t if (t := a.detected_at(thr)) is not None else np.inf
                          for a in impostor])
        detected = np.isfinite(times)
        out[f"owners_flagged_{rate:g}"] = {
            "threshold_logit": round(thr, 4), "threshold": _sigmoid(thr),
            "owners_flagged": round(float(np.mean([a.peak >= thr for a in genuine])), 4),
            "impostors_detected": round(float(detected.mean()), 4),
            "median_seconds": _quantile(times, 0.5),
            "p90_seconds": _quantile(times, 0.9),
            "median_seconds_of_detected": round(float(np.median(times[detected])), 2)
            if detected.any() else None,
            "detected_within_s": {str(s): round(float((times <= s).mean()), 4)
                                  for s in (5, 10, 15, 30, 60)},
        }
    return out


def plot_time_to_detect(attempts: Sequence[Attempt], report: dict[str, Any], out: Path,
                        title: str) -> None:
    """``out``: share of impostor attempts detected vs seconds of movement, one curve per
    operating point, next to the owners' and impostors' median running score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    impostor = [a for a in attempts if not a.genuine]
    horizon = max((p.seconds for a in attempts for p in a.points), default=60.0)
    grid = np.linspace(0.0, horizon, 200)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4))
    for name, op in report["operating_points"].items():
        times = np.array([t if (t := a.detected_at(op["threshold_logit"])) is not None
                          else np.inf
                          for a in impostor])
        ax.step(grid, [(times <= g).mean() for g in grid], where="post",
                label=f"{name.replace('_', ' ')}: threshold logit {op['threshold_logit']:.1f}, "
                      f"median {_secs(op['median_seconds'])}, p90 {_secs(op['p90_seconds'])}")
    ax.set_xlabel("seconds of movement")
    ax.set_ylabel("impostor attempts detected")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    for genuine, label in ((True, "owner"), (False, "impostor")):
        group = [a for a in attempts if a.genuine == genuine]
        curves = np.array([[_score_at(a, g) for g in grid] for a in group])
        with warnings.catch_warnings():       # before the first part every value is NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            mid = np.nanmedian(curves, axis=0) if len(group) else grid * np.nan
        bx.plot(grid, mid, label=f"{label} (median of {len(group)})")
    for name, op in report["operating_points"].items():
        bx.axhline(op["threshold_logit"], ls="--", lw=0.8, color="grey")
        bx.text(0, op["threshold_logit"], f" {name.replace('_', ' ')}", fontsize=6,
                va="bottom")
    bx.set_xlabel("seconds of movement")
    bx.set_ylabel("running evidence, logit (not the owner)")
    bx.grid(alpha=0.3)
    bx.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def _secs(v: float | None) -> str:
    return "not reached" if v is None else f"{v:g} s"


def _score_at(a: Attempt, seconds: float) -> float:
    """The running logit known ``seconds`` of movement in (NaN before the first part)."""
    known = [p.logit for p in a.points if p.seconds <= seconds]
    return known[-1] if known else math.nan
