"""Evaluation on SapiMouse (browser data) under the published protocol, by seconds of activity.

Trains a backbone on the split's backbone users (optionally plus Balabit's training_files),
enrolls one head per test user on their 3-minute session against windows of the backbone
users (never another test user), and scores every test user's 1-minute session against every
head, cut to the first 5/10/15/30/60 s of pointer activity and to the first 3/5 blocks of 128
events (:mod:`~cursorprint.model.evaluation.protocol`). Writes ``scores.csv`` (enrolled user,
test file, cut, seconds used, score), ``report.json`` (AUC, EER, FAR at FRR 1 % / 5 %,
per-user AUC spread per cut), ``det.png`` and ``auc_vs_seconds.png``.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from cursorprint.model.data import datasets
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.evaluation.metrics import det_curve, eer, far_at_frr, roc_auc
from cursorprint.model.evaluation.protocol import (
    ACTIVE_GAP_S,
    PUBLISHED,
    Split,
    active_time,
    first_active_seconds,
    first_blocks,
    split_sessions,
    user_number,
)
from cursorprint.model.nets.heads import Head, fit_head
from cursorprint.model.nets.modeldir import ModelDirError, read_info
from cursorprint.model.serving.scoring import SessionScorer

__all__ = ["evaluate_sapimouse", "SECONDS", "BLOCKS", "BACKBONE_USERS_KEY", "sapimouse_seen",
           "check_backbone", "enroll_heads"]

log = logging.getLogger(__name__)
SECONDS = (5, 10, 15, 30, 60)
BLOCKS = (3, 5)
BACKBONE_USERS_KEY = "sapimouse_backbone_users"   # model.json extra: SapiMouse users it saw
MAX_NEGATIVES = 4000                              # backbone users' windows per head


def _cuts(scorer: SessionScorer, traj: Trajectory) -> list[tuple[str, float, list[Trajectory]]]:
    """(cut name, activity seconds used, windows) for every cut of one test session."""
    out = []
    for s in SECONDS:
        part = first_active_seconds(traj, s)
        used = float(active_time(part)[-1]) if len(part) else 0.0
        out.append((f"{s}s", used, scorer.windows(part)))
    for k in BLOCKS:
        blocks = first_blocks(traj, scorer.info.rule, k)
        used = float(sum(active_time(b)[-1] for b in blocks if len(b)))
        out.append((f"{k}blocks", used, blocks))
    return out


def sapimouse_seen(trajs: list[Trajectory] | None) -> dict[str, list[int]]:
    """The model.json extra that says which SapiMouse users a backbone was trained on (none for
    a Balabit-only backbone), so this protocol can accept or refuse the model later."""
    return {BACKBONE_USERS_KEY: sorted({user_number(str(t.meta["user"])) for t in trajs or []})}


def check_backbone(model_dir: Path, split: Split) -> None:
    """Refuse a model whose backbone saw any of the split's test users (or does not say)."""
    seen = read_info(model_dir).extra.get(BACKBONE_USERS_KEY)
    if seen is None:
        raise ModelDirError(f"{model_dir}/model.json does not say which SapiMouse users its "
                            f"backbone saw ({BACKBONE_USERS_KEY}); train one with this command")
    leaked = sorted(set(seen) & set(split.test_users))
    if leaked:
        raise ModelDirError(f"the backbone of {model_dir} saw test users {leaked}")


def _train(backbone: list[Trajectory], out: Path, split: Split, cfg: Any,
           balabit: Path | None) -> None:
    from cursorprint.model.training.train import train_model

    pre = datasets.load_balabit(balabit, "training_files") if balabit else None
    seen = sapimouse_seen(backbone)[BACKBONE_USERS_KEY]
    train_model(backbone, out, cfg, pretrain_trajs=pre,
                extra={BACKBONE_USERS_KEY: seen, "split": split.name,
                       "data": f"sapimouse users {seen[0]}-{seen[-1]}"
                               + (f" + balabit training_files ({balabit})" if balabit else "")})


def enroll_heads(scorer: SessionScorer, backbone: list[Trajectory],
                 enroll: dict[str, Trajectory], seed: int, progress: bool) -> dict[str, Head]:
    """One head per enrolled user on their enrolment session, against up to
    :data:`MAX_NEGATIVES` windows of the backbone users (never another test user)."""
    rng = np.random.default_rng(seed)
    negatives = [w for t in backbone for w in scorer.windows(t)]
    if len(negatives) > MAX_NEGATIVES:
        pick = np.sort(rng.choice(len(negatives), size=MAX_NEGATIVES, replace=False))
        negatives = [negatives[i] for i in pick]
    neg = scorer.descriptors_of(negatives, progress=progress)
    heads = {}
    for user, tr in sorted(enroll.items()):
        heads[user] = fit_head(scorer.descriptors(tr), neg, seed=seed, kind="user",
                               meta={"enrolled": str(tr.meta["session"])})
    return heads


def _metrics(y: np.ndarray, s: np.ndarray, heads: np.ndarray) -> dict[str, Any]:
    per_user = np.array([roc_auc(y[heads == h], s[heads == h]) for h in np.unique(heads)])
    return {"roc_auc": round(roc_auc(y, s), 4), "eer": round(eer(y, s), 4),
            "far_at_frr_1pct": round(far_at_frr(y, s, 0.01), 4),
            "far_at_frr_5pct": round(far_at_frr(y, s, 0.05), 4),
            "per_user_auc": {q: round(float(np.quantile(per_user, p)), 4) for q, p in
                             (("min", 0.0), ("p10", 0.1), ("median", 0.5), ("max", 1.0))},
            "users_below_0.9": int((per_user < 0.9).sum())}


def _plots(results: dict[str, tuple[np.ndarray, np.ndarray]], report: dict[str, Any],
           out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ticks = [0.001, 0.01, 0.05, 0.2, 0.5, 0.8]
    fig, ax = plt.subplots(figsize=(5, 5))
    for cut, (y, s) in results.items():
        frr, far = det_curve(y, s)
        ax.plot(frr, far, label=f"{cut} (EER {report['cuts'][cut]['eer']:.3f})")
    pos = [NormalDist().inv_cdf(t) for t in ticks]
    ax.set_xticks(pos, [f"{t:g}" for t in ticks])
    ax.set_yticks(pos, [f"{t:g}" for t in ticks])
    ax.set_xlabel("false rejection rate (owner flagged)")
    ax.set_ylabel("false acceptance rate (impostor let through)")
    ax.set_title(f"SapiMouse DET ({report['split']} split)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "det.png", dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    secs = [report["cuts"][f"{s}s"] for s in SECONDS]
    ax.plot([c["median_seconds_used"] for c in secs], [c["roc_auc"] for c in secs], "o-",
            label="first N s of activity")
    for k in BLOCKS:
        c = report["cuts"][f"{k}blocks"]
        ax.plot([c["median_seconds_used"]], [c["roc_auc"]], "s", label=f"{k} blocks of 128")
    ax.set_xlabel("seconds of pointer activity used (median)")
    ax.set_ylabel("ROC AUC")
    ax.set_title("SapiMouse: AUC vs seconds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "auc_vs_seconds.png", dpi=100)
    plt.close(fig)


def evaluate_sapimouse(data: Path, out: Path, split: Split = PUBLISHED,
                       balabit: Path | None = None, model_dir: Path | None = None,
                       train_cfg: Any = None, progress: bool = True) -> dict[str, Any]:
    """Run the protocol; returns the report dict (also written to ``report.json``)."""
    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sessions = split_sessions(datasets.load_sapimouse(data), split)
    train_seconds = 0.0
    if model_dir is None:
        from cursorprint.model.training.train import TrainConfig

        model_dir = out / "model"
        t_train = time.time()
        _train(sessions.backbone, model_dir, split, train_cfg or TrainConfig(progress=progress),
               balabit)
        train_seconds = time.time() - t_train
    check_backbone(model_dir, split)
    base = SessionScorer.load(model_dir)
    seed = int(base.info.extra.get("train", {}).get("seed", 0))
    heads = enroll_heads(base, sessions.backbone, sessions.enroll, seed, progress)
    scorer = SessionScorer(base.info, base.embedder, base.population, heads)

    users = sorted(sessions.test)
    cuts = {u: _cuts(scorer, sessions.test[u]) for u in users}
    flat = [w for u in users for _, _, ws in cuts[u] for w in ws]
    desc = scorer.descriptors_of(flat, progress=progress)
    rows: list[tuple[str, str, str, float, float]] = []
    at = 0
    for u in users:
        for cut, used, ws in cuts[u]:
            d = desc[at:at + len(ws)]
            at += len(ws)
            for h in users:
                rows.append((h, str(sessions.test[u].meta["session"]), cut, used,
                             scorer.score_embeddings(h, d).score))
    with open(out / "scores.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["enrolled_user", "test_file", "cut", "seconds", "score"])
        wr.writerows([h, fn, cut, f"{used:.2f}", f"{s:.6f}"] for h, fn, cut, used, s in rows)

    report: dict[str, Any] = {
        "model_version": base.model_version, "model_dir": str(model_dir), "split": split.name,
        "backbone_users": f"{min(split.backbone_users)}-{max(split.backbone_users)}",
        "test_users": len(users), "genuine_trials": len(users),
        "impostor_trials": len(users) * (len(users) - 1), "balabit_in_backbone": bool(balabit),
        "active_gap_s": ACTIVE_GAP_S,
        "train_seconds": round(train_seconds, 1), "cuts": {}}
    results = {}
    for cut, _, _ in cuts[users[0]]:
        sel = [r for r in rows if r[2] == cut]
        y = np.array([int(h != f.split("/")[0]) for h, f, _, _, _ in sel])
        s = np.array([r[4] for r in sel])
        results[cut] = (y, s)
        seconds = [c[1] for u in users for c in cuts[u] if c[0] == cut]
        wins = [len(c[2]) for u in users for c in cuts[u] if c[0] == cut]
        report["cuts"][cut] = {**_metrics(y, s, np.array([r[0] for r in sel])),
                               "median_seconds_used": round(float(np.median(seconds)), 1),
                               "median_windows": float(np.median(wins))}
    _plots(results, report, out)
    report["total_seconds"] = round(time.time() - t0, 1)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report
