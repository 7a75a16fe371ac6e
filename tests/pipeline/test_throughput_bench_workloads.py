"""The workloads of ``bench/pipeline_throughput.py``: what it sends is what a collector sends.

No timing here (that is the bench's job): the SapiMouse-rate messages are valid records, cut
into the collector's one-second batches, in order per page session, and denser than Balabit's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.pipeline_throughput import (
    Workload,
    baseline_tree,
    interleave,
    records,
    sapimouse_sessions,
)
from cursorprint.stream.devtools.playback import load_balabit_sessions
from cursorprint.stream.records.wire import PointerBatchRecord
from cursorprint.stream.settings import load_settings


def _check(work: Workload) -> list[list[PointerBatchRecord]]:
    recs = [[PointerBatchRecord.from_bytes(v) for _, v in msgs] for msgs in work.per_session]
    assert {r[0].sid for r in recs} == work.sids and len(work.sids) == len(recs)
    assert sum(r.n_events for rs in recs for r in rs) == work.events
    for msgs, rs in zip(work.per_session, recs, strict=True):
        assert [k for k, _ in msgs] == [r.key for r in rs]     # keyed by page session
        assert [r.seq for r in rs] == list(range(len(rs)))
        assert [r.final for r in rs] == [False] * (len(rs) - 1) + [True]
        for r in rs:    # one flush slot of recording, plus at most 1 s back to its start
            assert sum(r.ev["dt"]) <= 2000.0
    return recs


def test_sapimouse_rate_workload_is_cut_like_the_collector(sapimouse_dir: Path,
                                                           balabit_dir: Path) -> None:
    settings = load_settings(environ={})
    sapi = records(settings, sapimouse_sessions(2, sapimouse_dir), "SapiMouse-rate", "t1")
    recs = _check(sapi)
    # one-minute recordings: about a minute of one-second batches each
    assert all(50 <= len(rs) <= 70 for rs in recs)
    per_batch = sapi.events / sapi.batches
    balabit = records(settings, [(s.user, s.traj) for s in
                                 load_balabit_sessions(balabit_dir, None, 2)], "Balabit", "t2")
    _check(balabit)
    assert per_batch > 2 * balabit.events / balabit.batches


def test_paced_runs_interleave_sessions_in_order_and_start_the_next_when_one_ends() -> None:
    sessions = [[(b"a", b"a0"), (b"a", b"a1"), (b"a", b"a2")], [(b"b", b"b0")],
                [(b"c", b"c0"), (b"c", b"c1")]]
    assert interleave(sessions, 2) == [[(b"a", b"a0"), (b"b", b"b0"), (b"a", b"a1"),
                                        (b"c", b"c0"), (b"a", b"a2"), (b"c", b"c1")]]
    assert interleave(sessions, 1) == [[m for msgs in sessions for m in msgs]]
    assert sessions[0] == [(b"a", b"a0"), (b"a", b"a1"), (b"a", b"a2")]     # not consumed


def test_baseline_tree_puts_the_commits_code_first_on_the_path(tmp_path: Path) -> None:
    root = baseline_tree("HEAD", tmp_path / "base")
    done = subprocess.run(
        [sys.executable, "-c", "import cursorprint.stream.records.wire as w; print(w.__file__)"],
        env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, check=True)
    assert Path(done.stdout.strip()).resolve().is_relative_to(tmp_path.resolve())
