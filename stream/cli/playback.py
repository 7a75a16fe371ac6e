"""``cursorprint playback balabit`` (recorded sessions through the running pipeline) and
``cursorprint run`` (the main job: stack, model, ingest, workers, a Balabit playback, results)."""

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
    r = sub.add_parser("playback", help="play recorded sessions back through ingest -> Kafka -> agents")
    rsub = r.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    b = rsub.add_parser("balabit", help="play Balabit test sessions back as collector batches")
    b.add_argument("--data", type=Path, required=True, metavar="DIR")
    b.add_argument("--labels", type=Path, metavar="CSV", help="labels_dev.csv: AUC at the end, "
                   "and only labelled sessions are played back")
    b.add_argument("--speed", type=_speed, default=0.0, metavar="xN",
                   help="x1 real time, x10 ten times faster, x0 (default) as fast as possible")
    b.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="play back at most N sessions")
    b.add_argument("--ingest", default=None, metavar="URL",
                   help="ingest base URL (default http://CURSORPRINT_INGEST_HOST:PORT)")
    b.add_argument("--site", default="demo", help="site key the batches are sent for")
    b.add_argument("--timeout", type=float, default=300.0,
                   help="seconds to wait for the last score")
    b.add_argument("--out", type=Path, default=None, metavar="JSON",
                   help="also write the per-session scores here")
    b.set_defaults(handler=_playback)

    run = sub.add_parser("run", help="the main job: local stack, a model (trained if missing), "
                                     "ingest + workers, a Balabit playback with results")
    run.add_argument("--data", type=Path, default=None, metavar="DIR",
                     help="Balabit folder (default CURSORPRINT_DATA_DIR/balabit)")
    run.add_argument("--limit", type=positive_int, default=40, metavar="N")
    run.add_argument("--keep", action="store_true", help="leave ingest + workers running "
                     "(demo page) until Ctrl-C")
    run.set_defaults(handler=_run)


def _playback(args: argparse.Namespace) -> int:
    from cursorprint.stream.devtools.playback import PlaybackError, playback_balabit

    try:
        report = playback_balabit(args.data, labels=args.labels, limit=args.limit,
                                  ingest=args.ingest, site=args.site, speed=args.speed,
                                  timeout_s=args.timeout, out=args.out)
    except PlaybackError as exc:
        print(f"cursorprint playback: {exc}", file=sys.stderr)
        return 2
    return 0 if not report.missing and not report.rejected else 1


def _run(args: argparse.Namespace) -> int:
    from cursorprint.stream.devtools.main_job import main_job

    return main_job(data=args.data, limit=args.limit, keep=args.keep)
