"""Where the tests find the repository's parts and the shared data sets (never copied in)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["REPO", "DATASETS", "COLLECTOR_DIR"]

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO.parent / "shared" / "datasets"
COLLECTOR_DIR = REPO / "collector_js"
