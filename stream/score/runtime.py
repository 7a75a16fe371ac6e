"""The scorer worker's model, loaded once on its own thread and shared by scoring and enrollment.

Model calls (rasterizing, the backbone, heads, enrollment) run on ONE executor thread per model,
never on the event loop, and never per item: one backbone call per micro-batch. Loading happens
on that thread too, started by whichever agent needs the model first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cursorprint.stream import metrics as m
from cursorprint.stream.enroll.enroller import Enroller
from cursorprint.stream.score.abuse import ReplayDetector
from cursorprint.stream.score.microbatch import MicroBatchScorer
from cursorprint.stream.settings import Settings

__all__ = ["LoadedModel", "ModelRuntime", "replay_detector"]

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
    """The scorer's replayed-recording check on the settings' Redis (None when switched off).

    Short socket timeouts and the detector's back-off: a hung Redis delays the scorer by about a
    second per back-off period (``REPLAY_BACKOFF_S``), never stops it."""
    if not settings.scorer.replay_check:
        return None
    import redis

    client = redis.Redis.from_url(settings.redis.url, socket_timeout=1.0,
                                  socket_connect_timeout=1.0)
    return ReplayDetector(client, ttl_s=settings.scorer.replay_ttl_s)


@dataclass(frozen=True)
class LoadedModel:
    """What the scorer worker's agents use: the session scorer (explanations), the micro-batch
    scorer and the enroller, all bound to the same model and head store."""

    session_scorer: Any
    scorer: MicroBatchScorer
    enroller: Enroller


class ModelRuntime:
    """One model thread, and the model loaded on it the first time an agent asks."""

    def __init__(self, settings: Settings, model_dir: Path) -> None:
        self.settings = settings
        self.model_dir = model_dir
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._loading: asyncio.Future[LoadedModel] | None = None
        self.loaded: LoadedModel | None = None

    def _load(self) -> LoadedModel:
        import redis

        from cursorprint.model.serving.scoring import SessionScorer
        from cursorprint.stream.stores.heads import HeadStore

        settings = self.settings
        heads = HeadStore(settings.redis.url, ttl_s=settings.scorer.head_cache_ttl_s,
                          on_event=_head_event)
        model = SessionScorer.load(self.model_dir, heads=heads)
        log.info("scorer: model %s loaded from %s", model.model_version, self.model_dir)
        replay = replay_detector(settings)
        if replay is not None:
            m.DEGRADED.labels(dependency="replay_store").set(0)
        scorer = MicroBatchScorer(model, settings.scorer.alert_threshold, settings.scorer.thresholds(),
                                  replay=replay)
        enroller = Enroller(model, heads, redis.Redis.from_url(settings.redis.url))
        return LoadedModel(model, scorer, enroller)

    async def ready(self) -> LoadedModel:
        """The loaded model (loads it on the model thread on the first call)."""
        if self._loading is None:
            self._loading = asyncio.get_running_loop().run_in_executor(self.executor, self._load)
        self.loaded = await self._loading
        return self.loaded

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the model thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
