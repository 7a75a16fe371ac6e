"""Saliency heatmaps: which strokes of a session picture pushed its score up.

Class-activation maps on the backbone's last convolution, in the HiResCAM form of Grad-CAM
(Selvaraju et al. 2017; Draelos & Carin 2020): the gradient of the head's calibrated logit
("not the owner") with respect to that layer's feature maps, multiplied element-wise with the
maps and summed over channels, upsampled to the image. Why not plain Grad-CAM (gradients
averaged into one weight per channel, then ReLU): with this backbone's global max pooling the
averaged weights are often negative everywhere, and for a confidently flagged window the map
came out empty (measured on the synthetic model); the element-wise form is exact for the
linear head and keeps the sign: positive = pushed towards "not the owner", negative = towards
"the owner". Unlike raw input gradients (speckle on a sparse drawing) it shows which *strokes*
carry the evidence, at the resolution the network reasons at.

The PNG shows the most suspicious windows (highest window scores): the picture, and the map
(red: evidence against the owner, blue: for); ``heatmap_dir`` also writes one overlay per window
at the image's own size.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.data import datasets
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.features.windows import sigmoid
from cursorprint.model.serving.scoring import SessionScorer

__all__ = ["load_session_file", "grad_cam", "saliency", "heatmap_overlay",
           "explain_to_png"]


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


def _cam_parts(embedder: Any) -> tuple[Any, Any]:
    """The embedder split at its last convolution: ``maps(images) -> (conv maps)`` and
    ``embed(conv maps) -> embedding``, re-using the trained layers (no copy of weights)."""
    import keras

    convs = next(la for la in embedder.layers if la.name.startswith("vgg16_blocks"))
    conv_layers = [la for la in convs.layers if isinstance(la, keras.layers.Conv2D)]
    last = conv_layers[-1]
    after = convs.layers[convs.layers.index(last) + 1:]             # the block's pooling
    pre = embedder.layers[1:embedder.layers.index(convs)]           # pixel preprocessing
    to_maps = keras.Model(convs.input, last.output)
    gap = next(la for la in embedder.layers if isinstance(la, keras.layers.GlobalAveragePooling2D))
    gmp = next(la for la in embedder.layers if isinstance(la, keras.layers.GlobalMaxPooling2D))
    cat = next(la for la in embedder.layers if isinstance(la, keras.layers.Concatenate))
    dense = embedder.get_layer("embedding")

    def maps(x: Any) -> Any:
        for layer in pre:
            x = layer(x)
        return to_maps(x, training=False)

    def embed(x: Any) -> Any:
        for layer in after:
            x = layer(x)
        return dense(cat([gap(x), gmp(x)]))

    return maps, embed


def grad_cam(scorer: SessionScorer, user: str, traj: Trajectory
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, signed maps in [-1, 1] of the images' size, window scores) per window."""
    import tensorflow as tf

    windows = scorer.windows(traj)
    imgs = scorer.images_of(windows)
    head, _ = scorer.head_for(user)
    head = head or scorer.population
    if len(imgs) == 0:
        return imgs, np.zeros(imgs.shape[:3], np.float32), np.zeros(0)
    maps_of, embed_of = _cam_parts(scorer.embedder)
    # the picture's share of the logit: the head's weights on the embedding (motion
    # statistics, when the model has them, do not depend on the pixels)
    emb_dim = scorer.info.backbone.emb_dim
    w = tf.constant((head.w[:emb_dim] * head.a).astype(np.float32)[:, None])
    conv = tf.convert_to_tensor(maps_of(tf.constant(imgs)))
    with tf.GradientTape() as tape:
        tape.watch(conv)
        logit = tf.reduce_sum(tf.matmul(embed_of(conv), w))
    grads = tape.gradient(logit, conv).numpy()
    cam = (grads * conv.numpy()).sum(axis=-1)                      # HiResCAM, signed
    size = imgs.shape[1]
    cam = tf.image.resize(cam[..., None], (size, size), method="bilinear").numpy()[..., 0]
    cam /= np.abs(cam).reshape(len(cam), -1).max(axis=1)[:, None, None] + 1e-12
    scores = sigmoid(head.logits(scorer.descriptors_of(windows)))
    return imgs, cam.astype(np.float32), scores


def saliency(scorer: SessionScorer, user: str, traj: Trajectory
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, evidence strength in [0, 1], window scores): ``|grad_cam|``."""
    imgs, cam, scores = grad_cam(scorer, user, traj)
    return imgs, np.abs(cam), scores


def heatmap_overlay(image: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """``uint8`` RGB of the image's own size: the window picture dimmed to grey under the
    signed map (red: against the owner, blue: for; opacity follows ``|cam|``)."""
    import matplotlib

    rgb = matplotlib.colormaps["coolwarm"]((np.clip(cam, -1, 1) + 1) / 2)[..., :3]
    grey = np.repeat(image.mean(axis=-1, keepdims=True), 3, axis=-1)
    alpha = np.clip(np.abs(cam), 0, 1)[..., None] * 0.8
    out = grey * (1 - alpha) + rgb * alpha
    return np.asarray(np.clip(out, 0, 1) * 255, dtype=np.float64).round().astype(np.uint8)


def explain_to_png(scorer: SessionScorer, user: str, traj: Trajectory, out: Path,
                   top: int = 4, heatmap_dir: Path | None = None) -> dict[str, object]:
    """Write the Grad-CAM PNG for the ``top`` most suspicious windows (and, with
    ``heatmap_dir``, one image-sized overlay PNG per shown window); returns a summary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    imgs, sal, scores = grad_cam(scorer, user, traj)
    session = scorer.score_session(user, traj)
    if len(imgs) == 0:
        raise datasets.DatasetError("the session has no events to explain")
    order = np.argsort(-scores)[:top]
    fig, axes = plt.subplots(2, len(order), figsize=(2.6 * len(order), 5.4), squeeze=False)
    for j, i in enumerate(order):
        axes[0, j].imshow(imgs[i], interpolation="nearest")
        axes[0, j].set_title(f"window {i}: {scores[i]:.2f}", fontsize=9)
        axes[1, j].imshow(imgs[i].mean(axis=-1), cmap="gray", interpolation="nearest")
        axes[1, j].imshow(sal[i], cmap="coolwarm", vmin=-1, vmax=1, alpha=0.7,
                          interpolation="bilinear")
        for a in axes[:, j]:
            a.axis("off")
    fig.suptitle(f"user {user}: session score {session.score:.3f} "
                 f"(head {session.head_version})", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    heatmaps = []
    if heatmap_dir is not None:
        heatmap_dir = Path(heatmap_dir)
        heatmap_dir.mkdir(parents=True, exist_ok=True)
        for i in order:
            path = heatmap_dir / f"window{int(i):04d}.png"
            Image.fromarray(heatmap_overlay(imgs[i], sal[i])).save(path)
            heatmaps.append(str(path))
    return {"score": session.score, "head_version": session.head_version,
            "reasons": session.reasons, "windows": len(imgs), "png": str(out),
            "heatmaps": heatmaps, "method": "grad-cam"}
