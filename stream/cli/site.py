"""``cursorprint site serve|screenshots``: the reference site (a login that asks for a decision)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cursorprint.stream.cli.argtypes import positive_int, tcp_port

__all__ = ["register"]

DEFAULT_PORT = 8090
OWNER_RECORDING, OTHER_RECORDING = "user73", "user74"   # SapiMouse people used by the tour


def register(sub: Any) -> None:
    site = sub.add_parser("site", help="the reference site: a login page that asks "
                          "cursorprint for a decision")
    ssub = site.add_subparsers(dest="site_command", metavar="ACTION", required=True)
    serve = ssub.add_parser("serve", help="serve the reference site (needs `ingest --demo`, "
                            "the workers and `decide serve`)")
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=tcp_port, default=DEFAULT_PORT,
                       help=f"port (default {DEFAULT_PORT})")
    serve.add_argument("--site", default="demo", help="site key (default demo)")
    serve.add_argument("--api-key", help="the site backend's decision API key (default: the "
                       "demo key of CURSORPRINT_DECIDE_SITES' default, for --site demo)")
    serve.add_argument("--ingest", help="ingest base URL (default from CURSORPRINT_INGEST_*)")
    serve.add_argument("--decide", help="decision service base URL (default from "
                       "CURSORPRINT_DECIDE_*)")
    serve.add_argument("--evidence-wait-s", type=float, default=5.0,
                       help="how long a login waits for the last scores (default 5)")
    serve.set_defaults(handler=_serve)
    shots = ssub.add_parser("screenshots", help="log in to a running reference site in "
                            "Chromium as an owner (until allowed) and as someone else; save "
                            "a screenshot of every page")
    shots.add_argument("--url", default=f"http://127.0.0.1:{DEFAULT_PORT}",
                       help="the reference site")
    shots.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    shots.add_argument("--sapimouse", type=Path, default=None,
                       help="SapiMouse folder (whose people move the pointer; default "
                            "CURSORPRINT_DATA_DIR/sapimouse)")
    shots.add_argument("--user", default="alice", help="the account logged in to")
    shots.add_argument("--logins", type=positive_int, default=8,
                       help="most owner logins before giving up on an allow (default 8)")
    shots.add_argument("--seconds", type=positive_int, default=12,
                       help="seconds of pointer movement per login (default 12)")
    shots.set_defaults(handler=_screenshots)


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from cursorprint.stream.decide.credentials import DEMO_DECIDE_SITES
    from cursorprint.stream.devtools.reference_site.app import SiteConfig, create_app
    from cursorprint.stream.settings import ROLE_SECTIONS, load_settings

    settings = load_settings(sections=ROLE_SECTIONS["ingest"])
    sites = settings.ingest.site_configs()
    if args.site not in sites:
        print(f"cursorprint site serve: --site {args.site!r} is not in CURSORPRINT_SITES "
              f"({', '.join(sorted(sites))})", file=sys.stderr)
        return 2
    api_key = args.api_key
    if api_key is None:
        demo_site, _, demo_key = DEMO_DECIDE_SITES.partition("=")
        if args.site != demo_site:
            print(f"cursorprint site serve: --api-key is needed for --site {args.site!r}",
                  file=sys.stderr)
            return 2
        api_key = demo_key
    if not args.evidence_wait_s >= 0:
        print(f"cursorprint site serve: --evidence-wait-s must be >= 0, got "
              f"{args.evidence_wait_s}", file=sys.stderr)
        return 2
    decide = load_settings(sections=ROLE_SECTIONS["decide"]).decide
    config = SiteConfig(
        site=args.site, page_token_secret=sites[args.site].secret, api_key=api_key,
        ingest_url=(args.ingest or f"http://{settings.ingest.host}:{settings.ingest.port}"
                    ).rstrip("/"),
        decide_url=(args.decide or f"http://{decide.host}:{decide.port}").rstrip("/"),
        evidence_wait_s=args.evidence_wait_s)
    print(f"reference site: http://{args.host}:{args.port}/login (ingest {config.ingest_url}, "
          f"decisions {config.decide_url})", flush=True)
    web.run_app(create_app(config), host=args.host, port=args.port, print=None,
                access_log=None)
    return 0


def _screenshots(args: argparse.Namespace) -> int:
    import json

    from cursorprint.stream.devtools.reference_site.tour import TourError, plan_logins, run_tour
    from cursorprint.stream.ingest.service import COLLECTOR_DIR
    from cursorprint.stream.settings import SettingsError, load_settings

    try:
        data = args.sapimouse or load_settings(sections=("general",)).general.dataset("sapimouse")
    except SettingsError as exc:
        print(f"cursorprint site screenshots: {exc}", file=sys.stderr)
        return 2
    try:
        owner = plan_logins(data / OWNER_RECORDING / "session_3min.csv",
                            [args.user] * args.logins, args.seconds, name="owner",
                            stop_when_allowed=True)
        other = plan_logins(data / OTHER_RECORDING / "session_3min.csv", [args.user],
                            args.seconds, name="someone-else")
        logins = run_tour(args.url, owner, COLLECTOR_DIR, args.out)
        logins += run_tour(args.url, other, COLLECTOR_DIR, args.out)
    except (TourError, OSError, ValueError) as exc:
        print(f"cursorprint site screenshots: {exc}", file=sys.stderr)
        return 1
    for got in logins:
        print(json.dumps({k: got.get(k) for k in ("user", "first", "decision", "score",
                                                  "reasons", "via")}))
    print(f"screenshots in {args.out}", flush=True)
    return 0
