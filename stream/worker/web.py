"""A worker's web views (Faust's web server): metrics, health, readiness, and the demo page's
score and explanation of the visitor's own session."""

from __future__ import annotations

import json
import tempfile
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cursorprint.stream.records.session import SessionRecord, SessionRecordError
from cursorprint.stream.score.microbatch import BatchResult
from cursorprint.stream.score.runtime import ModelRuntime
from cursorprint.stream.settings import Settings

__all__ = ["RecentScores", "add_web", "explanation_png"]

STATIC = Path(__file__).resolve().parents[1] / "static"


class RecentScores:
    """The latest score of the last ``max_sessions`` page sessions and the last raw
    ``sessions`` records this worker scored, for the demo page (never an API for sites)."""

    def __init__(self, threshold_for: Callable[[str], float], max_sessions: int = 2000,
                 max_records: int = 64) -> None:
        self.scores: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.records: deque[bytes] = deque(maxlen=max_records)
        self.max_sessions = max_sessions
        self._threshold_for = threshold_for

    def note(self, raws: list[bytes], res: BatchResult) -> None:
        for s in res.scores:
            self.scores[s.session_id] = {
                **s.__dict__, "threshold": self._threshold_for(s.site)}
            self.scores.move_to_end(s.session_id)
        while len(self.scores) > self.max_sessions:
            self.scores.popitem(last=False)
        self.records.extend(raws)


def explanation_png(session_scorer: Any, candidates: list[bytes], sid: str) -> bytes:
    """The saliency PNG of the newest ``sessions`` record of page session ``sid`` among
    ``candidates`` (newest first), drawn with the worker's own model.

    LookupError when none is that session's; ValueError when it cannot be explained."""
    from cursorprint.model.serving.explain import explain_to_png

    rec = None
    for raw in candidates:
        try:
            rec = SessionRecord.from_bytes(raw)
        except SessionRecordError:
            continue
        if rec.session_id == sid:
            break
    if rec is None or rec.session_id != sid:
        raise LookupError(f"no recent record of {sid!r} on this worker")
    with tempfile.TemporaryDirectory(prefix="cp-explain-") as tmp:
        out = Path(tmp) / "explain.png"
        explain_to_png(session_scorer, rec.user, rec.to_trajectory(), out)
        return out.read_bytes()


def add_web(app: faust.App, settings: Settings, ready: dict[str, bool], recent: RecentScores,
            runtime: ModelRuntime | None) -> None:
    """Add /metrics, /healthz, /readyz and the demo views to ``app``."""

    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        # aiohttp refuses parameters in content_type=, so the header is set directly
        return web.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"ok": True})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        ok = bool(ready) and all(ready.values())
        return web.json({"ready": ok, "parts": ready}, status=200 if ok else 503)

    @app.page("/v1/scores/{sid}")
    async def session_score(web: Any, request: Any, sid: str) -> Any:
        """The latest score of a page session seen by this worker (demo page)."""
        score = recent.scores.get(sid)
        if score is None:
            return web.json({"error": "not_scored_yet", "detail": f"no score for {sid!r} "
                             "on this worker yet"}, status=404)
        return web.json(score)

    @app.page("/v1/explain/{sid}")
    async def session_explanation(web: Any, request: Any, sid: str) -> Any:
        """A saliency PNG of the latest scored part of a page session (demo page)."""
        if runtime is None or runtime.loaded is None:
            return web.json({"error": "not_ready", "detail": "no model loaded here"}, status=503)
        candidates = [r for r in reversed(recent.records) if sid.encode() in r]
        try:
            png = await runtime.run(explanation_png, runtime.loaded.session_scorer,
                                    candidates, sid)
        except LookupError as exc:
            return web.json({"error": "not_scored_yet", "detail": str(exc)}, status=404)
        except ValueError as exc:
            return web.json({"error": "cannot_explain", "detail": str(exc)}, status=422)
        return web.bytes(png, content_type="image/png")

    @app.page("/demo/cursorprint.min.js")
    async def collector_script(web: Any, request: Any) -> Any:
        """The built browser collector, served next to the demo page."""
        from cursorprint.stream.ingest.demo import collector_dist

        path = collector_dist() / "cursorprint.min.js"
        if not path.is_file():
            return web.json({"error": "not_found", "detail": "collector not built (run `npm "
                             "run build` in collector_js)"}, status=404)
        return web.bytes(path.read_bytes(), content_type="text/javascript")

    @app.page("/demo")
    async def demo(web: Any, request: Any) -> Any:
        """Move your own mouse and see the session's score and reasons (demo site only)."""
        from cursorprint.stream.ingest.identity import mint_token

        site = settings.ingest.site_configs().get("demo")
        if site is None:
            return web.json({"error": "no_demo_site", "detail": "configure a site called "
                             "'demo' in CURSORPRINT_SITES"}, status=404)
        ingest = f"http://{settings.ingest.host}:{settings.ingest.port}"
        config = {"endpoint": ingest + "/v1/batches", "site": site.key,
                  "token": mint_token(site.key, "demo-visitor", site.secret, ttl_s=3600)}
        html = (STATIC / "scores.html").read_text()
        html = html.replace("__CONFIG__", json.dumps(config).replace("<", "\\u003c"))
        return web.html(html)
