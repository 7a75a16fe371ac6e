"""Micro-batch scorer logic with the stand-in model (pure logic: one backbone call per batch,
per-record splitting, thresholds, stable ids, dead letters)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cursorprint.model.features.windows import sigmoid
from cursorprint.model.nets.heads import Head
from cursorprint.model.serving.scoring import SessionScore
from cursorprint.stream.records.reasons import (
    REASON_ABOVE_THRESHOLD,
    REASON_HEAD_INCOMPATIBLE,
    REASON_NO_USER_HEAD,
    REASON_TOO_FEW_EVENTS,
)
from cursorprint.stream.records.scores import alert_id, score_id
from cursorprint.stream.records.session import SessionRecord
from cursorprint.stream.score.microbatch import MicroBatchScorer
from cursorprint.stream.settings import load_settings
from cursorprint.stream.testing import MemoryHeads, StandInModel, stand_in_head

OWNER = "a" * 32          # the one user with a head


def model() -> StandInModel:
    return StandInModel(MemoryHeads({OWNER: stand_in_head("h1")}))


def everywhere(threshold: float) -> Callable[[str], float]:
    return lambda _site: threshold


def record(sid: str, user: str, x: float, n: int, site: str = "demo",
           part: str | int = "final") -> bytes:
    return SessionRecord(session_id=sid, user=user, site=site, path="/checkout",
                         screen=(800, 600), part=part, cause="exit", t0=1.0, closed_at=2.0,
                         t=[i * 0.01 for i in range(n)], x=[x] * n, y=[1.0] * n, k=[0] * n,
                         b=[0] * n).to_bytes()


def test_one_backbone_call_per_micro_batch_and_split_per_session() -> None:
    stand_in = model()
    settings = load_settings(environ={"CURSORPRINT_SITE_THRESHOLDS": "strict=0.1",
                                      "CURSORPRINT_ALERT_THRESHOLD": "0.5"})
    mbs = MicroBatchScorer(stand_in, settings.scorer.threshold_for)
    values = [record("s1", OWNER, 900.0, 300), b"not json",
              record("s2", "b" * 32, 200.0, 100), record("s3", "c" * 32, 200.0, 100, "strict")]
    res = mbs.score_batch(values, now_ms=5.0)
    assert stand_in.embed_calls == [5]             # 3 + 1 + 1 images, one call
    assert res.n_images == 5
    assert [s.session_id for s in res.scores] == ["s1", "s2", "s3"]
    assert [round(s.score, 3) for s in res.scores] == [0.9, 0.2, 0.2]
    assert res.scores[0].window_scores == [0.9, 0.9, 0.9]
    assert res.scores[0].head_version == "h1"
    # 100 events at 10 ms are too few for the window rule
    assert res.scores[1].reasons == [REASON_TOO_FEW_EVENTS, REASON_NO_USER_HEAD]
    assert [a.session_id for a in res.alerts] == ["s1", "s3"]      # 0.9 > 0.5, 0.2 > 0.1
    assert res.alerts[1].threshold == 0.1
    assert res.alerts[0].reasons == [REASON_ABOVE_THRESHOLD]
    assert res.alerts[0].alert_id == alert_id("s1", "final", "test-v1")
    assert res.scores[0].score_id == score_id("s1", "final", "test-v1")
    assert len(res.dead) == 1 and "JSON" in res.dead[0].error
    assert res.dead[0].value == b"not json"


def test_scoring_twice_gives_the_same_ids() -> None:
    mbs = MicroBatchScorer(model(), everywhere(0.5))
    v = [record("s1", OWNER, 900.0, 300)]
    a, b = mbs.score_batch(v), mbs.score_batch(v)
    assert a.scores[0].score_id == b.scores[0].score_id
    assert a.alerts[0].alert_id == b.alerts[0].alert_id
    assert score_id("s1", 0, "v") != score_id("s1", "final", "v")
    assert score_id("s1", "final", "v") != score_id("s1", "final", "v2")


def test_a_batch_of_only_poison_makes_no_model_call() -> None:
    stand_in = model()
    res = MicroBatchScorer(stand_in, everywhere(0.5)).score_batch([b"{}", b"\x00\x01"])
    assert stand_in.embed_calls == [] and len(res.dead) == 2 and res.scores == []


class _HeadOfAnotherModel(StandInModel):
    """Users starting with "z" have a stored head of another embedding size."""

    def score_embeddings(self, user_key: str, emb: np.ndarray) -> SessionScore:
        if user_key.startswith("z"):
            raise ValueError("head expects embeddings of size 128")
        return super().score_embeddings(user_key, emb)


def test_a_head_error_dead_letters_only_that_session() -> None:
    res = MicroBatchScorer(_HeadOfAnotherModel(), everywhere(0.5)).score_batch(
        [record("s1", "z" * 32, 100.0, 300), record("s2", OWNER, 100.0, 300)])
    assert [s.session_id for s in res.scores] == ["s2"]
    assert len(res.dead) == 1 and "128" in res.dead[0].error
    assert b'"session_id":"s1"' in res.dead[0].value


def test_an_incompatible_head_falls_back_to_the_population_head() -> None:
    stand_in = _HeadOfAnotherModel()
    stand_in.population = Head(w=np.array([0.001], dtype=np.float32), b=0.0, version="pop1")
    res = MicroBatchScorer(stand_in, everywhere(0.99)).score_batch(
        [record("s1", "z" * 32, 100.0, 300)])
    assert res.dead == []
    s = res.scores[0]
    assert s.head_version == "population:pop1"
    assert s.reasons == [REASON_HEAD_INCOMPATIBLE, REASON_NO_USER_HEAD]
    assert abs(s.score - float(sigmoid(0.1))) < 1e-6      # sigmoid(0.001 * 100)
    assert s.window_scores == [s.score] * 3


def test_a_session_that_cannot_be_drawn_is_dead_lettered_alone() -> None:
    stand_in = model()
    mbs = MicroBatchScorer(stand_in, everywhere(0.5))
    bad = record("bad", "a1", -5.0, 200)
    res = mbs.score_batch([record("s1", "a1", 100.0, 200), bad, record("s3", "a3", 300.0, 300)])
    assert [s.session_id for s in res.scores] == ["s1", "s3"]
    assert [d.value for d in res.dead] == [bad] and "negative x" in res.dead[0].error
    assert stand_in.embed_calls == [2 + 3]        # still one backbone call for the good ones
