"""The one descriptor path: windows -> pictures -> backbone embedding (+ motion statistics).

A window *descriptor* is what a head scores. Training (the heads' inputs), evaluation, serving
(:class:`cursorprint.model.serving.scoring.SessionScorer`, and through it enrollment and the
stream's scorer) and explanations all build it with :class:`Descriptors`, so a head always sees
numbers made the same way as those it was fitted on.

Floating point makes "the same way" stricter than "the same formula": a backbone call can give
other low-order bits for a different batch split, so every caller embeds in batches of
:data:`EMBED_BATCH` images counted from the first window it passes. Pictures are drawn
:data:`DRAW_CHUNK` windows at a time to bound memory; drawing and the motion statistics do not
depend on how windows are grouped, so the chunk size does not change any value.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.features.motion import N_MOTION, motion_features
from cursorprint.model.features.raster import CHANNELS, rasterize_batch

__all__ = ["Descriptors", "EMBED_BATCH", "DRAW_CHUNK"]

EMBED_BATCH = 256     # images per backbone call
DRAW_CHUNK = 1024     # windows drawn at once (a multiple of EMBED_BATCH)


class Descriptors:
    """A backbone plus how its pictures are drawn and whether motion statistics follow.

    ``embedder`` is a Keras model ``(n, S, S, 3) -> (n, emb_dim)``; one lock serialises calls
    to it, because Keras models are not re-entrant across threads. It is called through one
    traced TensorFlow graph (any batch size): calling the Keras model eagerly dispatches every
    layer's ops from Python, which took half the time of a small backbone's forward pass;
    the graph gives the same values (not XLA, which changes low-order bits).
    """

    def __init__(self, embedder: Any, image_size: int, frame: str = "bbox",
                 encoding: str = "speed", motion: bool = False) -> None:
        self.embedder = embedder
        self.image_shape: tuple[int, int, int] = (image_size, image_size, CHANNELS)
        self.frame = frame
        self.encoding = encoding
        self.n_motion = N_MOTION if motion else 0
        self.emb_dim = int(embedder.output.shape[-1])
        self.dim = self.emb_dim + self.n_motion
        self._lock = threading.Lock()
        self._forward = _traced_forward(embedder, self.image_shape)

    def images(self, windows: Sequence[Trajectory]) -> np.ndarray:
        """``(n, S, S, 3)`` float32 pictures of windows (of one or many sessions)."""
        return rasterize_batch(windows, self.image_shape[0], self.frame, self.encoding)

    def embed(self, images: np.ndarray) -> np.ndarray:
        """``(n, emb_dim)`` float32 embeddings, :data:`EMBED_BATCH` images per backbone call."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[1:] != self.image_shape:
            raise ValueError(f"embed expects images of shape (n, {self.image_shape}), "
                             f"got {images.shape}")
        if len(images) == 0:
            return np.zeros((0, self.emb_dim), dtype=np.float32)
        with self._lock:
            out = [np.asarray(self._forward(images[i:i + EMBED_BATCH]), dtype=np.float32)
                   for i in range(0, len(images), EMBED_BATCH)]
        return np.concatenate(out)

    def motion(self, windows: Sequence[Trajectory]) -> np.ndarray:
        """``(n, n_motion)`` float32 motion statistics (``n_motion`` is 0 without them)."""
        if not self.n_motion:
            return np.zeros((len(windows), 0), dtype=np.float32)
        return motion_features(windows)

    def combine(self, emb: np.ndarray, motion: np.ndarray) -> np.ndarray:
        """Descriptors from embeddings and the same windows' motion statistics."""
        motion = np.asarray(motion, dtype=np.float32)
        if len(emb) != len(motion) or motion.shape[1:] != (self.n_motion,):
            raise ValueError(f"{len(emb)} embeddings need ({len(emb)}, {self.n_motion}) motion "
                             f"statistics, got {motion.shape}")
        return np.hstack([np.asarray(emb, dtype=np.float32), motion])

    def __call__(self, windows: Sequence[Trajectory], progress: bool = False) -> np.ndarray:
        """``(n, dim)`` float32 descriptors of windows (of one or many sessions)."""
        windows = list(windows)
        chunks = [self.embed(self.images(windows[i:i + DRAW_CHUNK]))
                  for i in tqdm(range(0, len(windows), DRAW_CHUNK), desc="describe windows",
                                unit="chunk", disable=not progress)]
        emb = np.concatenate(chunks) if chunks else np.zeros((0, self.emb_dim), np.float32)
        return self.combine(emb, self.motion(windows))


def _traced_forward(embedder: Any, image_shape: tuple[int, int, int]) -> Any:
    """``embedder``'s inference call as a ``tf.function`` traced once for every batch size."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, *image_shape), tf.float32)
    return tf.function(lambda images: embedder(images, training=False), input_signature=[spec])
