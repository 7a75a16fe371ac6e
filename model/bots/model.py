"""The bot score: a supervised classifier (bots vs people) and a model of people alone, fused.

- :class:`LogReg` / :class:`MLP`: numpy, standardised inputs, L2, full-batch training, fixed
  hyper-parameters (nothing is tuned on a held-out library).
- :class:`HumanDensity`: a Gaussian on people's standardised features (shrunk covariance); the
  Mahalanobis distance flags what people do not do, needs no bot data, so it may reach libraries
  nobody has seen.
- :class:`BotModel`: both, each mapped to a "human tail" score ``-log10(share of calibration
  people scoring at least as high)``, fused as their mean; a threshold on the fused score per
  input length (a 2 s crop is noisier than a whole session: :func:`horizon_of`), chosen on
  calibration people (never the people the FPR is reported on) so that it holds the target
  false-positive rate on *every* calibration population, not on their pool (see
  ``cursorprint.model.bots.train.calibrate_thresholds``). Saved as ``bot.json`` in a model
  directory (plain JSON, no pickle).

Every verdict also names the input's sampling regime (:func:`regime_of`: ``local`` browser
sampling or ``sparse`` remote-desktop-like updates), so a false positive can be traced to it.

Reason codes: ``automation_suspected`` when the reported ``bot_score`` (the fused score rescaled to
[0, 1], the calibrated threshold at :data:`FLAG_AT`) is at or above the caller's cut (the offline
``cursorprint score`` uses :data:`FLAG_AT`, the stream's scorer each site's
``CURSORPRINT_BOT_THRESHOLD``: both call :meth:`BotModel.score`), ``bot_too_few_moves`` (and no
score) when there is too little movement to judge; apart from the codes, ``evidence`` names the
features that pushed the supervised logit up the most (largest weight x standardised value
terms).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.bots.features import BOT_FEATURES, MIN_MOVES, bot_features
from cursorprint.model.data.trajectory import KIND_MOVE, Trajectory
from cursorprint.model.features.remote_access import remote_access_features

__all__ = ["LogReg", "MLP", "HumanDensity", "BotModel", "BotScore", "auc", "BOT_MODEL_FILE",
           "REASON_AUTOMATION", "REASON_TOO_SHORT", "FLAG_AT", "horizon_of", "regime_of",
           "REGIMES"]

BOT_MODEL_FILE = "bot.json"
REASON_AUTOMATION = "automation_suspected"
REASON_TOO_SHORT = "bot_too_few_moves"
#: the bot score of the calibrated threshold (:meth:`BotModel.scale` puts it at 0.5); the fused
#: score is at most log10 of the calibration set's size above it, so the bot score stays below
#: 1 - 1e-5 and a cut of 1 never flags
FLAG_AT = 0.5


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC of ``pos`` over ``neg`` (ties count half), by ranks."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    allv = np.r_[pos, neg]
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    sv = allv[order]
    # average ranks for ties
    _, first, counts = np.unique(sv, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


@dataclass
class _Scaler:
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> _Scaler:
        return cls(x.mean(0), np.maximum(x.std(0), 1e-6))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.clip((x - self.mean) / self.std, -8, 8)


def _balanced_weights(y: np.ndarray) -> np.ndarray:
    w = np.where(y > 0.5, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    return w / w.mean()


@dataclass
class LogReg:
    """L2 logistic regression, class-balanced, Newton steps."""

    l2: float = 1.0
    scaler: _Scaler | None = None
    w: np.ndarray = field(default_factory=lambda: np.zeros(0))
    b: float = 0.0

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogReg:
        self.scaler = _Scaler.fit(x)
        z = np.c_[self.scaler(x), np.ones(len(x))]
        sw = _balanced_weights(y)
        beta = np.zeros(z.shape[1])
        reg = np.full(z.shape[1], self.l2)
        reg[-1] = 0.0
        for _ in range(50):
            p = 1 / (1 + np.exp(-np.clip(z @ beta, -30, 30)))
            g = z.T @ (sw * (p - y)) + reg * beta
            h = (z * (sw * p * (1 - p))[:, None]).T @ z + np.diag(reg + 1e-8)
            step = np.linalg.solve(h, g)
            beta -= step
            if np.abs(step).max() < 1e-7:
                break
        self.w, self.b = beta[:-1], float(beta[-1])
        return self

    def logit(self, x: np.ndarray) -> np.ndarray:
        assert self.scaler is not None
        return self.scaler(x) @ self.w + self.b

    def contributions(self, x: np.ndarray) -> np.ndarray:
        assert self.scaler is not None
        return self.scaler(x) * self.w

    def to_dict(self) -> dict[str, Any]:
        assert self.scaler is not None
        return {"l2": self.l2, "mean": self.scaler.mean.tolist(), "std": self.scaler.std.tolist(),
                "w": self.w.tolist(), "b": self.b}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogReg:
        return cls(d["l2"], _Scaler(np.asarray(d["mean"]), np.asarray(d["std"])),
                   np.asarray(d["w"]), float(d["b"]))


@dataclass
class MLP:
    """One hidden tanh layer, class-balanced cross-entropy + L2, Adam, full batch, seeded."""

    hidden: int = 32
    l2: float = 1e-3
    epochs: int = 400
    lr: float = 0.01
    seed: int = 0
    scaler: _Scaler | None = None
    params: list[np.ndarray] = field(default_factory=list)

    def _forward(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w1, b1, w2, b2 = self.params
        h = np.tanh(z @ w1 + b1)
        return h, h @ w2 + b2

    def fit(self, x: np.ndarray, y: np.ndarray) -> MLP:
        rng = np.random.default_rng(self.seed)
        self.scaler = _Scaler.fit(x)
        z = self.scaler(x)
        d = z.shape[1]
        self.params = [rng.normal(0, 1 / np.sqrt(d), (d, self.hidden)), np.zeros(self.hidden),
                       rng.normal(0, 1 / np.sqrt(self.hidden), self.hidden), np.zeros(())]
        sw = _balanced_weights(y) / len(y)
        m = [np.zeros_like(p) for p in self.params]
        v = [np.zeros_like(p) for p in self.params]
        for step in range(1, self.epochs + 1):
            h, out = self._forward(z)
            p = 1 / (1 + np.exp(-np.clip(out, -30, 30)))
            g_out = sw * (p - y)
            w1, _, w2, _ = self.params
            g_h = np.outer(g_out, w2) * (1 - h ** 2)
            grads = [z.T @ g_h + self.l2 * w1, g_h.sum(0), h.T @ g_out + self.l2 * w2,
                     np.asarray(g_out.sum())]
            for i, g in enumerate(grads):
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                mh, vh = m[i] / (1 - 0.9 ** step), v[i] / (1 - 0.999 ** step)
                self.params[i] = self.params[i] - self.lr * mh / (np.sqrt(vh) + 1e-8)
        return self

    def logit(self, x: np.ndarray) -> np.ndarray:
        assert self.scaler is not None
        return self._forward(self.scaler(x))[1]

    def to_dict(self) -> dict[str, Any]:
        assert self.scaler is not None
        return {"hidden": self.hidden, "l2": self.l2, "mean": self.scaler.mean.tolist(),
                "std": self.scaler.std.tolist(), "params": [p.tolist() for p in self.params]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MLP:
        return cls(hidden=d["hidden"], l2=d["l2"],
                   scaler=_Scaler(np.asarray(d["mean"]), np.asarray(d["std"])),
                   params=[np.asarray(p, dtype=np.float64) for p in d["params"]])


@dataclass
class HumanDensity:
    """Gaussian of people's standardised features; score = Mahalanobis distance (shrunk)."""

    shrink: float = 0.2
    scaler: _Scaler | None = None
    prec: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def fit(self, x_human: np.ndarray) -> HumanDensity:
        self.scaler = _Scaler.fit(x_human)
        z = self.scaler(x_human)
        cov = np.cov(z, rowvar=False)
        cov = (1 - self.shrink) * cov + self.shrink * np.eye(len(cov))
        self.prec = np.linalg.inv(cov)
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        assert self.scaler is not None
        z = self.scaler(x)
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", z, self.prec, z), 0.0))

    def to_dict(self) -> dict[str, Any]:
        assert self.scaler is not None
        return {"shrink": self.shrink, "mean": self.scaler.mean.tolist(),
                "std": self.scaler.std.tolist(), "prec": self.prec.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HumanDensity:
        return cls(d["shrink"], _Scaler(np.asarray(d["mean"]), np.asarray(d["std"])),
                   np.asarray(d["prec"]))


def horizon_of(traj: Trajectory) -> str:
    """Which threshold applies: ``2s`` up to 3.5 s of input, ``5s`` up to 10 s, else ``whole``."""
    moves = np.flatnonzero(traj.kind == KIND_MOVE)
    d = float(traj.t[-1] - traj.t[moves[0]]) if len(moves) else 0.0
    return "2s" if d <= 3.5 else "5s" if d <= 10.0 else "whole"


#: sampling regimes: ``local`` (the browser's own frame-rate sampling) and ``sparse`` (a median
#: move interval of 40 ms or more during movement, what remote-desktop protocols deliver; the
#: remote-access detector's ``sparse`` mark, which needs no minimum length)
REGIMES = ("local", "sparse")


def regime_of(traj: Trajectory) -> str:
    """The sampling regime of ``traj`` (:data:`REGIMES`), from its own move intervals."""
    return "sparse" if remote_access_features(traj).sparse else "local"


def _tail(ref: np.ndarray, s: np.ndarray) -> np.ndarray:
    """-log10 of the share of ``ref`` (calibration people) at or above ``s`` (+1 smoothing)."""
    ref = np.sort(ref)
    above = len(ref) - np.searchsorted(ref, s, side="left")
    return -np.log10((above + 1.0) / (len(ref) + 1.0))


@dataclass(frozen=True)
class BotScore:
    """One recording's bot verdict: ``score`` in [0, 1] (fused human tail rescaled; None when
    fewer than ``MIN_MOVES`` moves: no verdict), the reasons at the caller's cut."""

    score: float | None
    fused: float
    supervised: float
    human_novelty: float
    threshold: float
    reasons: tuple[str, ...]
    n_moves: int
    evidence: tuple[str, ...] = ()
    regime: str = "local"

    def to_dict(self) -> dict[str, Any]:
        return {"bot_score": None if self.score is None else round(self.score, 4),
                "bot_fused": round(self.fused, 4),
                "bot_supervised_logit": round(self.supervised, 4),
                "bot_human_novelty": round(self.human_novelty, 4),
                "bot_threshold": round(self.threshold, 4), "bot_reasons": list(self.reasons),
                "bot_evidence": list(self.evidence), "bot_moves": self.n_moves,
                "bot_regime": self.regime}


@dataclass
class BotModel:
    """Supervised classifier + human density, calibrated on people; see the module doc."""

    sup: LogReg | MLP
    dens: HumanDensity
    ref_sup: np.ndarray          # calibration people's supervised logits
    ref_dens: np.ndarray         # ... and their densities
    threshold: float             # on the fused score (fallback: the highest of ``thresholds``)
    fusion: str = "mean"         # "mean", "supervised" or "density"
    meta: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)   # by horizon_of()

    def threshold_for(self, horizon: str) -> float:
        return self.thresholds.get(horizon, self.threshold)

    def parts(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s, d = self.sup.logit(x), self.dens.score(x)
        ts, td = _tail(self.ref_sup, s), _tail(self.ref_dens, d)
        fused = {"mean": (ts + td) / 2, "supervised": ts, "density": td}[self.fusion]
        return s, d, fused

    def fused(self, x: np.ndarray) -> np.ndarray:
        return self.parts(x)[2]

    def scale(self, fused: np.ndarray | float, threshold: float | None = None) -> np.ndarray:
        """Fused score -> [0, 1] with the threshold at 0.5 (reported as ``bot_score``)."""
        th = self.threshold if threshold is None else threshold
        return 1 / (1 + np.exp(-3.0 * (np.asarray(fused) - th)))

    def score(self, traj: Trajectory, top_reasons: int = 3, cut: float = FLAG_AT) -> BotScore:
        """The verdict on one recording: ``automation_suspected`` when the bot score is at or
        above ``cut`` (:data:`FLAG_AT`: the calibrated threshold of the recording's length)."""
        x = bot_features(traj)[None, :]
        s, d, f = (float(v[0]) for v in self.parts(x))
        n_moves = int((traj.kind == KIND_MOVE).sum())
        regime = regime_of(traj)
        th = self.threshold_for(horizon_of(traj))
        if n_moves < MIN_MOVES:
            return BotScore(None, f, s, d, th, (REASON_TOO_SHORT,), n_moves, regime=regime)
        score = float(self.scale(f, th))
        reasons = (REASON_AUTOMATION,) if score >= cut else ()
        evidence: list[str] = []
        if isinstance(self.sup, LogReg):
            c = self.sup.contributions(x)[0]
            evidence = [BOT_FEATURES[i] for i in np.argsort(-c)[:top_reasons] if c[i] > 0.5]
        return BotScore(score, f, s, d, th, reasons, n_moves, tuple(evidence), regime)

    def save(self, directory: Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        kind = "logreg" if isinstance(self.sup, LogReg) else "mlp"
        path = directory / BOT_MODEL_FILE
        path.write_text(json.dumps({
            "features": list(BOT_FEATURES), "supervised_kind": kind, "supervised": self.sup.to_dict(),
            "density": self.dens.to_dict(), "ref_sup": self.ref_sup.tolist(),
            "ref_dens": self.ref_dens.tolist(), "threshold": self.threshold,
            "thresholds": self.thresholds,
            "fusion": self.fusion, "meta": self.meta}))
        return path

    @classmethod
    def load(cls, directory: Path) -> BotModel:
        path = Path(directory)
        if path.is_dir():
            path = path / BOT_MODEL_FILE
        d = json.loads(path.read_text())
        if d["features"] != list(BOT_FEATURES):
            raise ValueError(f"{path}: made for other bot features; retrain (cursorprint bots train)")
        sup: LogReg | MLP = LogReg.from_dict(d["supervised"]) if d["supervised_kind"] == "logreg" \
            else MLP.from_dict(d["supervised"])
        return cls(sup, HumanDensity.from_dict(d["density"]), np.asarray(d["ref_sup"]),
                   np.asarray(d["ref_dens"]), float(d["threshold"]), d["fusion"], d.get("meta", {}),
                   {k: float(v) for k, v in d.get("thresholds", {}).items()})
