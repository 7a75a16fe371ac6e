"""``cursorprint train``, ``cursorprint evaluate balabit|sapimouse|remote-access`` and
``cursorprint explain``.

Registered through ``COMMAND_MODULES`` in :mod:`cursorprint.stream.cli`; TensorFlow is imported
inside the handlers only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cursorprint.stream.cli.argtypes import non_negative_int, positive_int

__all__ = ["register"]

DEFAULT_OUT = ".cursorprint/models/current"


def _window_events(text: str) -> int:
    v = positive_int(text)
    if v < 8:
        raise argparse.ArgumentTypeError(f"a window needs at least 8 events, got {text!r}")
    return v


def _weights(text: str) -> str | None:
    return None if text.lower() == "none" else text


def _add_model_options(p: Any) -> None:
    """Training knobs shared by ``train`` and ``evaluate`` (defaults: TrainConfig)."""
    from cursorprint.model.features.raster import ENCODINGS

    p.add_argument("--image-size", type=positive_int, default=None)
    p.add_argument("--blocks", type=positive_int, default=None, help="VGG16 blocks kept (1-5)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="fine-tuning epochs of the backbone pretraining")
    p.add_argument("--frozen-epochs", type=non_negative_int, default=None,
                   help="epochs with the VGG16 blocks frozen before fine-tuning")
    p.add_argument("--windows-per-user", type=positive_int, default=None,
                   help="pretraining windows per user")
    p.add_argument("--augment-copies", type=non_negative_int, default=None,
                   help="augmented copies of each pretraining window (0: real windows only)")
    p.add_argument("--head-windows-per-user", type=positive_int, default=None,
                   help="windows per user embedded to fit the per-user heads")
    p.add_argument("--window-events", type=_window_events, default=None,
                   help="events per window (stride half of it, shortest a quarter)")
    p.add_argument("--frame", choices=("bbox", "screen"), default=None,
                   help="raster frame: each window's bounding box or the whole screen")
    p.add_argument("--encoding", choices=ENCODINGS, default=None,
                   help="raster encoding: speed colour only, or also time in green")
    p.add_argument("--motion-features", action=argparse.BooleanOptionalAction, default=None,
                   help="heads also see each window's motion statistics (default: on, off for "
                        "the synthetic demo model)")
    p.add_argument("--seed", type=int, default=0)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """TrainConfig fields set on the command line."""
    from cursorprint.model.features.windows import WindowRule

    out: dict[str, Any] = {"seed": args.seed}
    for name, field in (("image_size", "image_size"), ("blocks", "blocks"), ("epochs", "epochs"),
                        ("frozen_epochs", "epochs_frozen"),
                        ("windows_per_user", "max_windows_per_user"), ("frame", "frame"),
                        ("encoding", "encoding"), ("augment_copies", "augment_copies"),
                        ("head_windows_per_user", "head_windows_per_user"),
                        ("motion_features", "motion_features")):
        if getattr(args, name, None) is not None:
            out[field] = getattr(args, name)
    if args.window_events is not None:
        n = args.window_events
        out["rule"] = WindowRule(events=n, stride=max(1, n // 2), min_events=max(1, n // 4))
    return out


def register(sub: Any) -> None:
    tr = sub.add_parser("train", help="train the backbone and per-user heads; write a model dir")
    src = tr.add_mutually_exclusive_group(required=True)
    src.add_argument("--synthetic", action="store_true",
                     help="quick tiny model on synthetic users (about a minute)")
    src.add_argument("--balabit", type=Path, metavar="DIR",
                     help="Balabit data set folder (uses training_files only)")
    tr.add_argument("--sapimouse", type=Path, metavar="DIR",
                    help="also pretrain the backbone on SapiMouse's 120 users")
    tr.add_argument("--out", type=Path, default=Path(DEFAULT_OUT), help="model directory")
    tr.add_argument("--weights", type=_weights, default=None,
                    help="none (default), imagenet, or a local VGG16 weights file")
    _add_model_options(tr)
    tr.set_defaults(handler=_train)

    ev = sub.add_parser("evaluate", help="evaluate on a public data set")
    evsub = ev.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    bal = evsub.add_parser("balabit", help="Balabit challenge protocol: score every test session")
    bal.add_argument("--data", type=Path, required=True, metavar="DIR",
                     help="Balabit folder (training_files/, test_files/)")
    bal.add_argument("--labels", type=Path, metavar="CSV", help="labels_dev.csv for metrics")
    bal.add_argument("--out", type=Path, required=True, metavar="DIR")
    bal.add_argument("--model", type=Path, metavar="DIR",
                     help="use a trained model dir instead of training on training_files")
    bal.add_argument("--refit-heads", action="store_true",
                     help="with --model: fit the Balabit users' heads on training_files on that "
                          "model's backbone (a backbone trained elsewhere, e.g. SapiMouse only)")
    bal.add_argument("--sapimouse", "--pretrain-sapimouse", type=Path, metavar="DIR",
                     help="also pretrain the backbone on SapiMouse's 120 users")
    _add_model_options(bal)
    bal.set_defaults(handler=_evaluate_balabit)

    sap = evsub.add_parser("sapimouse", help="SapiMouse protocol: backbone on users 1-72, heads "
                                             "on 73-120's 3-minute sessions, AUC by seconds")
    sap.add_argument("--data", type=Path, required=True, metavar="DIR", help="SapiMouse folder")
    sap.add_argument("--out", type=Path, required=True, metavar="DIR")
    sap.add_argument("--balabit", type=Path, metavar="DIR",
                     help="also train the backbone on Balabit's training_files")
    sap.add_argument("--model", type=Path, metavar="DIR",
                     help="use a model trained by this command (its backbone must not have "
                          "seen the test users) instead of training one")
    sap.add_argument("--split", choices=("published", "validation"), default="published",
                     help="published: backbone 1-72, test 73-120; validation: backbone 1-56, "
                          "test 57-72 (where choices are tuned)")
    _add_model_options(sap)
    sap.set_defaults(handler=_evaluate_sapimouse)

    ra = evsub.add_parser("remote-access",
                          help="flag rate of remote_access_suspected: Balabit (remote desktop) "
                               "vs SapiMouse (browser), training and held-out parts")
    ra.add_argument("--balabit", type=Path, default=Path("../shared/datasets/balabit"),
                    metavar="DIR", help="Balabit folder (training_files/, test_files/)")
    ra.add_argument("--sapimouse", type=Path, default=Path("../shared/datasets/sapimouse"),
                    metavar="DIR", help="SapiMouse folder")
    ra.add_argument("--out", type=Path, required=True, metavar="DIR")
    ra.set_defaults(handler=_evaluate_remote_access)

    ex = sub.add_parser("explain", help="saliency heatmap PNG of a scored session")
    ex.add_argument("--session", type=Path, required=True, metavar="FILE",
                    help="Balabit/SapiMouse CSV or a sessions-topic record (JSON)")
    ex.add_argument("--user", required=True, help="account (head) to score the session against")
    ex.add_argument("--model", type=Path, default=Path(DEFAULT_OUT), metavar="DIR")
    ex.add_argument("--out", type=Path, required=True, metavar="PNG")
    ex.add_argument("--top", type=positive_int, default=4, help="windows shown")
    ex.add_argument("--heatmaps", type=Path, metavar="DIR",
                    help="also write one image-sized heatmap PNG per shown window here")
    ex.set_defaults(handler=_explain)


def _check_dir(path: Path | None, what: str) -> None:
    if path is not None and not path.is_dir():
        print(f"cursorprint: {what} folder {path} does not exist", file=sys.stderr)
        raise SystemExit(2)


def _train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from cursorprint.model.training import train

    _check_dir(args.balabit, "--balabit")
    _check_dir(args.sapimouse, "--sapimouse")
    overrides = _overrides(args)
    if args.weights is not None:
        overrides["weights"] = args.weights
    if args.synthetic:
        cfg = replace(train.SYNTHETIC_CONFIG, **overrides)
        from cursorprint.model.data.synthetic import synth_users
        info = train.train_model(synth_users(6, 3, 5000, seed=args.seed), args.out, cfg,
                                 extra={"synthetic": True, "data": "6 synthetic users"})
    else:
        from cursorprint.model.data import datasets
        from cursorprint.model.evaluation.sapimouse import sapimouse_seen
        cfg = replace(train.TrainConfig(), **overrides)
        trajs = datasets.load_balabit(args.balabit, "training_files")
        pre = datasets.load_sapimouse(args.sapimouse) if args.sapimouse else None
        info = train.train_model(trajs, args.out, cfg, pretrain_trajs=pre,
                                 extra={"data": f"balabit training_files ({args.balabit})",
                                        **sapimouse_seen(pre)})
    print(f"model {info.version} written to {args.out} "
          f"({len(info.users)} user heads, {info.extra.get('train_seconds')} s)")
    return 0


def _evaluate_balabit(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from cursorprint.model.training import train
    from cursorprint.model.training.evaluate import evaluate_balabit

    _check_dir(args.data, "--data")
    _check_dir(args.model, "--model")
    _check_dir(args.sapimouse, "--sapimouse")
    if args.labels is not None and not args.labels.is_file():
        print(f"cursorprint: --labels file {args.labels} does not exist", file=sys.stderr)
        return 2
    if args.refit_heads and args.model is None:
        print("cursorprint: --refit-heads needs --model DIR (a trained model's backbone)",
              file=sys.stderr)
        return 2
    cfg = replace(train.TrainConfig(), **_overrides(args))
    report = evaluate_balabit(args.data, args.out, labels=args.labels, model_dir=args.model,
                              train_cfg=cfg, sapimouse=args.sapimouse,
                              refit_heads=args.refit_heads)
    print(json.dumps({k: v for k, v in report.items() if k != "per_user_auc"}, indent=2))
    return 0


def _evaluate_sapimouse(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from cursorprint.model.data.datasets import DatasetError
    from cursorprint.model.evaluation.protocol import PUBLISHED, VALIDATION
    from cursorprint.model.evaluation.sapimouse import evaluate_sapimouse
    from cursorprint.model.nets.modeldir import ModelDirError
    from cursorprint.model.training import train

    _check_dir(args.data, "--data")
    _check_dir(args.model, "--model")
    _check_dir(args.balabit, "--balabit")
    cfg = replace(train.TrainConfig(), **_overrides(args))
    split = PUBLISHED if args.split == "published" else VALIDATION
    try:
        report = evaluate_sapimouse(args.data, args.out, split=split, balabit=args.balabit,
                                    model_dir=args.model, train_cfg=cfg)
    except (DatasetError, ModelDirError) as exc:
        print(f"cursorprint: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0


def _evaluate_remote_access(args: argparse.Namespace) -> int:
    import json

    from cursorprint.model.data.datasets import DatasetError
    from cursorprint.model.evaluation.remote_access import evaluate_remote_access

    _check_dir(args.balabit, "--balabit")
    _check_dir(args.sapimouse, "--sapimouse")
    try:
        report = evaluate_remote_access(args.balabit, args.sapimouse, args.out)
    except DatasetError as exc:
        print(f"cursorprint: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: {"flagged": v["flagged"], "sessions": v["sessions"],
                          "flag_rate": v["flag_rate"]} for k, v in report["parts"].items()},
                     indent=2))
    return 0


def _explain(args: argparse.Namespace) -> int:
    import json

    from cursorprint.model.data.datasets import DatasetError
    from cursorprint.model.nets.modeldir import ModelDirError
    from cursorprint.model.serving.explain import explain_to_png, load_session_file
    from cursorprint.model.serving.scoring import SessionScorer

    try:
        traj = load_session_file(args.session)
        scorer = SessionScorer.load(args.model)
        summary = explain_to_png(scorer, args.user, traj, args.out, args.top, args.heatmaps)
    except (DatasetError, ModelDirError) as exc:
        print(f"cursorprint: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0
