"""``cursorprint enroll``: fit a user's head from trusted session files and store it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    e = sub.add_parser("enroll", help="fit a user's head from trusted sessions and store it")
    who = e.add_mutually_exclusive_group(required=True)
    who.add_argument("--user-key", help="pseudonymous user key (32 hex digits)")
    who.add_argument("--user", help="the site's user id (needs --site)")
    e.add_argument("--site", help="site key (with --user)")
    e.add_argument("--session", type=Path, nargs="+", required=True, metavar="FILE",
                   help="trusted sessions: Balabit/SapiMouse CSV or sessions-topic JSON records")
    e.add_argument("--model", type=Path, default=None, metavar="DIR")
    e.set_defaults(handler=_enroll)


def _enroll(args: argparse.Namespace) -> int:
    import re

    from cursorprint.model.data.datasets import DatasetError
    from cursorprint.model.nets.modeldir import ModelDirError
    from cursorprint.model.serving.explain import load_session_file
    from cursorprint.model.serving.scoring import SessionScorer
    from cursorprint.stream.enroll.enroller import Enroller
    from cursorprint.stream.ingest.identity import user_key
    from cursorprint.stream.settings import load_settings
    from cursorprint.stream.stores.enrolments import RedisEnrolments
    from cursorprint.stream.stores.heads import HeadStore

    settings = load_settings()
    if args.user is not None:
        sites = settings.ingest.site_configs()
        if args.site not in sites:
            print(f"cursorprint enroll: --site {args.site!r}: unknown site (configured: "
                  f"{', '.join(sorted(sites))})", file=sys.stderr)
            return 2
        key = user_key(args.site, args.user, settings.ingest.pseudonym_secret)
    else:
        key = args.user_key
        if not re.fullmatch(r"[0-9a-f]{32}", key):
            print(f"cursorprint enroll: --user-key {key!r}: expected 32 hex digits",
                  file=sys.stderr)
            return 2
    try:
        trajs = [load_session_file(p) for p in args.session]
        heads = HeadStore(settings.redis.url, ttl_s=settings.scorer.head_cache_ttl_s)
        model = SessionScorer.load(args.model or settings.scorer.model_dir, heads=heads)
    except (DatasetError, ModelDirError, OSError) as exc:
        print(f"cursorprint enroll: {exc}", file=sys.stderr)
        return 2
    enroller = Enroller(model, heads, RedisEnrolments.from_url(settings.redis.url))
    version, n = enroller.add_sessions(key, trajs)
    if version is None:
        print(f"cursorprint enroll: only {n} trusted windows so far; a head needs more "
              "(add longer or more sessions)", file=sys.stderr)
        return 3
    print(f"enrolled user key {key}: head {version} from {n} trusted windows")
    return 0
