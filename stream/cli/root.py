"""The ``cursorprint`` command line.

Sub-commands live next to the code they drive; each module listed in ``COMMAND_MODULES`` has a
``register(subparsers)`` function. Heavy imports (TensorFlow, Faust) happen inside the command
handlers, so ``cursorprint --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from cursorprint.stream.settings import SettingsError, load_settings

__all__ = ["main", "build_parser"]

COMMAND_MODULES = [
    "cursorprint.stream.cli.stack",
    "cursorprint.stream.cli.ingest",
    "cursorprint.stream.cli.model",
    "cursorprint.stream.cli.worker",
    "cursorprint.stream.cli.enroll",
    "cursorprint.stream.cli.playback",
    "cursorprint.stream.cli.bots",
    "cursorprint.stream.cli.decide",
    "cursorprint.stream.cli.site",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cursorprint",
        description="Streaming behavioural-biometrics fraud detector. Settings come from "
                    "CURSORPRINT_* environment variables (see `cursorprint settings`).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    settings = sub.add_parser("settings", help="print every setting with its current value")
    settings.set_defaults(handler=_print_settings)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _print_settings(args: argparse.Namespace) -> int:
    for var, value in load_settings().values().items():
        print(f"{var}={value}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(sections=("general",))
    except SettingsError as exc:
        print(f"cursorprint: bad setting: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("kafka", "aiokafka"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        return int(args.handler(args) or 0)
    except SettingsError as exc:
        print(f"cursorprint: bad setting: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
