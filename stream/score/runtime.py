"""The scorer worker's model, loaded once on its own thread and shared by scoring and enrollment.

The model directory holds the identity model and, when ``cursorprint bots train`` wrote one
there, the bot model (``bot.json``); without it the scorer runs with null bot scores.

Model calls (rasterizing, the backbone, heads, enrollment) run on ONE executor thread per model,
never on the event loop, and never per item: one backbone call per micro-batch. Loading happens
on that thread too, started by whichever agent needs the model first. What is loaded is
injected (``ModelRuntime(load)``): a worker loads the model directory and the Redis stores
(:meth:`ModelRuntime.for_worker`), the in-process agent tests a stand-in model and dict stores
(:mod:`cursorprint.stream.testing`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cursorprint.model.bots.model import BOT_MODEL_FILE, BotModel
from cursorprint.stream import metrics as m
from cursorprint.stream.enroll.enroller import Enroller
from cursorprint.stream.score.microbatch import MicroBatchScorer
from cursorprint.stream.score.replayed import ReplayDetector
from cursorprint.stream.settings import Settings

__all__ = ["LoadedModel", "ModelRuntime", "load_worker_model", "replay_detector", "bot_model"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# HeadStore cache events -> the head cache metric's result label
_HEAD_CACHE_RESULTS = {"hits": "hit", "misses": "miss", "loads": "load", "stale_served": "stale"}


def _head_event(name: str) -> None:
    if name in _HEAD_CACHE_RESULTS:
        m.HEAD_CACHE.labels(result=_HEAD_CACHE_RESULTS[name]).inc()
    elif name == "redis_errors":
        m.REDIS_ERRORS.labels(service="scorer").inc()


def replay_detector(settings: Settings) -> ReplayDetector | None:
    """The scorer's replayed-trajectory check on the settings' Redis (None when switched off).

    The fingerprint store's short socket timeout and the detector's back-off: a hung Redis
    delays the scorer by about a second per back-off period, never stops it."""
    if not settings.scorer.replay_check:
        return None
    from cursorprint.stream.stores.fingerprints import RedisFingerprints

    return ReplayDetector(RedisFingerprints.from_url(settings.redis.url,
                                                     ttl_s=settings.scorer.replay_ttl_s))


def bot_model(model_dir: Path) -> BotModel | None:
    """The model directory's bot model (``bot.json``, read by the loader of the offline
    ``cursorprint score``), or None when it has none: every ``bot_score`` is then null. A
    ``bot.json`` that does not load (made for other features) stops the worker at start-up."""
    if not (Path(model_dir) / BOT_MODEL_FILE).is_file():
        log.warning("scorer: no %s in %s: no bot score (train one: cursorprint bots train)",
                    BOT_MODEL_FILE, model_dir)
        return None
    bot = BotModel.load(model_dir)
    log.info("scorer: bot model loaded from %s", model_dir)
    return bot


@dataclass(frozen=True)
class LoadedModel:
    """What the scorer worker's agents use: the session scorer (explanations), the micro-batch
    scorer and the enroller, all bound to the same model and head store."""

    session_scorer: Any
    scorer: MicroBatchScorer
    enroller: Enroller


def load_worker_model(settings: Settings, model_dir: Path) -> LoadedModel:
    """The model directory with the Redis head, enrolment and fingerprint stores (slow: builds
    the backbone; runs on the model thread)."""
    from cursorprint.model.serving.scoring import SessionScorer
    from cursorprint.stream.stores.enrolments import RedisEnrolments
    from cursorprint.stream.stores.heads import HeadStore

    heads = HeadStore(settings.redis.url, ttl_s=settings.scorer.head_cache_ttl_s,
                      on_event=_head_event)
    model = SessionScorer.load(model_dir, heads=heads)
    log.info("scorer: model %s loaded from %s", model.model_version, model_dir)
    replay = replay_detector(settings)
    if replay is not None:
        m.DEGRADED.labels(dependency="replay_store").set(0)
    scorer = MicroBatchScorer(model, settings.scorer.threshold_for, replay=replay,
                              bot=bot_model(model_dir),
                              bot_threshold_for=settings.scorer.bot_threshold_for)
    enroller = Enroller(model, heads, RedisEnrolments.from_url(settings.redis.url))
    return LoadedModel(model, scorer, enroller)


class ModelRuntime:
    """One model thread, and the model ``load()`` gives, loaded on it the first time an agent
    asks."""

    def __init__(self, load: Callable[[], LoadedModel]) -> None:
        self._load = load
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._loading: asyncio.Future[LoadedModel] | None = None
        self.loaded: LoadedModel | None = None

    @classmethod
    def for_worker(cls, settings: Settings, model_dir: Path) -> ModelRuntime:
        """The runtime of a scorer worker: :func:`load_worker_model` on first use."""
        return cls(functools.partial(load_worker_model, settings, model_dir))

    async def ready(self) -> LoadedModel:
        """The loaded model (loads it on the model thread on the first call)."""
        if self._loading is None:
            self._loading = asyncio.get_running_loop().run_in_executor(self.executor, self._load)
        self.loaded = await self._loading
        return self.loaded

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the model thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def close(self) -> None:
        """Let the model thread end once its current call returns."""
        self.executor.shutdown(wait=False)
