"""The ``cursorprint`` command line: one module per command group, argument types in one place."""

from cursorprint.stream.cli.root import build_parser, main

__all__ = ["main", "build_parser"]
