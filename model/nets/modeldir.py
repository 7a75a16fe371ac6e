"""The on-disk model directory shared by training, evaluation, explanations and the stream.

Layout::

    model.json              version, backbone config, raster size/frame/encoding, window rule,
                            whether heads also see motion statistics, users
    embedder.weights.h5     the VGG16-derived embedder (Keras weights)
    population.head         the population head (Head.to_bytes)
    heads/<user>.head       per-user heads trained with the model (offline scoring, seeding Redis)
    training_curve.png      loss/accuracy per epoch of the backbone pretraining
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cursorprint.model.features.windows import WindowRule
from cursorprint.model.nets.backbone import BackboneConfig
from cursorprint.model.nets.heads import Head, HeadError

__all__ = ["ModelInfo", "ModelDirError", "read_info", "write_info", "read_heads", "write_head",
           "DEFAULT_MODEL_DIR", "WEIGHTS_FILE", "POPULATION_FILE"]

DEFAULT_MODEL_DIR = Path(".cursorprint/models/current")
WEIGHTS_FILE = "embedder.weights.h5"
POPULATION_FILE = "population.head"


class ModelDirError(ValueError):
    """A model directory is missing or malformed."""


@dataclass(frozen=True)
class ModelInfo:
    """Contents of ``model.json``."""

    version: str
    backbone: BackboneConfig
    rule: WindowRule
    frame: str = "bbox"
    encoding: str = "speed"     # raster encoding (cursorprint.model.features.raster.ENCODINGS)
    motion: bool = False        # heads see [embedding, motion statistics] (cursorprint.model.features.motion)
    users: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "backbone": self.backbone.to_dict(),
                "image_size": self.backbone.image_size, "window_rule": self.rule.to_dict(),
                "raster_frame": self.frame, "raster_encoding": self.encoding,
                "motion_features": self.motion, "users": list(self.users), "extra": self.extra}


def _encoding(value: object) -> str:
    from cursorprint.model.features.raster import ENCODINGS

    if value not in ENCODINGS:
        raise ValueError(f"raster_encoding must be one of {ENCODINGS}, got {value!r}")
    return str(value)


def write_info(model_dir: Path, info: ModelInfo) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "model.json").write_text(json.dumps(info.to_dict(), indent=2, sort_keys=True))


def read_info(model_dir: Path) -> ModelInfo:
    path = Path(model_dir) / "model.json"
    if not path.is_file():
        raise ModelDirError(f"{model_dir} is not a model directory (no model.json); "
                            "create one with `cursorprint train`")
    try:
        d = json.loads(path.read_text())
        bb = d["backbone"]
        return ModelInfo(version=str(d["version"]),
                         backbone=BackboneConfig(image_size=int(bb["image_size"]),
                                                 blocks=int(bb["blocks"]),
                                                 emb_dim=int(bb["emb_dim"]),
                                                 channels=int(bb["channels"]),
                                                 preprocess=str(bb.get("preprocess", "unit"))),
                         rule=WindowRule.from_dict(d["window_rule"]),
                         frame=str(d.get("raster_frame", "bbox")),
                         encoding=_encoding(d.get("raster_encoding", "speed")),
                         motion=bool(d.get("motion_features", False)),
                         users=[str(u) for u in d.get("users", [])],
                         extra=dict(d.get("extra", {})))
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelDirError(f"{path} is malformed: {exc}") from exc


def write_head(model_dir: Path, user: str, head: Head) -> Path:
    heads = Path(model_dir) / "heads"
    heads.mkdir(parents=True, exist_ok=True)
    path = heads / f"{user}.head"
    path.write_bytes(head.to_bytes())
    return path


def read_heads(model_dir: Path) -> dict[str, Head]:
    out: dict[str, Head] = {}
    heads = Path(model_dir) / "heads"
    if heads.is_dir():
        for p in sorted(heads.glob("*.head")):
            try:
                out[p.stem] = Head.from_bytes(p.read_bytes())
            except HeadError as exc:
                raise ModelDirError(f"{p}: {exc}") from exc
    return out
