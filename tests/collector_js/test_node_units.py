"""The collector's own node unit tests (encoding, queue) and its size budget, run under pytest."""

from __future__ import annotations

import gzip
import subprocess

from tests.support.paths import COLLECTOR_DIR

BUDGET_BYTES = 3 * 1024


def test_node_unit_tests_pass() -> None:
    run = subprocess.run(["node", "--test", "test/"], cwd=COLLECTOR_DIR, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout


def test_bundles_build_and_fit_the_size_budget() -> None:
    assert (COLLECTOR_DIR / "node_modules" / "esbuild").is_dir(), "run `npm ci` in collector_js"
    subprocess.run(["npm", "run", "--silent", "build"], cwd=COLLECTOR_DIR, check=True, timeout=60)
    for name in ("cursorprint.min.js", "cursorprint.esm.js"):
        raw = (COLLECTOR_DIR / "dist" / name).read_bytes()
        size = len(gzip.compress(raw, compresslevel=9))
        assert size <= BUDGET_BYTES, f"{name}: {size} bytes min+gzip, budget {BUDGET_BYTES}"
    assert b"cursorprint" in (COLLECTOR_DIR / "dist" / "cursorprint.min.js").read_bytes()
    assert b"export" in (COLLECTOR_DIR / "dist" / "cursorprint.esm.js").read_bytes()


def test_bundles_are_csp_safe() -> None:
    """Nothing a strict Content-Security-Policy blocks without 'unsafe-eval' or a worker-src:
    (tests/collector_js/test_real_pages.py runs the collector under such a policy)."""
    subprocess.run(["npm", "run", "--silent", "build"], cwd=COLLECTOR_DIR, check=True, timeout=60)
    for name in ("cursorprint.min.js", "cursorprint.esm.js"):
        code = (COLLECTOR_DIR / "dist" / name).read_text()
        for banned in ("eval(", "Function(", "Worker(", "importScripts", "javascript:",
                       "innerHTML", "setAttribute(\"style", ".style"):
            assert banned not in code, f"{name} uses {banned}"
