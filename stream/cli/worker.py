"""``cursorprint worker``, ``cursorprint enroll``, ``cursorprint replay balabit`` and
``cursorprint run`` (the main job: stack, model, ingest, workers, a Balabit replay, results)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cursorprint.stream.cli.argtypes import positive_int

__all__ = ["register"]


def _speed(text: str) -> float:
    raw = text[1:] if text.startswith("x") else text
    try:
        v = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--speed {text!r}: expected xN, e.g. x10 (x0: as fast "
                                         "as possible)") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"--speed {text!r}: must be >= 0")
    return v


def register(sub: Any) -> None:
    w = sub.add_parser("worker", help="run a stream worker (Faust): sessionizer, scorer or all")
    w.add_argument("role", choices=["sessionizer", "scorer", "all"])
    w.add_argument("--web-port", type=int, default=None,
                   help="port of /metrics, /healthz, /readyz (default CURSORPRINT_WORKER_WEB_PORT)")
    w.add_argument("--model", type=Path, default=None, metavar="DIR",
                   help="model directory (default CURSORPRINT_MODEL_DIR)")
    w.set_defaults(handler=_worker)

    e = sub.add_parser("enroll", help="fit a user's head from trusted sessions and store it")
    who = e.add_mutually_exclusive_group(required=True)
    who.add_argument("--user-key", help="pseudonymous user key (32 hex digits)")
    who.add_argument("--user", help="the site's user id (needs --site)")
    e.add_argument("--site", help="site key (with --user)")
    e.add_argument("--session", type=Path, nargs="+", required=True, metavar="FILE",
                   help="trusted sessions: Balabit/SapiMouse CSV or sessions-topic JSON records")
    e.add_argument("--model", type=Path, default=None, metavar="DIR")
    e.set_defaults(handler=_enroll)

    r = sub.add_parser("replay", help="replay recorded sessions through ingest -> Kafka -> agents")
    rsub = r.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    b = rsub.add_parser("balabit", help="replay Balabit test sessions as collector batches")
    b.add_argument("--data", type=Path, required=True, metavar="DIR")
    b.add_argument("--labels", type=Path, metavar="CSV", help="labels_dev.csv: AUC at the end, "
                   "and only labelled sessions are replayed")
    b.add_argument("--speed", type=_speed, default=0.0, metavar="xN",
                   help="x1 real time, x10 ten times faster, x0 (default) as fast as possible")
    b.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="replay at most N sessions")
    b.add_argument("--ingest", default=None, metavar="URL",
                   help="ingest base URL (default http://CURSORPRINT_INGEST_HOST:PORT)")
    b.add_argument("--site", default="demo", help="site key the batches are sent for")
    b.add_argument("--timeout", type=float, default=300.0,
                   help="seconds to wait for the last score")
    b.add_argument("--out", type=Path, default=None, metavar="JSON",
                   help="also write the per-session scores here")
    b.set_defaults(handler=_replay)

    run = sub.add_parser("run", help="the main job: local stack, a model (trained if missing), "
                                     "ingest + workers, a Balabit replay with results")
    run.add_argument("--data", type=Path, default=None, metavar="DIR",
                     help="Balabit folder (default ../shared/datasets/balabit)")
    run.add_argument("--limit", type=positive_int, default=40, metavar="N")
    run.add_argument("--keep", action="store_true", help="leave ingest + workers running "
                     "(demo page) until Ctrl-C")
    run.set_defaults(handler=_run)


def _worker(args: argparse.Namespace) -> int:
    from cursorprint.stream.settings import ROLE_SECTIONS, load_settings

    settings = load_settings(sections=ROLE_SECTIONS[args.role])
    if args.web_port is not None:
        if not 0 < args.web_port < 65536:
            print(f"cursorprint worker: --web-port {args.web_port}: not a TCP port",
                  file=sys.stderr)
            return 2
        settings = settings.replace(worker_web_port=args.web_port)
    model_dir = args.model or settings.scorer.model_dir
    if args.role in ("scorer", "all") and not (Path(model_dir) / "model.json").is_file():
        print(f"cursorprint worker: no model in {model_dir} (run `cursorprint train "
              "--synthetic` or set CURSORPRINT_MODEL_DIR)", file=sys.stderr)
        return 2
    from faust import Worker

    from cursorprint.stream.worker.app import create_app

    app = create_app(settings, args.role, model_dir=Path(model_dir))
    worker = Worker(app, loglevel=settings.log_level.upper())
    worker.execute_from_commandline()
    return 0


def _enroll(args: argparse.Namespace) -> int:
    import re

    import redis

    from cursorprint.model.data.datasets import DatasetError
    from cursorprint.model.nets.modeldir import ModelDirError
    from cursorprint.model.serving.explain import load_session_file
    from cursorprint.model.serving.scoring import SessionScorer
    from cursorprint.stream.enroll.enroller import Enroller
    from cursorprint.stream.ingest.identity import user_key
    from cursorprint.stream.settings import load_settings
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
    enroller = Enroller(model, heads, redis.Redis.from_url(settings.redis.url))
    version, n = enroller.add_sessions(key, trajs)
    if version is None:
        print(f"cursorprint enroll: only {n} trusted windows so far; a head needs more "
              "(add longer or more sessions)", file=sys.stderr)
        return 3
    print(f"enrolled user key {key}: head {version} from {n} trusted windows")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from cursorprint.stream.devtools.playback import PlaybackError, replay_balabit_cli

    try:
        return replay_balabit_cli(args)
    except PlaybackError as exc:
        print(f"cursorprint replay: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from cursorprint.stream.devtools.main_job import main_job

    return main_job(args)
