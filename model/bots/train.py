"""Training and leave-one-library-out evaluation of the bot score.

People (SapiMouse, by user number, so no person is on two sides):
- users 1-56: training people (the classifier's negatives and the human density);
- users 57-72: calibration people: the fused score's reference distributions and the threshold;
- users 73-120: test people, used only for the reported AUCs and FPRs.
Balabit (when given; its ``training_files``, 10 users recorded over remote desktop with sparse
~100 ms sampling, a population quite unlike SapiMouse's 60 Hz browser recordings) is split the
same way by user, sorted by name: 4 training, 2 calibration, 4 test users.
Bots: the corpus of ``cursorprint bots corpus``. Leave-one-library-out: for each library, the
model is trained on the other libraries only, with the same fixed hyper-parameters, and that
library's sessions are scored against the test people.

Thresholds: per input length, the highest of the ``1 - TARGET_FPR`` quantiles of each calibration
population (SapiMouse users 57-72; Balabit's two calibration users), so the target holds on each,
not only on their pool, where SapiMouse's many crops outvote the remote-desktop people.

Horizons: the first 2 s and 5 s of movement and the whole recording. Bots give one sample per
horizon per session (the session's start; training also uses crops from later starts); people give
crops from evenly spaced starts (their recordings are 1-3 minute sessions, not page visits).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.bots.features import bot_feature_matrix, crop
from cursorprint.model.bots.model import (
    MLP,
    REGIMES,
    BotModel,
    HumanDensity,
    LogReg,
    auc,
    regime_of,
)
from cursorprint.model.data.datasets import (
    load_balabit,
    read_sapimouse_session,
    trajectory_from_session_record,
)
from cursorprint.model.data.trajectory import KIND_MOVE, Trajectory

__all__ = ["HORIZONS", "Samples", "load_corpus", "sapimouse_users", "human_samples",
           "bot_samples", "fit_bot_model", "evaluate_lolo", "train_and_report", "TARGET_FPR"]

log = logging.getLogger(__name__)
HORIZONS: tuple[float | None, ...] = (2.0, 5.0, None)
TARGET_FPR = 0.0025          # threshold at this share of calibration people (goal: <= 0.5 %)
TRAIN_USERS = range(1, 57)
CALIB_USERS = range(57, 73)
TEST_USERS = range(73, 121)
BALABIT_SPLIT = (4, 2, 4)


def _hname(h: float | None) -> str:
    return "whole" if h is None else f"{h:g}s"


@dataclass
class Samples:
    """Feature rows with their labels: horizon name, group (library or user) and sampling
    regime (:func:`regime_of` of the crop the row was measured on)."""

    x: np.ndarray
    horizon: np.ndarray
    group: np.ndarray
    regime: np.ndarray

    @staticmethod
    def of(rows: Sequence[Trajectory], horizon: Sequence[str], group: Sequence[str]) -> Samples:
        return Samples(bot_feature_matrix(rows), np.asarray(horizon, dtype=str),
                       np.asarray(group, dtype=str),
                       np.asarray([regime_of(r) for r in rows], dtype=str))

    @staticmethod
    def concat(parts: Sequence[Samples]) -> Samples:
        return Samples(np.concatenate([p.x for p in parts]),
                       np.concatenate([p.horizon for p in parts]),
                       np.concatenate([p.group for p in parts]),
                       np.concatenate([p.regime for p in parts]))

    def where(self, mask: np.ndarray) -> Samples:
        return Samples(self.x[mask], self.horizon[mask], self.group[mask], self.regime[mask])


def load_corpus(root: Path) -> list[tuple[str, str, Trajectory]]:
    """(library, task, trajectory) of every session in a corpus folder (and its subfolders:
    several ``bots corpus`` runs can share one root)."""
    out: list[tuple[str, str, Trajectory]] = []
    for f in sorted(Path(root).rglob("sessions.jsonl")):
        for line in f.read_text().splitlines():
            d = json.loads(line)
            tr = trajectory_from_session_record(d["record"])
            if (tr.kind == KIND_MOVE).sum() >= 2:
                out.append((d["lib"], d["task"], tr))
    return out


def sapimouse_users(root: Path, users: Iterable[int]) -> list[Trajectory]:
    out: list[Trajectory] = []
    for u in users:
        for d in sorted(Path(root).glob(f"user{u}")) + sorted(Path(root).glob(f"user{u}.*")):
            out.extend(read_sapimouse_session(p, f"sapi{u}") for p in sorted(d.glob("*.csv")))
    return out


def _starts(tr: Trajectory, k: int, rng: np.random.Generator | None) -> list[int]:
    moves = np.flatnonzero(tr.kind == KIND_MOVE)
    if len(moves) == 0:
        return [0]
    if rng is None:
        return [int(moves[i]) for i in np.linspace(0, len(moves) - 1, k + 2)[1:-1].astype(int)]
    return [int(v) for v in rng.choice(moves, size=k)]


def human_samples(trajs: Sequence[Trajectory], crops: int = 10, seed: int | None = None,
                  horizons: Sequence[float | None] = HORIZONS) -> Samples:
    """``crops`` crops per recording at each finite horizon (evenly spaced starts, or random
    when ``seed`` is given), plus the whole recording."""
    rng = None if seed is None else np.random.default_rng(seed)
    rows, hz, grp = [], [], []
    for tr in trajs:
        for h in horizons:
            pieces = [tr] if h is None else [crop(tr, h, s) for s in _starts(tr, crops, rng)]
            for p in pieces:
                if (p.kind == KIND_MOVE).sum() >= 3:
                    rows.append(p)
                    hz.append(_hname(h))
                    grp.append(str(tr.meta.get("user", "?")))
    return Samples.of(rows, hz, grp)


def bot_samples(corpus: Sequence[tuple[str, str, Trajectory]], extra_starts: int = 0,
                seed: int = 0, horizons: Sequence[float | None] = HORIZONS) -> Samples:
    """The start of each bot session at each horizon (+ ``extra_starts`` later random starts)."""
    rng = np.random.default_rng(seed)
    rows, hz, grp = [], [], []
    for lib, _task, tr in corpus:
        for h in horizons:
            pieces = [crop(tr, h)]
            if extra_starts and h is not None:
                pieces += [crop(tr, h, s) for s in _starts(tr, extra_starts, rng)]
            for p in pieces:
                if (p.kind == KIND_MOVE).sum() >= 3:
                    rows.append(p)
                    hz.append(_hname(h))
                    grp.append(lib)
    return Samples.of(rows, hz, grp)


def calibrate_thresholds(model: BotModel, populations: Sequence[Samples],
                         target_fpr: float = TARGET_FPR) -> dict[str, float]:
    """Per horizon, the highest over ``populations`` of the ``1 - target_fpr`` quantile of their
    fused scores: each population of calibration people (a data set, a site) stays at or below
    the target, whereas one quantile of their pool lets the largest population set it and a
    smaller one that scores higher (people on a remote desktop: a few percent above it) go over.
    With fewer than ``1 / target_fpr`` crops a population's quantile is close to its maximum."""
    out: dict[str, float] = {}
    for h in map(_hname, HORIZONS):
        qs = [float(np.quantile(model.fused(p.x[p.horizon == h]), 1 - target_fpr))
              for p in populations if (p.horizon == h).any()]
        if qs:
            out[h] = max(qs)
    if not out:
        raise ValueError("no calibration people at any horizon: cannot set a bot threshold")
    return out


def fit_bot_model(bots: Samples, people: Samples, calib: Samples | Sequence[Samples],
                  kind: str = "logreg", fusion: str = "mean",
                  target_fpr: float = TARGET_FPR) -> BotModel:
    """Classifier on bots vs training people, density on training people, tails on calibration
    people; ``calib`` one population or a list of them, the thresholds holding ``target_fpr``
    on each (:func:`calibrate_thresholds`)."""
    populations = [calib] if isinstance(calib, Samples) else list(calib)
    pooled = Samples.concat(populations)
    x = np.r_[bots.x, people.x]
    y = np.r_[np.ones(len(bots.x)), np.zeros(len(people.x))]
    sup: LogReg | MLP = LogReg(l2=1.0).fit(x, y) if kind == "logreg" else MLP().fit(x, y)
    dens = HumanDensity().fit(people.x)
    model = BotModel(sup, dens, np.sort(sup.logit(pooled.x)), np.sort(dens.score(pooled.x)), 0.0,
                     fusion)
    model.thresholds = calibrate_thresholds(model, populations, target_fpr)
    model.threshold = max(model.thresholds.values())
    return model


def thresholds_of(model: BotModel, s: Samples) -> np.ndarray:
    """The threshold each row of ``s`` is judged against (its horizon's)."""
    return np.asarray([model.threshold_for(h) for h in s.horizon], dtype=float)


def _report(model: BotModel, bots: Samples, humans: Samples) -> dict[str, Any]:
    """AUCs per horizon, TPR / FPR at the horizon's threshold, and both per sampling regime
    (``fpr_sparse``: over the people's rows sampled sparsely, ...)."""
    s_b, d_b, f_b = model.parts(bots.x)
    s_h, d_h, f_h = model.parts(humans.x)
    flag_b, flag_h = f_b >= thresholds_of(model, bots), f_h >= thresholds_of(model, humans)
    out: dict[str, Any] = {}
    for h in map(_hname, HORIZONS):
        mb, mh = bots.horizon == h, humans.horizon == h
        row = {"auc_fused": auc(f_b[mb], f_h[mh]), "auc_supervised": auc(s_b[mb], s_h[mh]),
               "auc_density": auc(d_b[mb], d_h[mh]),
               "tpr": float(np.mean(flag_b[mb])) if mb.any() else float("nan"),
               "fpr": float(np.mean(flag_h[mh])) if mh.any() else float("nan"),
               "threshold": model.threshold_for(h),
               "n_bots": int(mb.sum()), "n_people": int(mh.sum())}
        for r in REGIMES:
            mr = mh & (humans.regime == r)
            row[f"fpr_{r}"] = float(np.mean(flag_h[mr])) if mr.any() else float("nan")
            row[f"n_people_{r}"] = int(mr.sum())
            br = mb & (bots.regime == r)
            row[f"tpr_{r}"] = float(np.mean(flag_b[br])) if br.any() else float("nan")
        out[h] = row
    return out


def evaluate_lolo(corpus: Sequence[tuple[str, str, Trajectory]], train_people: Samples,
                  calib_people: Samples | Sequence[Samples], test_people: Samples,
                  kinds: Sequence[str] = ("logreg",),
                  progress: Callable[[str], None] = print,
                  other_people: dict[str, Samples] | None = None) -> dict[str, Any]:
    """Leave-one-library-out: per held-out library and model kind, AUCs at each horizon
    against ``test_people`` (and ``other_people`` sets, reported under their names)."""
    libs = sorted({lib for lib, _, _ in corpus})
    train_bots = bot_samples(corpus, extra_starts=3)
    test_bots = bot_samples(corpus)
    result: dict[str, Any] = {}
    for kind in kinds:
        for lib in libs:
            model = fit_bot_model(train_bots.where(train_bots.group != lib), train_people,
                                  calib_people, kind)
            held = test_bots.where(test_bots.group == lib)
            rep = _report(model, held, test_people)
            result.setdefault(kind, {})[lib] = rep
            for name, people in (other_people or {}).items():
                result.setdefault(f"{kind}:{name}", {})[lib] = _report(model, held, people)
            progress(f"LOLO {kind} held out {lib}: " + ", ".join(
                f"{h} AUC {r['auc_fused']:.3f} (sup {r['auc_supervised']:.3f}, "
                f"dens {r['auc_density']:.3f}) TPR {r['tpr']:.2f}" for h, r in rep.items()))
    return result


def held_out_people(bots: Samples, sapi_train: Samples, bal_train: Samples,
                    sapi_calib: Samples, bal_calib: Samples, kind: str = "logreg"
                    ) -> dict[str, dict[str, dict[str, float]]]:
    """How a threshold transfers to remote-desktop people it never saw, on non-test users only:
    each Balabit training or calibration user in turn is left out of training and calibration,
    and its crops are judged at the thresholds made without it (FPR per horizon). This is what
    chose the threshold rule, never the test users' figures."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for u in sorted({*bal_train.group, *bal_calib.group}):
        model = fit_bot_model(bots, Samples.concat([sapi_train, bal_train.where(
            bal_train.group != u)]), [sapi_calib, bal_calib.where(bal_calib.group != u)], kind)
        held = Samples.concat([bal_train.where(bal_train.group == u),
                               bal_calib.where(bal_calib.group == u)])
        flagged = model.fused(held.x) >= thresholds_of(model, held)
        out[u] = {h: {"fpr": float(np.mean(flagged[held.horizon == h])),
                      "n": int((held.horizon == h).sum())}
                  for h in map(_hname, HORIZONS) if (held.horizon == h).any()}
    return out


def _users_of(trajs: Sequence[Trajectory]) -> set[str]:
    return {str(t.meta.get("user")) for t in trajs}


def train_and_report(corpus_dir: Path, sapimouse: Path, out: Path, balabit: Path | None = None,
                     kinds: Sequence[str] = ("logreg", "mlp"),
                     progress: Callable[[str], None] = print) -> dict[str, Any]:
    """LOLO report + the final model (every library) written to ``out`` (``bot.json``,
    ``report.json``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = load_corpus(corpus_dir)
    if not corpus:
        raise ValueError(f"{corpus_dir}: no corpus sessions (run `cursorprint bots corpus`)")
    progress(f"corpus: {len(corpus)} sessions, libraries "
             f"{sorted({lib for lib, _, _ in corpus})}")
    tr_p, ca_p, te_p = (sapimouse_users(sapimouse, u) for u in (TRAIN_USERS, CALIB_USERS, TEST_USERS))
    assert not (_users_of(tr_p) & _users_of(te_p)) and not (_users_of(ca_p) & _users_of(te_p))
    progress(f"people: {len(tr_p)} training, {len(ca_p)} calibration, {len(te_p)} test "
             "SapiMouse sessions; features ...")
    train_people = human_samples(tr_p, crops=8, seed=1)
    calib_people = [human_samples(ca_p, crops=25)]      # one entry per calibration population
    test_people = human_samples(te_p, crops=20)
    balabit_people = None
    louo: dict[str, Any] = {}
    if balabit is not None:
        bal = load_balabit(balabit, "training_files")
        users = sorted(_users_of(bal))
        n_tr, n_ca, _ = BALABIT_SPLIT
        split = (users[:n_tr], users[n_tr:n_tr + n_ca], users[n_tr + n_ca:])
        progress(f"Balabit users: training {split[0]}, calibration {split[1]}, test {split[2]}")
        b_tr, b_ca, b_te = ([t for t in bal if t.meta.get("user") in us] for us in split)
        sapi_train, bal_train = train_people, human_samples(b_tr, crops=30, seed=2)
        bal_calib = human_samples(b_ca, crops=40)
        train_people = Samples.concat([sapi_train, bal_train])
        calib_people.append(bal_calib)
        balabit_people = human_samples(b_te, crops=40)
        louo = held_out_people(bot_samples(corpus, extra_starts=3), sapi_train, bal_train,
                               calib_people[0], bal_calib, kinds[0])
        progress("Balabit leave-one-user-out FPR (non-test users): " + "; ".join(
            f"{u} " + ", ".join(f"{h} {r['fpr']:.4f}" for h, r in by_h.items())
            for u, by_h in louo.items()))
    lolo = evaluate_lolo(corpus, train_people, calib_people, test_people, kinds, progress,
                         {"balabit": balabit_people} if balabit_people is not None else None)
    final: dict[str, Any] = {}
    all_bots_train = bot_samples(corpus, extra_starts=3)
    all_bots = bot_samples(corpus)
    for kind in kinds:
        model = fit_bot_model(all_bots_train, train_people, calib_people, kind)
        rep = {"sapimouse_73_120": _report(model, all_bots, test_people)}
        if balabit_people is not None:
            rep["balabit"] = _report(model, all_bots, balabit_people)
        final[kind] = rep
        if kind == kinds[0]:
            model.meta = {"libraries": sorted({lib for lib, _, _ in corpus}),
                          "target_fpr": TARGET_FPR, "kind": kind}
            model.save(out)
        progress(f"final {kind}: thresholds {model.thresholds}; " + "; ".join(
            f"{src} {h}: FPR {r['fpr']:.4f} ({r['n_people']} crops), TPR {r['tpr']:.2f}"
            for src, by_h in rep.items() for h, r in by_h.items()))
    report = {"lolo": lolo, "final": final, "balabit_leave_one_user_out": louo,
              "corpus_sessions": len(corpus),
              "people": {"train": len(tr_p), "calib": len(ca_p), "test": len(te_p)},
              "horizons": [_hname(h) for h in HORIZONS], "target_fpr": TARGET_FPR}
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float))
    return report


def sapimouse_user_number(user: str) -> int | None:
    m = re.fullmatch(r"sapi(\d+)", user)
    return int(m.group(1)) if m else None
