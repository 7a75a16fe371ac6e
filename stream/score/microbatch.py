"""Scorer logic: a micro-batch of ``sessions`` records -> scores, alerts and dead letters.

:meth:`MicroBatchScorer.score_batch` is synchronous and runs on the scorer's single model
thread (never on the event loop): every record is rasterized with ``SessionScorer.images``,
the images of the whole micro-batch go through ONE backbone call (``embed``), and each
session's windows are scored with its user's head (or the population head, with the reason
code ``no_user_head``). A record that cannot be processed becomes a dead letter; the others
of the batch are still scored. The abuse checks (:mod:`.scripted`, :mod:`.replayed`, and the
remote-access marks of :mod:`cursorprint.model.features.remote_access`) add their reason codes
to every mouse session's score.

With a bot model (``bot.json`` in the model directory) every session also gets ``bot_score``
from :meth:`BotModel.score` — the method the offline ``cursorprint score`` calls — cut at the
site's bot threshold: ``automation_suspected`` at or above it. That reason alone makes an alert
too: the identity score of a user without a head comes from the population head, which ranks
humanizing libraries as human (issue 15), so an alert only above the identity threshold would let
exactly those bots through; the bot threshold is per site, so a site that wants no such alerts
sets it to 1.

A session that is not mouse input (``pointer`` pen, touch or mixed) meets neither model, both
trained on mouse movement only: its score record has no score, no bot score, the reason
``not_mouse`` and never an alert (being different must not look like fraud).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from cursorprint.model.bots.model import FLAG_AT, BotModel
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.features.remote_access import remote_access_reasons
from cursorprint.model.features.windows import aggregate, sigmoid
from cursorprint.model.nets.heads import Head
from cursorprint.model.serving.scoring import SessionScore
from cursorprint.stream.decide.live import SourceKey, movement_seconds, source_key
from cursorprint.stream.records import topics
from cursorprint.stream.records.dead_letter import DeadLetter
from cursorprint.stream.records.events import POINTER_MOUSE
from cursorprint.stream.records.reasons import (
    REASON_ABOVE_THRESHOLD,
    REASON_AUTOMATION,
    REASON_HEAD_INCOMPATIBLE,
    REASON_NO_USER_HEAD,
    REASON_NOT_MOUSE,
    REASON_REPLAY_UNCHECKED,
)
from cursorprint.stream.records.scores import Alert, ScoreRecord, alert_id, score_id
from cursorprint.stream.records.session import SessionRecord, SessionRecordError
from cursorprint.stream.score.replayed import BACKOFF_ERROR, ReplayDetector
from cursorprint.stream.score.scripted import scripted_reasons

__all__ = ["MicroBatchScorer", "BatchResult", "ModelLike"]

log = logging.getLogger(__name__)


class ModelLike(Protocol):
    """The part of :class:`cursorprint.model.serving.scoring.SessionScorer` the stream uses."""

    model_version: str
    image_shape: tuple[int, int, int]
    info: Any                       # ModelInfo: its window rule decides ``too_few_events``

    @property
    def population(self) -> Head | None:
        """The population head: scores sessions whose user's head does not fit this model."""
        ...

    def cut(self, traj: Trajectory) -> tuple[list[Trajectory], list[str]]: ...
    def images_of(self, windows: list[Trajectory]) -> np.ndarray: ...
    def motion_of(self, windows: list[Trajectory]) -> np.ndarray: ...
    def embed(self, images: np.ndarray) -> np.ndarray: ...
    def with_motion(self, emb: np.ndarray, motion: np.ndarray) -> np.ndarray: ...
    def score_embeddings(self, user_key: str, emb: np.ndarray) -> SessionScore: ...


@dataclass
class BatchResult:
    """What one micro-batch gave: records to publish, and what the agent's metrics report."""

    scores: list[ScoreRecord] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    n_images: int = 0
    raster_seconds: float = 0.0
    embed_seconds: float = 0.0
    head_seconds: float = 0.0
    replay_errors: int = 0        # replay checks that failed on Redis (metric, log)
    replay_skipped: int = 0       # ... skipped while backing off after such a failure
    replay_checked: int = 0       # replay checks that reached Redis
    # input index -> (source_key, seconds of movement) of each decoded mouse
    # record: what the live scores need of the record, so it is not decoded again for them
    parts: dict[int, tuple[SourceKey, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Prepared:
    """One decoded mouse session, ready for the heads: its windows' count and its reasons so
    far (window rule, abuse checks, bot model) and its bot score."""

    rec: SessionRecord
    n_windows: int
    reasons: list[str]
    bot_score: float | None


def _site_default(_site: str) -> float:
    return FLAG_AT


class MicroBatchScorer:
    """Scores micro-batches of ``sessions`` values with one model (one thread).

    ``threshold_for(site)`` is the alert threshold of a site: in a worker, the settings' one
    lookup (``settings.scorer.threshold_for``), so the scorer and the views never disagree;
    ``bot_threshold_for(site)`` likewise the bot threshold (``settings.scorer
    .bot_threshold_for``; by default the bot model's calibrated one). ``bot=None``: no bot model,
    every ``bot_score`` is null.
    """

    def __init__(self, model: ModelLike, threshold_for: Callable[[str], float], *,
                 replay: ReplayDetector | None = None, bot: BotModel | None = None,
                 bot_threshold_for: Callable[[str], float] = _site_default,
                 source: str = topics.SESSIONS) -> None:
        self.model = model
        self.threshold_for = threshold_for
        self.replay = replay          # optional replayed-trajectory check (None: switched off)
        self.bot = bot
        self.bot_threshold_for = bot_threshold_for
        self.source = source

    def _bot_verdict(self, rec: SessionRecord, traj: Trajectory) -> tuple[float | None,
                                                                          list[str]]:
        """``(bot_score, reasons)``: the offline ``cursorprint score``'s call, at the site's
        cut."""
        if self.bot is None:
            return None, []
        verdict = self.bot.score(traj, cut=self.bot_threshold_for(rec.site))
        return verdict.score, list(verdict.reasons)

    def _not_mouse(self, rec: SessionRecord, scored_at: float) -> ScoreRecord:
        """The score record of a session neither model judges (pen, touch, mixed)."""
        return ScoreRecord(
            score_id=score_id(rec.session_id, rec.part, self.model.model_version),
            session_id=rec.session_id, part=rec.part, cause=rec.cause, user=rec.user,
            site=rec.site, page=rec.path, score=None, window_scores=[],
            reasons=[REASON_NOT_MOUSE], model_version=self.model.model_version, head_version="",
            n_events=rec.n_events, closed_at=rec.closed_at, scored_at=scored_at, bot_score=None)

    def _abuse_reasons(self, rec: SessionRecord, traj: Trajectory, res: BatchResult
                       ) -> list[str]:
        """Scripted-movement codes, ``remote_access_suspected``, plus ``replayed_trajectory``
        when a replay store is set (``replay_check_unavailable`` while its Redis fails: the
        session is still scored)."""
        reasons = [*scripted_reasons(traj), *remote_access_reasons(traj)]
        if self.replay is not None:
            verdict = self.replay.check_and_remember(rec.session_id, traj, rec.site)
            reasons += verdict.reasons
            if verdict.error is not None:
                if verdict.error == BACKOFF_ERROR:
                    res.replay_skipped += 1
                else:
                    res.replay_errors += 1
                reasons.append(REASON_REPLAY_UNCHECKED)
            elif verdict.checked:
                res.replay_checked += 1
        return reasons

    def _population_fallback(self, emb: np.ndarray, error: str) -> SessionScore | None:
        """Population score with reason ``head_incompatible`` when the user's stored head does
        not fit this model (e.g. fitted for another backbone): a score, not a lost session."""
        population = self.model.population
        if population is None or len(emb) == 0:
            return None
        try:
            logits = population.logits(emb)
        except ValueError:
            return None
        log.warning("a user's head does not fit model %s (%s): population head used",
                    self.model.model_version, error)
        window_scores = [float(p) for p in sigmoid(logits)]
        return SessionScore(aggregate(logits), window_scores,
                            f"population:{population.version}",
                            [REASON_HEAD_INCOMPATIBLE, REASON_NO_USER_HEAD])

    def _prepare(self, values: list[bytes], res: BatchResult, scored_at: float
                 ) -> tuple[list[_Prepared], np.ndarray, np.ndarray]:
        """Decode, cut, draw and measure every mouse record: ``([prepared], images, motion)``,
        the windows of all kept sessions in order. Records that are not mouse input get their
        score record (``not_mouse``) in ``res`` at once.

        The windows of all sessions are drawn and measured in one call each (per-call
        overhead matters at this rate); if that fails (a window that cannot be drawn), each
        session is done on its own so only the bad one goes to the dead letters.
        """
        decoded: list[tuple[_Prepared, list[Any], bytes]] = []
        for i, raw in enumerate(values):
            try:
                rec, traj = SessionRecord.decode(raw)
                if rec.pointer != POINTER_MOUSE:
                    res.scores.append(self._not_mouse(rec, scored_at))
                    continue
                res.parts[i] = (source_key(rec.session_id, rec.part), movement_seconds(traj.t))
                wins, rule_reasons = self.model.cut(traj)
                bot_score, bot_reasons = self._bot_verdict(rec, traj)
                reasons = [*rule_reasons, *bot_reasons, *self._abuse_reasons(rec, traj, res)]
                decoded.append((_Prepared(rec, len(wins), reasons, bot_score), wins, raw))
            except (SessionRecordError, ValueError) as exc:
                res.dead.append(DeadLetter(self.source, f"{type(exc).__name__}: {exc}",
                                           bytes(raw)))
        try:
            flat = [w for _, wins, _ in decoded for w in wins]
            return ([p for p, _, _ in decoded], self.model.images_of(flat),
                    self.model.motion_of(flat))
        except ValueError:
            pass
        kept: list[_Prepared] = []
        images, motion = [self.model.images_of([])], [self.model.motion_of([])]
        for prepared, wins, raw in decoded:
            try:
                imgs, mot = self.model.images_of(wins), self.model.motion_of(wins)
            except ValueError as exc:
                res.dead.append(DeadLetter(self.source, f"{type(exc).__name__}: {exc}",
                                           bytes(raw)))
                continue
            images.append(imgs)
            motion.append(mot)
            kept.append(prepared)
        return kept, np.concatenate(images), np.concatenate(motion)

    def score_batch(self, values: list[bytes], now_ms: float | None = None) -> BatchResult:
        """Score every decodable record of ``values`` with one backbone call."""
        res = BatchResult()
        scored_at = time.time() * 1000.0 if now_ms is None else now_ms
        t_start = time.perf_counter()
        ok, stacked, motion = self._prepare(values, res, scored_at)
        res.raster_seconds = time.perf_counter() - t_start
        if not ok:
            return res
        res.n_images = int(len(stacked))
        t_embed = time.perf_counter()
        emb = self.model.embed(stacked.reshape((-1, *self.model.image_shape)))
        res.embed_seconds = time.perf_counter() - t_embed
        t_head = time.perf_counter()
        start = 0
        for prepared in ok:
            rec, n_windows, rule_reasons = prepared.rec, prepared.n_windows, prepared.reasons
            stop = start + n_windows
            part_emb = self.model.with_motion(emb[start:stop], motion[start:stop])
            start = stop
            try:
                s = self.model.score_embeddings(rec.user, part_emb)
            except ValueError as exc:   # e.g. a stored head of another model's embedding size
                fallback = self._population_fallback(part_emb, str(exc))
                if fallback is None:
                    res.dead.append(DeadLetter(self.source, f"{type(exc).__name__}: {exc}",
                                               rec.to_bytes()))
                    continue
                s = fallback
            reasons = [*rule_reasons, *s.reasons]
            res.scores.append(ScoreRecord(
                score_id=score_id(rec.session_id, rec.part, self.model.model_version),
                session_id=rec.session_id, part=rec.part, cause=rec.cause, user=rec.user,
                site=rec.site, page=rec.path, score=float(s.score),
                window_scores=[float(w) for w in s.window_scores], reasons=reasons,
                model_version=self.model.model_version, head_version=s.head_version,
                n_events=rec.n_events, closed_at=rec.closed_at, scored_at=scored_at,
                bot_score=prepared.bot_score))
            threshold = self.threshold_for(rec.site)
            above = s.score > threshold
            if above or REASON_AUTOMATION in reasons:
                res.alerts.append(Alert(
                    alert_id=alert_id(rec.session_id, rec.part, self.model.model_version),
                    session_id=rec.session_id, part=rec.part, user=rec.user, site=rec.site,
                    page=rec.path, score=float(s.score), threshold=threshold,
                    model_version=self.model.model_version, head_version=s.head_version,
                    reasons=[REASON_ABOVE_THRESHOLD, *reasons] if above else list(reasons),
                    time=scored_at, bot_score=prepared.bot_score,
                    bot_threshold=None if self.bot is None else self.bot_threshold_for(rec.site)))
        res.head_seconds = time.perf_counter() - t_head
        return res
