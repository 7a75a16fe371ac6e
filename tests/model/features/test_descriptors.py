"""One descriptor path: training, evaluation, serving, enrollment and explanations give the same
descriptors, bit for bit, for the same windows (a tiny randomly initialised backbone)."""

from __future__ import annotations

import numpy as np
import pytest

from cursorprint.model.data.synthetic import synth_users
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.features import descriptors as desc_mod
from cursorprint.model.features.descriptors import EMBED_BATCH, Descriptors
from cursorprint.model.features.motion import N_MOTION, motion_features
from cursorprint.model.features.raster import rasterize_batch
from cursorprint.model.features.windows import WindowRule, aggregate, sigmoid
from cursorprint.model.nets.backbone import build_embedder
from cursorprint.model.nets.heads import fit_head
from cursorprint.model.nets.modeldir import ModelInfo
from cursorprint.model.serving.explain import grad_cam
from cursorprint.model.serving.scoring import SessionScorer
from cursorprint.model.training.config import TrainConfig
from cursorprint.stream.enroll.enroller import Enroller
from cursorprint.stream.testing import MemoryEnrolments, MemoryHeads

RULE = WindowRule(events=64, stride=32, min_events=16)


@pytest.fixture(scope="module")
def cfg() -> TrainConfig:
    return TrainConfig(image_size=32, blocks=1, emb_dim=8, rule=RULE, motion_features=True,
                       progress=False)


@pytest.fixture(scope="module")
def scorer(cfg: TrainConfig) -> SessionScorer:
    import keras

    keras.utils.set_random_seed(3)
    embedder = build_embedder(cfg.backbone())
    info = ModelInfo(version="test", backbone=cfg.backbone(), rule=RULE, frame=cfg.frame,
                     encoding=cfg.encoding, motion=True)
    rng = np.random.default_rng(0)
    dim = cfg.emb_dim + N_MOTION
    population = fit_head(rng.normal(size=(40, dim)), rng.normal(1.0, 1.0, (40, dim)))
    return SessionScorer(info, embedder, population, {})


@pytest.fixture(scope="module")
def sessions() -> list[Trajectory]:
    return synth_users(3, 2, 2500, seed=5)


def _windows(scorer: SessionScorer, sessions: list[Trajectory]) -> list[Trajectory]:
    return [w for s in sessions for w in scorer.windows(s)]


def test_every_caller_gives_the_same_descriptors(cfg: TrainConfig, scorer: SessionScorer,
                                                 sessions: list[Trajectory]) -> None:
    windows = _windows(scorer, sessions)
    assert len(windows) > EMBED_BATCH          # more than one backbone call
    reference = cfg.describer(scorer.embedder)(windows)          # training (heads' input)
    assert reference.dtype == np.float32 and reference.shape == (len(windows), scorer.descriptor_dim)

    evaluation = scorer.descriptors_of(windows, progress=True)   # evaluate_balabit
    np.testing.assert_array_equal(evaluation, reference)

    # serving, as the stream's micro-batch scorer takes it apart: every session's pictures,
    # one backbone call for the whole batch, motion statistics appended per session
    per = [scorer.windows(s) for s in sessions]
    emb = scorer.embed(np.concatenate([scorer.images_of(w) for w in per]))
    bounds = np.cumsum([0, *map(len, per)])
    online = np.vstack([scorer.with_motion(emb[a:b], scorer.motion_of(w))
                        for a, b, w in zip(bounds[:-1], bounds[1:], per, strict=True)])
    np.testing.assert_array_equal(online, reference)
    one = np.vstack([scorer.descriptors(s) for s in sessions])
    np.testing.assert_allclose(one, reference, rtol=1e-5, atol=1e-6)  # other batch split

    # enrollment: what the enroller stores for the owner is the same descriptors
    heads, enrolments = MemoryHeads(), MemoryEnrolments()
    owner = [s for s in sessions if s.meta["user"] == "synth0"]
    version, n = Enroller(scorer, heads, enrolments).add_sessions("owner-key", owner)
    stored = Enroller(scorer, heads, enrolments).owner_windows("owner-key")
    np.testing.assert_array_equal(stored, cfg.describer(scorer.embedder)(_windows(scorer, owner)))
    assert version == heads.heads["owner-key"].version and n == len(stored)

    # explanations score the windows they show from the same descriptors
    _, _, shown = grad_cam(scorer, "nobody", sessions[0])
    first = reference[:len(per[0])]
    np.testing.assert_array_equal(shown, sigmoid(scorer.population.logits(first)))


def test_chunked_drawing_changes_nothing(cfg: TrainConfig, scorer: SessionScorer,
                                         sessions: list[Trajectory],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    windows = _windows(scorer, sessions)
    whole = cfg.describer(scorer.embedder)(windows)
    monkeypatch.setattr(desc_mod, "DRAW_CHUNK", EMBED_BATCH)
    np.testing.assert_array_equal(cfg.describer(scorer.embedder)(windows), whole)
    images = rasterize_batch(windows, 32)
    np.testing.assert_array_equal(
        np.concatenate([rasterize_batch(windows[i:i + 7], 32) for i in range(0, len(windows), 7)]),
        images)
    np.testing.assert_array_equal(
        np.vstack([motion_features(windows[i:i + 7]) for i in range(0, len(windows), 7)]),
        motion_features(windows))


def test_embedding_only_and_checks(scorer: SessionScorer, sessions: list[Trajectory]) -> None:
    plain = Descriptors(scorer.embedder, 32, motion=False)
    windows = scorer.windows(sessions[0])
    d = plain(windows)
    assert d.shape == (len(windows), plain.emb_dim) == (len(windows), 8)
    np.testing.assert_array_equal(d, scorer.descriptors_of(windows)[:, :8])
    assert plain([]).shape == (0, 8)
    with pytest.raises(ValueError, match="images of shape"):
        plain.embed(np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="motion statistics"):
        scorer.with_motion(d, np.zeros((len(d) + 1, N_MOTION), np.float32))


def test_one_sigmoid() -> None:
    z = np.array([-1000.0, -30.0, -1.0, 0.0, 2.5, 30.0, 1000.0])
    with np.errstate(over="raise"):
        p = sigmoid(z)
    assert p[0] == 0.0 and p[3] == 0.5 and p[-1] == 1.0
    np.testing.assert_array_equal(p[1:-1], 1.0 / (1.0 + np.exp(-z[1:-1])))
    assert aggregate([1.0, 3.0]) == float(sigmoid(2.0))
