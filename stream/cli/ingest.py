"""``cursorprint ingest`` (serve the ingest endpoint) and ``cursorprint token mint``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cursorprint.stream.cli.argtypes import tcp_port

__all__ = ["register"]


def register(sub: Any) -> None:
    ingest = sub.add_parser("ingest", help="serve POST /v1/batches (browser batches -> Kafka)")
    ingest.add_argument("--host", help="listen address (default CURSORPRINT_INGEST_HOST)")
    ingest.add_argument("--port", type=tcp_port, help="port (default CURSORPRINT_INGEST_PORT)")
    ingest.add_argument("--demo", action="store_true",
                        help="also serve a demo page with the collector at /demo")
    ingest.set_defaults(handler=_serve)

    token = sub.add_parser("token", help="user tokens for a site's backend")
    tsub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    mint = tsub.add_parser("mint", help="print a signed user token")
    mint.add_argument("--site", required=True, help="site key (from CURSORPRINT_SITES)")
    mint.add_argument("--user", required=True, help="the site's own user id")
    mint.add_argument("--ttl", type=float, default=3600.0, help="seconds until it expires")
    mint.set_defaults(handler=_mint)


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from cursorprint.stream.ingest.service import create_app
    from cursorprint.stream.settings import ROLE_SECTIONS, load_settings

    settings = load_settings(sections=ROLE_SECTIONS["ingest"])
    host = args.host or settings.ingest.host
    port = settings.ingest.port if args.port is None else args.port
    print(f"ingest: http://{host}:{port}/v1/batches -> Kafka {settings.kafka.bootstrap}"
          + (f"; demo page http://{host}:{port}/demo" if args.demo else ""), flush=True)
    web.run_app(create_app(settings, demo=args.demo), host=host, port=port, print=None,
                access_log=None)
    return 0


def _mint(args: argparse.Namespace) -> int:
    from cursorprint.stream.ingest.identity import mint_token
    from cursorprint.stream.settings import load_settings

    sites = load_settings(sections=("ingest",)).ingest.site_configs()
    site = sites.get(args.site)
    if site is None:
        print(f"cursorprint token mint: --site {args.site!r}: unknown site "
              f"(configured: {', '.join(sorted(sites))})", file=sys.stderr)
        return 2
    if args.ttl <= 0 or not args.user:
        print(f"cursorprint token mint: --ttl {args.ttl} must be > 0 and --user non-empty",
              file=sys.stderr)
        return 2
    print(mint_token(site.key, args.user, site.secret, ttl_s=args.ttl))
    return 0
