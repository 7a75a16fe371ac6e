"""Backbone pretraining: multi-user identification on session windows.

A softmax over users on windows drawn by :mod:`cursorprint.model.features.raster`, optionally
with trajectory augmentations (small rotation, time stretch, jitter: habits survive them,
pixels change). With pretrained VGG16 weights the blocks are first frozen while the embedding
and classifier learn, then everything is fine-tuned at a lower rate; early stopping on a
validation split, checkpoints, and a training-curve PNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.features.windows import WindowRule, cut
from cursorprint.model.nets.backbone import build_classifier, build_embedder
from cursorprint.model.training.config import TrainConfig

__all__ = ["WindowSet", "augment", "collect_windows", "pretrain", "plot_curve"]


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


def plot_curve(history: dict[str, list[float]], path: Path) -> None:
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
