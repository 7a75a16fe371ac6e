"""Training: pretrain the VGG16-derived backbone on many users, then one head per user.

1. **Backbone pretraining** — multi-user identification (softmax over users) on session windows
   drawn by :mod:`cursorprint.model.features.raster`, with trajectory augmentations (small rotation,
   time stretch, jitter: habits survive them, pixels change), a freeze-then-unfreeze schedule
   when the VGG16 blocks start from pretrained weights (first only the embedding and
   classifier learn on the frozen blocks, then everything with a lower learning rate; from
   scratch there is nothing to freeze, so everything learns at that lower rate), early stopping
   on a validation split, checkpoints and a training-curve PNG.
2. **User heads** — owner windows vs other users' windows on the frozen embedding,
   class-balanced, Platt-calibrated on held-out windows (:func:`cursorprint.model.nets.heads.fit_head`).
3. **Population head** — people vs scripted (synthetic, automation-like) movement, for users
   who have no head yet.

Everything is seeded; caches of rasters go under ``.cursorprint/cache``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.data.synthetic import scripted_style, synth_session, synth_users
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.features.motion import motion_features
from cursorprint.model.features.raster import rasterize_batch
from cursorprint.model.features.windows import DEFAULT_RULE, WindowRule, cut
from cursorprint.model.nets.backbone import BackboneConfig, build_classifier, build_embedder
from cursorprint.model.nets.heads import Head, fit_head
from cursorprint.model.nets.modeldir import (
    POPULATION_FILE,
    WEIGHTS_FILE,
    ModelInfo,
    write_head,
    write_info,
)

__all__ = ["TrainConfig", "BALABIT_RULE", "augment", "collect_windows", "pretrain", "embed_images",
           "fit_user_heads", "fit_population_head", "train_model", "train_synthetic",
           "SYNTHETIC_CONFIG"]

log = logging.getLogger(__name__)


# Windows of 128 events (about 2 s of movement), half overlapping; see TrainConfig.
BALABIT_RULE = WindowRule(events=128, stride=64, min_events=32)


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of a training run (stored in model.json under ``extra.train``).

    Defaults chosen on Balabit (runs recorded in the README): 32 px pictures beat 64 px at a
    third of the cost (AUC 0.821 vs 0.802 on the same small run), which buys more real windows
    and epochs; real windows beat augmented copies; windows of 128 events beat 256 and 512
    (0.878 / 0.850 / 0.784 on the same small run: twice the windows per test session to
    average); more epochs than 6-8 did not help; the speed-only bbox encoding beat
    ``speed_time`` and the screen frame; heads on the embedding plus motion statistics beat
    the embedding alone (0.944 vs 0.901 on a fixed backbone). The demo/test model keeps
    :data:`DEFAULT_RULE` and embedding-only heads.
    """

    image_size: int = 32
    blocks: int = 2
    emb_dim: int = 128
    rule: WindowRule = BALABIT_RULE
    frame: str = "bbox"
    encoding: str = "speed"             # raster encoding, see cursorprint.model.features.raster
    motion_features: bool = True        # heads see [embedding, motion statistics]
    weights: str | None = None
    epochs_frozen: int = 1
    epochs: int = 6
    batch_size: int = 64
    lr: float = 1e-3
    lr_finetune: float = 3e-4
    patience: int = 2
    val_fraction: float = 0.15
    max_windows_per_user: int = 2000    # pretraining windows per user (Balabit has 745-3150)
    augment_copies: int = 0
    head_windows_per_user: int = 1500   # windows per user embedded for the heads
    seed: int = 0
    progress: bool = True

    def backbone(self) -> BackboneConfig:
        return BackboneConfig(self.image_size, self.blocks, self.emb_dim,
                              preprocess="unit" if self.weights is None else "caffe")

    def images(self, windows: Sequence[Trajectory]) -> np.ndarray:
        """The windows drawn the way this model sees them."""
        return rasterize_batch(windows, self.image_size, self.frame, self.encoding)

    def descriptors(self, embedder: Any, windows: Sequence[Trajectory]) -> np.ndarray:
        """What this model's heads see for ``windows``: embeddings (+ motion statistics)."""
        emb = embed_images(embedder, self.images(windows))
        return np.hstack([emb, motion_features(windows)]) if self.motion_features else emb

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rule"] = self.rule.to_dict()
        return d


SYNTHETIC_CONFIG = TrainConfig(image_size=32, blocks=2, emb_dim=64, rule=DEFAULT_RULE,
                               epochs_frozen=1, epochs=6,
                               batch_size=32, lr=1e-3, lr_finetune=5e-4, patience=3,
                               max_windows_per_user=160, augment_copies=0,
                               motion_features=False,
                               head_windows_per_user=200)


def augment(traj: Trajectory, rng: np.random.Generator) -> Trajectory:
    """A plausible variant of a window: rotation ±8°, time stretch ×0.9–1.1, 0.5 px jitter."""
    ang = np.deg2rad(rng.uniform(-8, 8))
    cx, cy = float(traj.x.mean()), float(traj.y.mean())
    dx, dy = traj.x - cx, traj.y - cy
    x = cx + np.cos(ang) * dx - np.sin(ang) * dy + rng.normal(0, 0.5, len(traj))
    y = cy + np.sin(ang) * dx + np.cos(ang) * dy + rng.normal(0, 0.5, len(traj))
    t = traj.t[0] + (traj.t - traj.t[0]) * rng.uniform(0.9, 1.1)
    return Trajectory.from_columns(t, x, y, traj.kind, traj.button, traj.screen, traj.meta)


@dataclass
class WindowSet:
    """Windows with their user label and session id."""

    windows: list[Trajectory] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)


def collect_windows(trajs: Sequence[Trajectory], rule: WindowRule, max_per_user: int | None,
                    rng: np.random.Generator) -> WindowSet:
    """All windows of ``trajs`` (``meta["user"]`` required), at most ``max_per_user`` per user
    (a seeded random subset spread over the user's sessions)."""
    by_user: dict[str, list[tuple[Trajectory, str]]] = {}
    for i, tr in enumerate(trajs):
        if "user" not in tr.meta:
            raise ValueError(f"training trajectory #{i} has no meta['user']")
        sess = str(tr.meta.get("session", i))
        for w in cut(tr, rule)[0]:
            if len(w) >= rule.min_events:
                by_user.setdefault(str(tr.meta["user"]), []).append((w, sess))
    out = WindowSet()
    for user in sorted(by_user):
        items = by_user[user]
        if max_per_user is not None and len(items) > max_per_user:
            pick = np.sort(rng.choice(len(items), size=max_per_user, replace=False))
            items = [items[j] for j in pick]
        for w, sess in items:
            out.windows.append(w)
            out.users.append(user)
            out.sessions.append(sess)
    return out


class _Progress:
    """A tqdm bar over training batches (Keras callback built lazily to keep imports light)."""

    @staticmethod
    def make(total_epochs: int, desc: str, enabled: bool) -> Any:
        import keras
        from tqdm import tqdm

        class Cb(keras.callbacks.Callback):
            def on_train_begin(self, logs: Any = None) -> None:
                self.bar = tqdm(total=total_epochs, desc=desc, unit="epoch", disable=not enabled)

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                logs = logs or {}
                self.bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()
                                      if k in ("loss", "accuracy", "val_loss", "val_accuracy")})
                self.bar.update(1)

            def on_train_end(self, logs: Any = None) -> None:
                self.bar.close()

        return Cb()


def pretrain(images: np.ndarray, labels: np.ndarray, n_users: int, cfg: TrainConfig,
             work_dir: Path) -> tuple[Any, dict[str, list[float]]]:
    """Identification pretraining with freeze-then-unfreeze; returns (embedder, history)."""
    import keras

    keras.utils.set_random_seed(cfg.seed)
    embedder = build_embedder(cfg.backbone(), cfg.weights)
    clf = build_classifier(embedder, n_users)
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(images))
    n_val = max(1, int(len(images) * cfg.val_fraction))
    val, tr = order[:n_val], order[n_val:]
    ckpt_dir = work_dir / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    history: dict[str, list[float]] = {}
    convs = embedder.get_layer(f"vgg16_blocks1_{cfg.blocks}")
    if cfg.weights is None:
        # Random VGG16 blocks have nothing to protect: a frozen phase only trains the dense
        # layers on random features (it stayed at chance accuracy on Balabit, costing an
        # epoch); everything learns at once, at the lower rate (1e-3 did worse on Balabit).
        phases = [("scratch", cfg.epochs, cfg.lr_finetune, True)]
    else:
        phases = [("frozen", cfg.epochs_frozen, cfg.lr, False),
                  ("finetune", cfg.epochs, cfg.lr_finetune, True)]
    for name, epochs, lr, trainable in phases:
        if epochs <= 0:
            continue
        convs.trainable = trainable
        clf.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"])
        cbs = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience,
                                             restore_best_weights=True),
               keras.callbacks.ModelCheckpoint(str(ckpt_dir / f"{name}.weights.h5"),
                                               monitor="val_loss", save_best_only=True,
                                               save_weights_only=True),
               _Progress.make(epochs, f"pretrain ({name})", cfg.progress)]
        h = clf.fit(images[tr], labels[tr], validation_data=(images[val], labels[val]),
                    epochs=epochs, batch_size=cfg.batch_size, shuffle=True, verbose=0,
                    callbacks=cbs)
        for k, v in h.history.items():
            history.setdefault(k, []).extend(float(x) for x in v)
        history.setdefault("phase", []).extend([1.0 if trainable else 0.0] * len(h.history["loss"]))
    return embedder, history


def embed_images(embedder: Any, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Embeddings of many images, batch by batch (no per-item predict)."""
    out = [np.asarray(embedder(images[i:i + batch_size], training=False), dtype=np.float32)
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, embedder.output.shape[-1]), np.float32)


def fit_user_heads(emb: np.ndarray, users: Sequence[str], seed: int = 0,
                   max_others: int = 4000) -> dict[str, Head]:
    """One head per user: the user's windows (owner) vs a sample of everyone else's."""
    users_arr = np.asarray(users)
    rng = np.random.default_rng(seed)
    heads: dict[str, Head] = {}
    for user in sorted(set(users)):
        own = np.flatnonzero(users_arr == user)
        oth = np.flatnonzero(users_arr != user)
        if len(oth) > max_others:
            oth = rng.choice(oth, size=max_others, replace=False)
        heads[user] = fit_head(emb[own], emb[oth], seed=seed, kind="user",
                               meta={"owner_windows": int(len(own)),
                                     "other_windows": int(len(oth))})
    return heads


def fit_population_head(human_emb: np.ndarray, scripted_emb: np.ndarray, seed: int = 0) -> Head:
    """People (0) vs scripted movement (1): the score for users without a head."""
    return fit_head(human_emb, scripted_emb, seed=seed, kind="population",
                    meta={"task": "people vs scripted movement"})


def _scripted_windows(rule: WindowRule, n_sessions: int, events: int, seed: int
                      ) -> list[Trajectory]:
    rng = np.random.default_rng(seed + 7919)
    screens = ((1920, 1080), (1366, 768), (2560, 1440))
    wins: list[Trajectory] = []
    for i in range(n_sessions):
        tr = synth_session(rng, scripted_style(rng), events, screens[i % 3],
                           {"user": "scripted", "session": f"scripted{i}"})
        wins.extend(cut(tr, rule)[0])
    return wins


def _plot_curve(history: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    for k in ("loss", "val_loss"):
        if k in history:
            a1.plot(range(1, len(history[k]) + 1), history[k], label=k, marker="o")
    for k in ("accuracy", "val_accuracy"):
        if k in history:
            a2.plot(range(1, len(history[k]) + 1), history[k], label=k, marker="o")
    a1.set_xlabel("epoch")
    a2.set_xlabel("epoch")
    a1.set_title("identification loss")
    a2.set_title("identification accuracy")
    a1.legend()
    a2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


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
    _plot_curve(history, out_dir / "training_curve.png")

    head_set = collect_windows(trajs, cfg.rule, cfg.head_windows_per_user, rng)
    emb = cfg.descriptors(embedder, head_set.windows)
    heads = fit_user_heads(emb, head_set.users, seed=cfg.seed)
    for user, head in heads.items():
        write_head(out_dir, user, head)
    scripted = _scripted_windows(cfg.rule, 8, 4000, cfg.seed)
    s_emb = cfg.descriptors(embedder, scripted)
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
