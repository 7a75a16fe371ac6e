"""The VGG16-derived backbone that turns a session image into an embedding.

The convolutional blocks are Keras' own ``keras.applications.VGG16`` layers (same names, same
filter counts), truncated after block ``blocks`` (1-5) so a small input (32-96 px) stays cheap on
CPUs; then global average + max pooling and a dense embedding. Weights: ``None`` (random init,
then pretrained on many users' sessions by :mod:`cursorprint.model.training.train`), ``"imagenet"``
(downloaded by Keras; fails with a clear message offline) or a local ``.h5``/``.weights.h5``
file of VGG16's convolutional layers. Pixels enter as ``2x - 1`` for a backbone trained from
scratch (``preprocess="unit"``) or in VGG16's ImageNet "caffe" form (``preprocess="caffe"``,
chosen automatically with pretrained weights).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["BackboneConfig", "NetworkError", "build_embedder", "build_classifier"]

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# VGG16 "caffe" preprocessing: BGR channel order, ImageNet channel means subtracted.
_IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)


class NetworkError(RuntimeError):
    """The backbone could not be built (bad configuration or weights not available)."""


@dataclass(frozen=True)
class BackboneConfig:
    """Shape of the backbone; stored in ``model.json``."""

    image_size: int = 64
    blocks: int = 3
    emb_dim: int = 128
    channels: int = 3
    preprocess: str = "unit"   # "unit": pixels in [0, 1]; "caffe": VGG16's ImageNet input

    def __post_init__(self) -> None:
        if self.preprocess not in ("unit", "caffe"):
            raise NetworkError(f"preprocess must be 'unit' or 'caffe', got {self.preprocess!r}")
        if not 1 <= self.blocks <= 5:
            raise NetworkError(f"backbone blocks must be 1..5 (VGG16 has 5), got {self.blocks}")
        if self.image_size < 32:
            raise NetworkError(f"image size must be >= 32 px for VGG16, got {self.image_size}")
        if self.image_size % (2 ** self.blocks):
            raise NetworkError(f"image size {self.image_size} must be divisible by "
                               f"2**blocks = {2 ** self.blocks}")
        if self.emb_dim < 2:
            raise NetworkError(f"embedding size must be >= 2, got {self.emb_dim}")
        if self.channels != 3:
            raise NetworkError(f"VGG16 blocks take 3 channels, got {self.channels}")

    def to_dict(self) -> dict[str, int | str]:
        return asdict(self)


def _vgg_convs(cfg: BackboneConfig, weights: str | Path | None) -> Any:
    import keras

    shape = (cfg.image_size, cfg.image_size, cfg.channels)
    if weights is None:
        src = None
    elif str(weights) == "imagenet":
        src = "imagenet"
    else:
        path = Path(weights)
        if not path.is_file():
            raise NetworkError(f"backbone weights file {path} does not exist")
        src = str(path)
    try:
        vgg = keras.applications.VGG16(include_top=False, weights=src, input_shape=shape)
    except Exception as exc:  # noqa: BLE001 - keras raises many types for download/file errors
        if src == "imagenet":
            raise NetworkError(
                "could not load VGG16 'imagenet' weights (Keras downloads them from the "
                f"internet, which is not reachable here?): {exc}. Use --weights none or a local "
                "weights file.") from exc
        raise NetworkError(f"could not load VGG16 weights from {src}: {exc}") from exc
    return keras.Model(vgg.input, vgg.get_layer(f"block{cfg.blocks}_pool").output,
                       name=f"vgg16_blocks1_{cfg.blocks}")


def build_embedder(cfg: BackboneConfig, weights: str | Path | None = None) -> Any:
    """Image batch ``(n, S, S, 3)`` in [0, 1] -> embedding ``(n, emb_dim)``."""
    import keras
    from keras import layers

    convs = _vgg_convs(cfg, weights)
    inp = keras.Input((cfg.image_size, cfg.image_size, cfg.channels), name="image")
    if cfg.preprocess == "caffe":   # what ImageNet-trained VGG16 weights expect
        x = layers.Rescaling(255.0)(inp)
        x = layers.Lambda(lambda z: keras.ops.flip(z, axis=-1), name="rgb_to_bgr")(x)
        x = layers.Normalization(mean=list(_IMAGENET_MEAN_BGR), variance=[1.0, 1.0, 1.0],
                                 name="imagenet_mean")(x)
    else:                           # trained from scratch: centred unit-range pixels
        x = layers.Rescaling(2.0, offset=-1.0)(inp)
    x = convs(x)
    x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x),
                              layers.GlobalMaxPooling2D()(x)])
    emb = layers.Dense(cfg.emb_dim, activation="relu", name="embedding")(x)
    return keras.Model(inp, emb, name="embedder")


def build_classifier(embedder: Any, n_users: int, dropout: float = 0.3) -> Any:
    """Embedder + softmax over ``n_users`` users: the identification task for pretraining."""
    import keras
    from keras import layers

    inp = embedder.input
    x = layers.Dropout(dropout)(embedder.output)
    out = layers.Dense(n_users, activation="softmax", name="user")(x)
    return keras.Model(inp, out, name="identifier")
