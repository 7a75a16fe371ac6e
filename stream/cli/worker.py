"""``cursorprint worker ROLE``: one Faust stream worker (sessionizer, scorer or all)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cursorprint.stream.cli.argtypes import tcp_port

__all__ = ["register"]


def register(sub: Any) -> None:
    w = sub.add_parser("worker", help="run a stream worker (Faust): sessionizer, scorer or all")
    w.add_argument("role", choices=["sessionizer", "scorer", "all"])
    w.add_argument("--web-port", type=tcp_port, default=None,
                   help="port of /metrics, /healthz, /readyz (default CURSORPRINT_WORKER_WEB_PORT)")
    w.add_argument("--model", type=Path, default=None, metavar="DIR",
                   help="model directory (default CURSORPRINT_MODEL_DIR)")
    w.set_defaults(handler=_worker)


def _worker(args: argparse.Namespace) -> int:
    from cursorprint.stream.settings import ROLE_SECTIONS, load_settings

    settings = load_settings(sections=ROLE_SECTIONS[args.role])
    if args.web_port is not None:
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
