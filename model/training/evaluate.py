"""Evaluation on the Balabit challenge protocol: train on training_files, score every test session.

Writes ``scores.csv`` (filename,user,score for all test sessions); with labels also ``report.json``
(global ROC AUC, EER, per-user AUC, counts, timings) and ``roc.png``. No parameter is fitted on
test sessions: labels are read only to compute the metrics. Test-window descriptors are cached
under ``.cursorprint/cache`` keyed by the model version.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.data import datasets
from cursorprint.model.evaluation.metrics import eer, roc_auc, roc_curve

__all__ = ["evaluate_balabit"]

log = logging.getLogger(__name__)


def _plot_roc(y: np.ndarray, s: np.ndarray, auc: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fpr, tpr = roc_curve(y, s)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, label=f"cursorprint (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="chance")
    ax.set_xlabel("false positive rate (owner flagged)")
    ax.set_ylabel("true positive rate (impostor caught)")
    ax.set_title("Balabit test sessions (labels_dev)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _with_balabit_heads(scorer: Any, data: Path, progress: bool) -> Any:
    """The scorer with heads fitted on Balabit's training_files, as training fits them."""
    from cursorprint.model.serving.scoring import SessionScorer
    from cursorprint.model.training.pretrain import collect_windows
    from cursorprint.model.training.train import TrainConfig
    from cursorprint.model.training.user_heads import fit_user_heads

    train_cfg = scorer.info.extra.get("train", {})
    per_user = int(train_cfg.get("head_windows_per_user", TrainConfig.head_windows_per_user))
    seed = int(train_cfg.get("seed", 0))
    head_set = collect_windows(datasets.load_balabit(data, "training_files"), scorer.info.rule,
                               per_user, np.random.default_rng(seed))
    emb = scorer.descriptors_of(head_set.windows, progress=progress)
    heads = fit_user_heads(emb, head_set.users, seed=seed)
    return SessionScorer(scorer.info, scorer.embedder, scorer.population, heads)


def evaluate_balabit(data: Path, out: Path, labels: Path | None = None,
                     model_dir: Path | None = None, train_cfg: Any = None,
                     sapimouse: Path | None = None,
                     cache_dir: Path = Path(".cursorprint/cache"),
                     progress: bool = True, refit_heads: bool = False) -> dict[str, Any]:
    """Run the whole protocol; returns the report dict (also written to ``report.json``).

    ``refit_heads`` (with ``model_dir``): fit the Balabit users' heads on training_files on that
    model's backbone instead of using the model's own heads — how a backbone trained elsewhere
    (SapiMouse only: the cross-domain figure) is scored on Balabit.
    """
    from cursorprint.model.evaluation.sapimouse import sapimouse_seen
    from cursorprint.model.serving.scoring import REASON_NO_USER_HEAD, SessionScorer
    from cursorprint.model.training.train import TrainConfig, train_model

    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    label_map = datasets.read_labels(labels) if labels is not None else {}
    train_seconds = 0.0
    if model_dir is None:
        model_dir = out / "model"
        trajs = datasets.load_balabit(data, "training_files")
        pre = datasets.load_sapimouse(sapimouse) if sapimouse else None
        cfg = train_cfg or TrainConfig(progress=progress)
        t_train = time.time()
        train_model(trajs, model_dir, cfg, pretrain_trajs=pre,
                    extra={"data": f"balabit training_files ({data})", **sapimouse_seen(pre)})
        train_seconds = time.time() - t_train
    scorer = SessionScorer.load(model_dir)
    if refit_heads:
        scorer = _with_balabit_heads(scorer, data, progress)
    tests = datasets.load_balabit(data, "test_files")

    cache = Path(cache_dir) / f"balabit_test_descriptors_{scorer.model_version}.npz"
    windows_per = [scorer.windows(tr) for tr in tests]
    counts = np.array([len(w) for w in windows_per])
    flat = [w for ws in windows_per for w in ws]
    t_embed = time.time()
    if cache.is_file():
        desc = np.load(cache)["descriptors"]
    else:
        desc = scorer.descriptors_of(flat, progress=progress)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, descriptors=desc)
    embed_seconds = time.time() - t_embed
    bounds = np.r_[0, np.cumsum(counts)]
    rows = []
    for i, tr in enumerate(tests):
        user = str(tr.meta["user"])
        sc = scorer.score_embeddings(user, desc[bounds[i]:bounds[i + 1]])
        rows.append((str(tr.meta["session"]), user, sc.score, sc.reasons))
    with open(out / "scores.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["filename", "user", "score"])
        for fn, user, score, _ in rows:
            wr.writerow([fn, user, f"{score:.6f}"])
    report: dict[str, Any] = {
        "model_version": scorer.model_version, "model_dir": str(model_dir),
        "test_sessions": len(rows), "test_windows": int(counts.sum()),
        "sessions_without_user_head": sum(REASON_NO_USER_HEAD in r[3] for r in rows),
        "train_seconds": round(train_seconds, 1), "embed_seconds": round(embed_seconds, 1),
        "heads": "refitted on training_files" if refit_heads else "the model's own",
    }
    if label_map:
        idx = {fn: i for i, (fn, _, _, _) in enumerate(rows)}
        missing = [fn for fn in label_map if fn not in idx]
        if missing:
            raise datasets.DatasetError(f"{len(missing)} labelled sessions are not in "
                                        f"test_files, e.g. {missing[:3]}")
        y = np.array([label_map[fn][1] for fn in label_map])
        s = np.array([rows[idx[fn]][2] for fn in label_map])
        users = np.array([label_map[fn][0] for fn in label_map])
        auc = roc_auc(y, s)
        report.update({"labelled_sessions": len(y), "illegal": int(y.sum()),
                       "roc_auc": round(auc, 4), "eer": round(eer(y, s), 4),
                       "per_user_auc": {u: round(roc_auc(y[users == u], s[users == u]), 4)
                                        for u in sorted(set(users))}})
        _plot_roc(y, s, auc, out / "roc.png")
    report["total_seconds"] = round(time.time() - t0, 1)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report
