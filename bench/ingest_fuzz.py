"""Long hypothesis fuzz of the ingest API (default 10,000 requests) on a private real stack.

Runs the CI fuzz test (tests/stream/ingest/test_fuzz.py) with INGEST_FUZZ_EXAMPLES raised.

    python bench/ingest_fuzz.py [N]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    n = sys.argv[1] if len(sys.argv) > 1 else "10000"
    env = dict(os.environ, INGEST_FUZZ_EXAMPLES=n)
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "tests/stream/ingest/test_fuzz.py"], cwd=REPO, env=env))
