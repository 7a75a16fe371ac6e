"""The knobs of a training run, and the defaults measured on Balabit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.features.descriptors import Descriptors
from cursorprint.model.features.raster import rasterize_batch
from cursorprint.model.features.windows import DEFAULT_RULE, WindowRule
from cursorprint.model.nets.backbone import BackboneConfig

__all__ = ["TrainConfig", "BALABIT_RULE", "SYNTHETIC_CONFIG"]


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
        """The windows drawn the way this model sees them (pretraining's input)."""
        return rasterize_batch(windows, self.image_size, self.frame, self.encoding)

    def describer(self, embedder: Any) -> Descriptors:
        """The descriptor path of a model trained with this config (its heads' input)."""
        return Descriptors(embedder, self.image_size, self.frame, self.encoding,
                           self.motion_features)

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
