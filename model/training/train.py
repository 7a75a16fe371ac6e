"""Training: pretrain the backbone on many users, then one head per user, into a model directory.

1. **Backbone pretraining** (:mod:`~cursorprint.model.training.pretrain`) — multi-user
   identification on session windows.
2. **User heads** (:mod:`~cursorprint.model.training.user_heads`) — owner vs other users' windows
   on the frozen backbone's descriptors (:class:`~cursorprint.model.features.descriptors.Descriptors`).
3. **Population head** — people vs scripted movement, for users who have no head yet.

Everything is seeded: one generator, drawn from in a fixed order (pretraining windows,
augmentations, head windows, the population head's sample), so a run is reproducible.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.data.synthetic import synth_users
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.nets.modeldir import (
    POPULATION_FILE,
    WEIGHTS_FILE,
    ModelInfo,
    write_head,
    write_info,
)
from cursorprint.model.training.config import BALABIT_RULE, SYNTHETIC_CONFIG, TrainConfig
from cursorprint.model.training.pretrain import augment, collect_windows, plot_curve, pretrain
from cursorprint.model.training.user_heads import (
    fit_population_head,
    fit_user_heads,
    scripted_windows,
)

__all__ = ["TrainConfig", "BALABIT_RULE", "SYNTHETIC_CONFIG", "train_model", "train_synthetic"]

log = logging.getLogger(__name__)


def train_model(trajs: Sequence[Trajectory], out_dir: Path, cfg: TrainConfig,
                pretrain_trajs: Sequence[Trajectory] | None = None,
                extra: dict[str, Any] | None = None) -> ModelInfo:
    """Train backbone + heads on ``trajs`` (meta['user'] set) and write a model directory.

    ``pretrain_trajs`` (e.g. SapiMouse) are added to the identification pretraining only;
    heads are trained on ``trajs``' users.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    rng = np.random.default_rng(cfg.seed)
    pre_set = collect_windows([*trajs, *(pretrain_trajs or [])], cfg.rule,
                              cfg.max_windows_per_user, rng)
    user_names = sorted(set(pre_set.users))
    if len(user_names) < 2:
        raise ValueError(f"training needs at least 2 users, got {len(user_names)}")
    index = {u: i for i, u in enumerate(user_names)}
    wins = list(pre_set.windows)
    labels = [index[u] for u in pre_set.users]
    for _ in range(cfg.augment_copies):
        wins.extend(augment(w, rng) for w in pre_set.windows)
        labels.extend(index[u] for u in pre_set.users)
    log.info("pretraining on %d windows (%d users, %d augmented copies)", len(wins),
             len(user_names), cfg.augment_copies)
    images = cfg.images(wins)
    embedder, history = pretrain(images, np.asarray(labels), len(user_names), cfg, out_dir)
    embedder.save_weights(str(out_dir / WEIGHTS_FILE))
    plot_curve(history, out_dir / "training_curve.png")

    head_set = collect_windows(trajs, cfg.rule, cfg.head_windows_per_user, rng)
    describe = cfg.describer(embedder)
    emb = describe(head_set.windows)
    heads = fit_user_heads(emb, head_set.users, seed=cfg.seed)
    for user, head in heads.items():
        write_head(out_dir, user, head)
    s_emb = describe(scripted_windows(cfg.rule, 8, 4000, cfg.seed))
    pick = rng.choice(len(emb), size=min(len(emb), 4000), replace=False)
    population = fit_population_head(emb[pick], s_emb, seed=cfg.seed)
    (out_dir / POPULATION_FILE).write_bytes(population.to_bytes())

    digest = hashlib.sha256((out_dir / WEIGHTS_FILE).read_bytes()).hexdigest()[:10]
    info = ModelInfo(version=f"{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{digest}",
                     backbone=cfg.backbone(), rule=cfg.rule, frame=cfg.frame,
                     encoding=cfg.encoding, motion=cfg.motion_features,
                     users=sorted(heads),
                     extra={"train": cfg.to_dict(), "history": history,
                            "train_seconds": round(time.time() - t_start, 1),
                            "pretrain_windows": len(wins), "pretrain_users": len(user_names),
                            **(extra or {})})
    write_info(out_dir, info)
    (out_dir / "history.json").write_text(json.dumps(history))
    return info


def train_synthetic(out_dir: Path, n_users: int = 6, sessions: int = 3, events: int = 5000,
                    seed: int = 0, progress: bool = True) -> ModelInfo:
    """The quick demo model: a tiny backbone on synthetic users (about a minute on 2 cores)."""
    trajs = synth_users(n_users, sessions, events, seed=seed)
    cfg = replace(SYNTHETIC_CONFIG, seed=seed, progress=progress)
    return train_model(trajs, out_dir, cfg, extra={"synthetic": True,
                                                   "data": f"{n_users} synthetic users"})
