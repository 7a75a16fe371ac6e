"""The ``--demo`` pages of ingest: a local page running the collector against this service (for
trying it out and for the browser tests), a blank page to navigate away to, and the built
collector files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from cursorprint.stream.ingest.identity import mint_token
from cursorprint.stream.records.errors import RejectedInput
from cursorprint.stream.settings.sites import SiteConfig

__all__ = ["add_demo_routes", "collector_dist", "COLLECTOR_FILES", "DEMO_SITE", "STATIC"]

STATIC = Path(__file__).resolve().parents[1] / "static"
# The built collector: an installed wheel carries it as package data (setup.py copies it there);
# a source checkout serves `npm run build`'s output in collector_js/dist in place.
PACKAGED_COLLECTOR = STATIC / "collector"
CHECKOUT_COLLECTOR = Path(__file__).resolve().parents[2] / "collector_js" / "dist"
COLLECTOR_FILES = frozenset({"cursorprint.min.js", "cursorprint.esm.js"})
DEMO_SITE = "demo"
MAX_DEMO_USER_CHARS = 128


def collector_dist() -> Path:
    """The folder of the built collector files (COLLECTOR_FILES) this installation serves."""
    return PACKAGED_COLLECTOR if PACKAGED_COLLECTOR.is_dir() else CHECKOUT_COLLECTOR


def add_demo_routes(app: web.Application, sites: Mapping[str, SiteConfig], batch_path: str,
                    collector_dir: Path) -> None:
    """``GET /demo?user=``, ``GET /demo/bye`` and ``GET /collector/{name}`` (the files in
    ``collector_dir``) on ``app``."""

    async def demo_page(request: web.Request) -> web.Response:
        site = sites.get(DEMO_SITE)
        if site is None:
            raise RejectedInput("no_demo_site", "configure a site called 'demo' for the demo "
                                "page", status=404)
        user = request.query.get("user", "demo-user")[:MAX_DEMO_USER_CHARS]
        config = {"endpoint": batch_path, "site": site.key,
                  "token": mint_token(site.key, user, site.secret, ttl_s=3600)}
        html = (STATIC / "demo.html").read_text().replace(
            "__CONFIG__", json.dumps(config).replace("<", "\\u003c"))
        return web.Response(text=html, content_type="text/html")

    async def bye_page(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>bye</title><p>bye</p>",
                            content_type="text/html")

    async def collector_file(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        path = collector_dir / name
        if name not in COLLECTOR_FILES or not path.is_file():
            raise RejectedInput("not_found", f"{name[:80]}: not built (run `npm run build` in "
                                "collector_js)", status=404)
        return web.Response(body=path.read_bytes(), content_type="text/javascript")

    app.router.add_get("/demo", demo_page)
    app.router.add_get("/demo/bye", bye_page)
    app.router.add_get("/collector/{name}", collector_file)
