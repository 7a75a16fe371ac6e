"""``cursorprint playback balabit`` (recorded sessions through the running pipeline),
``cursorprint replay sapimouse`` (time to detect on the live path) and ``cursorprint run``
(the main job: stack, model, ingest, workers, a Balabit playback, results)."""

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

    rp = sub.add_parser("replay", help="replay recorded sessions through the running pipeline "
                        "as genuine and impostor attempts: time to detect")
    rpsub = rp.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    sm = rpsub.add_parser("sapimouse", help="SapiMouse 1-minute sessions of users 73-120, each "
                          "as its owner and as other enrolled users; report.json, attempts.csv "
                          "and time_to_detect.png in --out")
    sm.add_argument("--data", type=Path, default=None, metavar="DIR",
                    help="SapiMouse folder (default CURSORPRINT_DATA_DIR/sapimouse)")
    sm.add_argument("--model", type=Path, default=None, metavar="DIR",
                    help="the model the running scorer uses, backbone on users 1-72 (default "
                         "CURSORPRINT_MODEL_DIR); heads for users 73-120 are enrolled on it "
                         "and put in the head store")
    sm.add_argument("--out", type=Path, required=True, metavar="DIR")
    sm.add_argument("--users", type=positive_int, default=None, metavar="N",
                    help="only the first N test users (default all 48)")
    sm.add_argument("--impostors", type=positive_int, default=3, metavar="K",
                    help="impostor attempts per session (claimed users drawn with --seed)")
    sm.add_argument("--seed", type=int, default=0)
    sm.add_argument("--speed", type=_speed, default=0.0, metavar="xN",
                    help="x1 real time, x0 (default) as fast as possible: windows follow the "
                         "events' own clock, so the speed does not change them")
    sm.add_argument("--ingest", default=None, metavar="URL",
                    help="ingest base URL (default http://CURSORPRINT_INGEST_HOST:PORT)")
    sm.add_argument("--site", default="demo", help="site key the batches are sent for")
    sm.add_argument("--timeout", type=float, default=900.0,
                    help="seconds to wait for the last score")
    sm.set_defaults(handler=_replay)
    bb = rpsub.add_parser("balabit", help="labelled Balabit test sessions under their account "
                          "(legal: genuine, illegal: impostor), the model's own user heads")
    bb.add_argument("--data", type=Path, default=None, metavar="DIR",
                    help="Balabit folder (default CURSORPRINT_DATA_DIR/balabit)")
    bb.add_argument("--labels", type=Path, default=None, metavar="CSV",
                    help="labels (default DATA/labels_dev.csv)")
    bb.add_argument("--model", type=Path, default=None, metavar="DIR",
                    help="the model the running scorer uses (default CURSORPRINT_MODEL_DIR)")
    bb.add_argument("--out", type=Path, required=True, metavar="DIR")
    bb.add_argument("--limit", type=positive_int, default=None, metavar="N",
                    help="at most N sessions (users interleaved)")
    bb.add_argument("--speed", type=_speed, default=0.0, metavar="xN")
    bb.add_argument("--ingest", default=None, metavar="URL")
    bb.add_argument("--site", default="demo")
    bb.add_argument("--timeout", type=float, default=1800.0)
    bb.set_defaults(handler=_replay)

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


def _replay(args: argparse.Namespace) -> int:
    import json

    from cursorprint.model.nets.modeldir import ModelDirError
    from cursorprint.stream.devtools.playback import PlaybackError
    from cursorprint.stream.devtools.replay import replay_balabit, replay_sapimouse
    from cursorprint.stream.settings import SettingsError, load_settings

    try:
        data = args.data or load_settings(sections=("general",)).general.dataset(args.dataset)
        if args.dataset == "sapimouse":
            report = replay_sapimouse(data, args.out, model_dir=args.model, users=args.users,
                                      impostors=args.impostors, ingest=args.ingest,
                                      site=args.site, speed=args.speed,
                                      timeout_s=args.timeout, seed=args.seed)
        else:
            report = replay_balabit(data, args.labels or data / "labels_dev.csv", args.out,
                                    model_dir=args.model, limit=args.limit,
                                    ingest=args.ingest, site=args.site, speed=args.speed,
                                    timeout_s=args.timeout)
    except (PlaybackError, SettingsError, ModelDirError) as exc:
        print(f"cursorprint replay: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: report[k] for k in ("operating_points", "cadence")}, indent=2))
    return 0


def _run(args: argparse.Namespace) -> int:
    from cursorprint.stream.devtools.main_job import main_job

    return main_job(data=args.data, limit=args.limit, keep=args.keep)
