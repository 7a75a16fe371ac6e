"""Scorer images/s as a ratio to the bare model forward pass, measured in one run.

The scorer path is :meth:`MicroBatchScorer.score_batch` on ``sessions`` records (decode,
rasterize every window, ONE backbone call per micro-batch, heads, score/alert records); the
bare path is ``SessionScorer.embed`` on the same, already rasterized, images at the same
micro-batch and image size. Records are real Balabit test sessions (goal: ratio >= 0.9).

    python bench/scorer_throughput.py [--model DIR] [--sessions 64] [--batch 16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from cursorprint.model.serving.scoring import SessionScorer
from cursorprint.stream.devtools.playback import load_balabit_sessions, wire_trajectory
from cursorprint.stream.records.session import SessionRecord
from cursorprint.stream.score.microbatch import MicroBatchScorer

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "datasets" / "balabit"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=REPO / ".cursorprint" / "models" / "current")
    ap.add_argument("--sessions", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16, help="sessions per micro-batch")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="cp-bench-")
    model_dir = args.model
    if not (model_dir / "model.json").is_file():
        from cursorprint.model.data.synthetic import synth_users
        from cursorprint.model.training.train import SYNTHETIC_CONFIG, train_model
        model_dir = Path(tmp.name) / "model"
        print(f"no model in {args.model}: training a tiny synthetic one", flush=True)
        train_model(synth_users(3, 2, 1500, seed=3), model_dir,
                    replace(SYNTHETIC_CONFIG, epochs=1, progress=False))
    model = SessionScorer.load(model_dir)
    sessions = load_balabit_sessions(DATA, None, args.sessions)
    values = []
    for i, s in enumerate(sessions):
        tr = wire_trajectory(s.traj)
        values.append(SessionRecord.from_trajectory(
            tr, session_id=f"bench-{i}", user="0" * 32, site="demo").to_bytes())
    batches = [values[i:i + args.batch] for i in range(0, len(values), args.batch)]
    images = [np.concatenate([model.images(SessionRecord.from_bytes(v).to_trajectory())
                              for v in b]) for b in batches]
    n_images = sum(len(i) for i in images)
    mbs = MicroBatchScorer(model, lambda _site: 0.8)
    mbs.score_batch(batches[0])          # warm-up (graph tracing)
    model.embed(images[0])
    t_bare, t_scorer = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for imgs in images:
            model.embed(imgs)
        t_bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for b in batches:
            mbs.score_batch(b)
        t_scorer.append(time.perf_counter() - t0)
    bare, scorer = n_images / min(t_bare), n_images / min(t_scorer)
    print(f"model {model.model_version} image {model.image_shape}, {len(values)} sessions, "
          f"{n_images} window images, {args.batch} sessions per micro-batch "
          f"(~{n_images / len(batches):.0f} images per backbone call), best of {args.repeat}")
    print(f"bare forward pass : {bare:10,.0f} images/s")
    print(f"scorer micro-batch: {scorer:10,.0f} images/s")
    print(f"ratio scorer/bare = {scorer / bare:.3f} (goal >= 0.9)")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
