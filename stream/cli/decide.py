"""``cursorprint decide serve|key|labels``: the decision service, API keys, feedback labels."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cursorprint.stream.cli.argtypes import tcp_port

__all__ = ["register"]


def register(sub: Any) -> None:
    decide = sub.add_parser("decide", help="the sites' decision + feedback service")
    dsub = decide.add_subparsers(dest="decide_command", metavar="ACTION", required=True)
    serve = dsub.add_parser("serve", help="serve POST /v1/decisions and POST /v1/feedback")
    serve.add_argument("--host", help="listen address (default CURSORPRINT_DECIDE_HOST)")
    serve.add_argument("--port", type=tcp_port, help="port (default CURSORPRINT_DECIDE_PORT)")
    serve.set_defaults(handler=_serve)
    key = dsub.add_parser("key", help="print a new random API key and its sha256: form for "
                          "CURSORPRINT_DECIDE_SITES")
    key.set_defaults(handler=_key)
    labels = dsub.add_parser("labels", help="export the sites' feedback labels (JSON lines, "
                             "pseudonymous) for evaluation")
    labels.add_argument("--out", type=Path, default=None, help="file (default: stdout)")
    labels.set_defaults(handler=_labels)


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from cursorprint.stream.decide.service import create_app
    from cursorprint.stream.settings import ROLE_SECTIONS, load_settings

    settings = load_settings(sections=ROLE_SECTIONS["decide"])
    host = args.host or settings.decide.host
    port = settings.decide.port if args.port is None else args.port
    print(f"decide: http://{host}:{port}/v1/decisions and /v1/feedback "
          f"(sites: {', '.join(sorted(settings.decide.site_configs()))})", flush=True)
    web.run_app(create_app(settings), host=host, port=port, print=None, access_log=None)
    return 0


def _key(args: argparse.Namespace) -> int:
    import secrets

    from cursorprint.stream.decide.credentials import hash_key

    key = secrets.token_urlsafe(32)
    print(f"api key (give to the site's backend): {key}")
    print(f"for CURSORPRINT_DECIDE_SITES:         sha256:{hash_key(key)}")
    return 0


def _labels(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from cursorprint.stream.records.errors import Unavailable
    from cursorprint.stream.settings import load_settings
    from cursorprint.stream.stores.live_scores import RedisLiveScores

    settings = load_settings(sections=("general", "redis"))

    async def read() -> list[dict[str, str]]:
        store = RedisLiveScores.from_url(settings.redis.url, timeout_s=5.0)
        try:
            return await store.labels()
        finally:
            await store.close()

    try:
        rows = asyncio.run(read())
    except Unavailable as exc:
        print(f"cursorprint decide labels: {exc}", file=sys.stderr)
        return 1
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
        print(f"{len(rows)} labels -> {args.out}", file=sys.stderr)
    return 0
