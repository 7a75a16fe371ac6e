"""Saliency heatmaps: which strokes of a session picture pushed its score up.

Input-gradient saliency: the gradient of the head's calibrated logit ("not the owner") with
respect to the window image, max over colour channels, smoothed lightly. The PNG shows the most
suspicious windows of the session (highest window scores) and their heatmaps.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cursorprint.model import datasets
from cursorprint.model.scoring import SessionScorer
from cursorprint.model.trajectory import Trajectory

__all__ = ["load_session_file", "saliency", "explain_to_png"]


def load_session_file(path: Path) -> Trajectory:
    """A Balabit or SapiMouse CSV, or a ``sessions`` topic record as JSON."""
    path = Path(path)
    if not path.is_file():
        raise datasets.DatasetError(f"session file {path} does not exist")
    with open(path) as f:
        first = f.readline().strip()
    if first.startswith("{"):
        try:
            rec = json.loads(path.read_text())
        except ValueError as exc:
            raise datasets.DatasetError(f"{path}: not valid JSON: {exc}") from exc
        return datasets.trajectory_from_session_record(rec)
    if first.startswith("record timestamp"):
        return datasets.read_balabit_session(path)
    if first.startswith("client timestamp"):
        return datasets.read_sapimouse_session(path, path.parent.name)
    raise datasets.DatasetError(f"{path}: unknown session format (header {first[:40]!r})")


def saliency(scorer: SessionScorer, user: str, traj: Trajectory
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, saliency maps in [0, 1], window scores) for every window of ``traj``."""
    import tensorflow as tf

    imgs = scorer.images(traj)
    head, _ = scorer.head_for(user)
    head = head or scorer.population
    if len(imgs) == 0:
        return imgs, np.zeros(imgs.shape[:3], np.float32), np.zeros(0)
    w = tf.constant((head.w * head.a).astype(np.float32)[:, None])
    x = tf.Variable(imgs)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(tf.matmul(scorer.embedder(x, training=False), w))
    grad = tape.gradient(total, x).numpy()
    sal = np.abs(grad).max(axis=-1)
    sal /= sal.reshape(len(sal), -1).max(axis=1)[:, None, None] + 1e-12
    logits = head.logits(scorer.embed(imgs))
    return imgs, sal.astype(np.float32), 1.0 / (1.0 + np.exp(-logits))


def explain_to_png(scorer: SessionScorer, user: str, traj: Trajectory, out: Path,
                   top: int = 4) -> dict[str, object]:
    """Write the saliency PNG for the ``top`` most suspicious windows; returns a summary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    imgs, sal, scores = saliency(scorer, user, traj)
    session = scorer.score_session(user, traj)
    if len(imgs) == 0:
        raise datasets.DatasetError("the session has no events to explain")
    order = np.argsort(-scores)[:top]
    fig, axes = plt.subplots(2, len(order), figsize=(2.6 * len(order), 5.4), squeeze=False)
    for j, i in enumerate(order):
        axes[0, j].imshow(imgs[i], interpolation="nearest")
        axes[0, j].set_title(f"window {i}: {scores[i]:.2f}", fontsize=9)
        axes[1, j].imshow(imgs[i].mean(axis=-1), cmap="gray", interpolation="nearest")
        axes[1, j].imshow(sal[i], cmap="inferno", alpha=0.6, interpolation="bilinear")
        for a in axes[:, j]:
            a.axis("off")
    fig.suptitle(f"user {user}: session score {session.score:.3f} "
                 f"(head {session.head_version})", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return {"score": session.score, "head_version": session.head_version,
            "reasons": session.reasons, "windows": len(imgs), "png": str(out)}
