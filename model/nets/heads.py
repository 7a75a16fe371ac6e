"""Small per-user heads on the backbone embedding: "is this window NOT the account's owner?".

A :class:`Head` is a logistic regression on the standardised embedding (standardisation folded
into the weights) followed by Platt calibration fitted on held-out windows, so its output is a
calibrated logit; a session's score is the sigmoid of the mean window logit
(:func:`cursorprint.model.features.windows.aggregate`). It serialises to a few KB (float32 weights).

The population head (``kind="population"``) has the same form; it is used for users who have no
head yet and is trained to tell people from scripted pointer movement.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field

import numpy as np

from cursorprint.model.features.windows import sigmoid

__all__ = ["Head", "HeadError", "fit_head", "fit_logistic"]

_MAGIC = b"CPH1"


class HeadError(ValueError):
    """Malformed serialized head, or a head that does not fit the embedding."""


@dataclass(frozen=True)
class Head:
    """Calibrated linear head: ``logit = a * (emb @ w + b) + c`` (positive = not the owner)."""

    w: np.ndarray
    b: float
    a: float = 1.0
    c: float = 0.0
    kind: str = "user"
    version: str = ""
    meta: dict[str, object] = field(default_factory=dict, compare=False)

    def logits(self, emb: np.ndarray) -> np.ndarray:
        emb = np.asarray(emb, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[1] != self.w.shape[0]:
            raise HeadError(f"head expects embeddings of size {self.w.shape[0]}, "
                            f"got shape {emb.shape}")
        raw = emb.astype(np.float64) @ self.w.astype(np.float64) + self.b
        return np.asarray(self.a * raw + self.c, dtype=np.float64)

    def to_bytes(self) -> bytes:
        header = json.dumps({"b": self.b, "a": self.a, "c": self.c, "kind": self.kind,
                             "version": self.version, "dim": int(self.w.shape[0]),
                             "meta": self.meta}, sort_keys=True).encode()
        return (_MAGIC + struct.pack("<I", len(header)) + header
                + np.asarray(self.w, dtype="<f4").tobytes())

    @staticmethod
    def from_bytes(data: bytes) -> Head:
        if len(data) < 8 or data[:4] != _MAGIC:
            raise HeadError("not a serialized head (bad magic bytes)")
        (hlen,) = struct.unpack("<I", data[4:8])
        try:
            h = json.loads(data[8:8 + hlen])
            dim = int(h["dim"])
        except (ValueError, KeyError, TypeError) as exc:
            raise HeadError(f"serialized head has a bad header: {exc}") from exc
        body = data[8 + hlen:]
        if len(body) != 4 * dim:
            raise HeadError(f"serialized head should carry {dim} weights, has {len(body)} bytes")
        w = np.frombuffer(body, dtype="<f4").astype(np.float32)
        return Head(w=w, b=float(h["b"]), a=float(h["a"]), c=float(h["c"]),
                    kind=str(h["kind"]), version=str(h["version"]), meta=dict(h.get("meta", {})))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 25,
                 sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression by Newton's method; returns (w, b)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = x.shape
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    xb = np.hstack([x, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(iters):
        z = np.clip(xb @ theta, -30, 30)
        p = sigmoid(z)
        grad = xb.T @ (sw * (p - y)) + reg * theta
        hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-6:
            break
    return theta[:-1], float(theta[-1])


def _balanced(y: np.ndarray) -> np.ndarray:
    pos = max(int(y.sum()), 1)
    neg = max(int(len(y) - y.sum()), 1)
    return np.where(y > 0.5, len(y) / (2.0 * pos), len(y) / (2.0 * neg))


def fit_head(owner: np.ndarray, others: np.ndarray, seed: int = 0, l2: float = 10.0,
             kind: str = "user", meta: dict[str, object] | None = None) -> Head:
    """Owner windows (label 0) vs other users' windows (label 1), balanced, then calibrated.

    A random quarter of each class is held out to fit the Platt calibration, so the calibrated
    logits are not fitted on the same windows as the weights.
    """
    owner = np.asarray(owner, dtype=np.float64)
    others = np.asarray(others, dtype=np.float64)
    if len(owner) < 4 or len(others) < 4:
        raise HeadError(f"a head needs >= 4 windows of each class, got owner={len(owner)} "
                        f"others={len(others)}")
    rng = np.random.default_rng(seed)
    x = np.vstack([owner, others])
    y = np.concatenate([np.zeros(len(owner)), np.ones(len(others))])
    cal = np.zeros(len(y), dtype=bool)
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        cal[rng.choice(idx, size=max(2, len(idx) // 4), replace=False)] = True
    mu = x[~cal].mean(axis=0)
    sd = x[~cal].std(axis=0) + 1e-6
    xs = (x - mu) / sd
    w_s, b_s = fit_logistic(xs[~cal], y[~cal], l2=l2, sample_weight=_balanced(y[~cal]))
    w = w_s / sd
    b = b_s - float(mu @ w)
    raw = x[cal] @ w + b
    ac, cc = fit_logistic(raw[:, None], y[cal], l2=1e-3, sample_weight=_balanced(y[cal]))
    a = float(ac[0])
    wf = w.astype(np.float32)
    digest = hashlib.sha256(wf.tobytes() + struct.pack("<ddd", b, a, float(cc))).hexdigest()[:12]
    return Head(w=wf, b=float(b), a=a, c=float(cc), kind=kind, version=digest,
                meta=dict(meta or {}))
