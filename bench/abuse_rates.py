"""Flag rates of the abuse checks (stream/score/scripted.py, replayed.py): synthetic people vs
scripts, real Balabit sessions, replays.

Starts a private redis-server (free port, no persistence) for the replay part. Not a pass/fail
test: run it and report what it prints.

    python bench/abuse_rates.py [--balabit ../shared/datasets/balabit] [--every 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import redis

from cursorprint.model.data.datasets import read_balabit_session
from cursorprint.model.data.synthetic import random_style, scripted_style, synth_session
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.stream.devtools.stack import Stack, StackError, free_port
from cursorprint.stream.score.replayed import ReplayDetector
from cursorprint.stream.score.scripted import scripted_reasons
from cursorprint.stream.settings import load_settings
from cursorprint.stream.stores.fingerprints import RedisFingerprints

REPO = Path(__file__).resolve().parent.parent




def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--balabit", type=Path, default=REPO.parent / "shared/datasets/balabit")
    ap.add_argument("--every", type=int, default=8, help="use every N-th Balabit test session")
    args = ap.parse_args()
    files = sorted((args.balabit / "test_files").glob("user*/session_*"))[::max(1, args.every)]
    if not files:
        print(f"abuse_rates: no Balabit test sessions under {args.balabit}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(1)
    people = [synth_session(rng, random_style(rng), 600) for _ in range(200)]
    scripts = [synth_session(rng, scripted_style(rng), 600) for _ in range(100)]
    print(f"synthetic people flagged : {sum(bool(scripted_reasons(t)) for t in people)}/200")
    print(f"synthetic scripts flagged: {sum(len(scripted_reasons(t)) >= 3 for t in scripts)}/100 "
          "(all three of straight / constant speed / no jitter)")
    real = [read_balabit_session(f) for f in files]
    flagged = sum(bool(scripted_reasons(t)) for t in real)
    print(f"Balabit sessions flagged : {flagged}/{len(real)} (any scripted-movement code)")

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = Stack(load_settings(environ={}, home=Path(tmp), redis_port=port,
                                     redis_url=f"redis://127.0.0.1:{port}/0"))
        try:
            server.start_redis()           # the project's launcher: waits for PING
        except StackError as exc:
            print(f"abuse_rates: the replay part needs redis-server: {exc}", file=sys.stderr)
            return 2
        try:
            client = redis.Redis(port=port)
            det = ReplayDetector(RedisFingerprints(client, ttl_s=600))
            sims = [det.check_and_remember(f"s{i}", t, "site").similarity
                    for i, t in enumerate(real)]
            hits, rsims = 0, []
            for j, t in enumerate(real[:40]):
                jit = rng.normal(0, 0.002, len(t))
                rep = Trajectory.from_columns(np.maximum.accumulate(t.t + 500 + jit), t.x + 37,
                                              t.y - 12, t.kind, t.button, t.screen)
                v = det.check_and_remember(f"replay{j}", rep, "site")
                hits += bool(v.reasons)
                rsims.append(v.similarity)
            keys = client.dbsize()
            mem = client.info("memory")["used_memory"]
        finally:
            server.stop_redis()
    print(f"replay similarity among {len(real)} real sessions: max {max(sims):.2f}, "
          f"p99 {np.percentile(sims, 99):.2f}")
    print(f"replays flagged: {hits}/{len(rsims)}, min similarity {min(rsims):.2f}")
    print(f"Redis: {keys} keys, {mem / 2**20:.1f} MB for {len(real) + len(rsims)} sessions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
