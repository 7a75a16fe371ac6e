"""Verification metrics shared by every evaluation: ROC, AUC, EER, FAR at a fixed FRR.

Convention: label 1 = impostor (the positive class, "not the owner"), a higher score = more
suspicious. So the ROC's false positive rate is the **false rejection rate** (owners flagged)
and its true positive rate is one minus the **false acceptance rate** (impostors let through).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

__all__ = ["roc_curve", "roc_auc", "eer", "far_at_frr", "det_curve"]


def roc_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) over all thresholds; label 1 = positive."""
    y = np.asarray(y, dtype=np.int64)
    order = np.argsort(-np.asarray(s, dtype=np.float64), kind="mergesort")
    ys = y[order]
    ss = np.asarray(s, dtype=np.float64)[order]
    distinct = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]
    tps = np.cumsum(ys)[distinct]
    fps = (distinct + 1) - tps
    p, n = max(int(y.sum()), 1), max(int(len(y) - y.sum()), 1)
    return np.r_[0.0, fps / n], np.r_[0.0, tps / p]


def roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); NaN when one class is missing."""
    y = np.asarray(y)
    if y.min(initial=1) == y.max(initial=0):
        return float("nan")
    fpr, tpr = roc_curve(y, s)
    return float(np.trapezoid(tpr, fpr))


def eer(y: np.ndarray, s: np.ndarray) -> float:
    """Equal error rate: where the false positive rate meets the false negative rate."""
    fpr, tpr = roc_curve(y, s)
    fnr = 1.0 - tpr
    i = int(np.argmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2.0)


def far_at_frr(y: np.ndarray, s: np.ndarray, frr: float) -> float:
    """False acceptance rate at the strictest threshold whose false rejection rate is at most
    ``frr`` (the one threshold lookup: an operating point is chosen on the owners' scores)."""
    fpr, tpr = roc_curve(y, s)
    ok = fpr <= frr + 1e-12
    return float(1.0 - tpr[ok].max())


def det_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FRR, FAR) pairs over all thresholds, as probit (normal deviate) values for a DET plot;
    rates are clipped to [1e-4, 1 - 1e-4] so 0 and 1 stay drawable."""
    fpr, tpr = roc_curve(y, s)
    probit = np.vectorize(NormalDist().inv_cdf)
    return (probit(np.clip(fpr, 1e-4, 1 - 1e-4)), probit(np.clip(1.0 - tpr, 1e-4, 1 - 1e-4)))
