"""The model API the stream codes against: windows -> descriptors -> head -> score.

Descriptors come from the model's :class:`~cursorprint.model.features.descriptors.Descriptors`
(``describe``), the same object type training and evaluation use. The stream's scorer takes the
path apart to batch it (``images_of`` for every session of a micro-batch, one ``embed``, then
``with_motion`` per session); each step is a thin delegate, so the pieces cannot drift from
``descriptors_of``. ``score_embeddings`` picks the user's head (the head store, then the model
directory's own heads) or the population head and aggregates window logits with the ONE window
rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.features import windows as win
from cursorprint.model.features.descriptors import Descriptors
from cursorprint.model.nets.heads import Head
from cursorprint.model.nets.modeldir import (
    POPULATION_FILE,
    WEIGHTS_FILE,
    ModelDirError,
    ModelInfo,
    read_heads,
    read_info,
)

if TYPE_CHECKING:
    from cursorprint.stream.stores.heads import HeadStore

__all__ = ["SessionScore", "SessionScorer", "REASON_NO_USER_HEAD", "REASON_NO_WINDOWS"]

REASON_NO_USER_HEAD = "no_user_head"
REASON_NO_WINDOWS = "no_windows"


@dataclass(frozen=True)
class SessionScore:
    score: float            # in [0, 1]: how unlikely the account owner did it
    window_scores: list[float]
    head_version: str       # "population:<v>" when the user has no head
    reasons: list[str]      # reason codes, e.g. "no_user_head", "too_few_events"


class SessionScorer:
    """A loaded model directory: backbone, population head, optional per-user heads."""

    def __init__(self, info: ModelInfo, embedder: Any, population: Head,
                 local_heads: dict[str, Head], heads: HeadStore | None = None) -> None:
        self.info = info
        self.model_version: str = info.version
        self.describe = Descriptors(embedder, info.backbone.image_size, info.frame,
                                    info.encoding, info.motion)
        self.image_shape: tuple[int, int, int] = self.describe.image_shape
        self.n_motion = self.describe.n_motion
        self.descriptor_dim = self.describe.dim
        self.embedder = embedder
        self.population = population
        self.local_heads = local_heads
        self.heads = heads

    @classmethod
    def load(cls, model_dir: Path, heads: HeadStore | None = None) -> SessionScorer:
        from cursorprint.model.nets.backbone import build_embedder

        model_dir = Path(model_dir)
        info = read_info(model_dir)
        weights = model_dir / WEIGHTS_FILE
        pop = model_dir / POPULATION_FILE
        for p in (weights, pop):
            if not p.is_file():
                raise ModelDirError(f"model directory {model_dir} lacks {p.name}")
        embedder = build_embedder(info.backbone)
        embedder.load_weights(str(weights))
        return cls(info, embedder, Head.from_bytes(pop.read_bytes()), read_heads(model_dir),
                   heads)

    # --- the pipeline, step by step -------------------------------------------------------
    def windows(self, traj: Trajectory) -> list[Trajectory]:
        """The session's windows under the model's window rule."""
        return self.cut(traj)[0]

    def cut(self, traj: Trajectory) -> tuple[list[Trajectory], list[str]]:
        """The session's windows and the window rule's reason codes (``too_few_events``)."""
        return win.cut(traj, self.info.rule)

    def images(self, traj: Trajectory) -> np.ndarray:
        """``(n_windows, H, W, C)`` float32 rasterized windows (n may be 0)."""
        return self.images_of(self.windows(traj))

    def images_of(self, windows: list[Trajectory]) -> np.ndarray:
        """Windows (of one or many sessions) drawn the way this model sees them."""
        return self.describe.images(windows)

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Backbone embeddings of a micro-batch of images (from many sessions)."""
        return self.describe.embed(images)

    def motion(self, traj: Trajectory) -> np.ndarray:
        """``(n_windows, n_motion)`` motion statistics of the session's windows (n_motion is 0
        for a model whose heads see the embedding only)."""
        return self.motion_of(self.windows(traj))

    def motion_of(self, windows: list[Trajectory]) -> np.ndarray:
        """Motion statistics of windows (of one or many sessions)."""
        return self.describe.motion(windows)

    def with_motion(self, emb: np.ndarray, motion: np.ndarray) -> np.ndarray:
        """Window descriptors: embeddings with the windows' motion statistics appended."""
        return self.describe.combine(emb, motion)

    def descriptors(self, traj: Trajectory) -> np.ndarray:
        """What the heads score for one session: the descriptors of its windows."""
        return self.descriptors_of(self.windows(traj))

    def descriptors_of(self, windows: list[Trajectory], progress: bool = False) -> np.ndarray:
        """Descriptors of windows (of one or many sessions)."""
        return self.describe(windows, progress=progress)

    def head_for(self, user_key: str) -> tuple[Head | None, list[str]]:
        """The user's head and reason codes from the head store (else the model's own heads)."""
        reasons: list[str] = []
        if self.heads is not None:
            head, reasons = self.heads.get_with_reasons(user_key)
            if head is not None:
                return head, reasons
        head = self.local_heads.get(user_key)
        return head, reasons

    def score_embeddings(self, user_key: str, emb: np.ndarray) -> SessionScore:
        """Score a session from its window descriptors with the user's (or population) head."""
        head, reasons = self.head_for(user_key)
        if head is None:
            head = self.population
            reasons = [*reasons, REASON_NO_USER_HEAD]
            version = f"population:{head.version}"
        else:
            version = head.version
        emb = np.asarray(emb, dtype=np.float32)
        if len(emb) == 0:
            return SessionScore(0.5, [], version, [*reasons, REASON_NO_WINDOWS])
        logits = head.logits(emb)
        window_scores = [float(p) for p in win.sigmoid(logits)]
        return SessionScore(win.aggregate(logits), window_scores, version, reasons)

    def score_session(self, user_key: str, traj: Trajectory) -> SessionScore:
        """Offline path: ``score_embeddings(user_key, descriptors(traj))`` plus reasons."""
        windows, rule_reasons = self.cut(traj)
        s = self.score_embeddings(user_key, self.descriptors_of(windows))
        return SessionScore(s.score, s.window_scores, s.head_version,
                            [*rule_reasons, *s.reasons])
