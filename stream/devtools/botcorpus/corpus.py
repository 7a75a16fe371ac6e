"""``cursorprint bots corpus``: record bot sessions made by humanizing libraries in Chromium.

For each library one driver process (``driver.mjs``; for Python libraries under Xvfb through
``xdriver.py``) visits the task pages, which run the real collector; batches go to the real
ingest app (:mod:`.capture`: Kafka replaced by an in-memory sink) and through the real
sessionizer logic. Output, under ``--out`` (keep it out of git: ``.cursorprint/`` or ``runs/``):

- ``<lib>/batches.jsonl``: every accepted ``pointer-batches`` value, as ingest produced it;
- ``<lib>/sessions.jsonl``: one line per page session ``{"lib", "task", "ok", "record"}``,
  ``record`` being the ``sessions`` topic record (:class:`SessionRecord` as a dict);
- ``summary.json``: sessions and events per library.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cursorprint.stream.devtools.botcorpus.capture import CaptureIngest, sessions_from_records
from cursorprint.stream.devtools.botcorpus.replay import write_replay_segments
from cursorprint.stream.devtools.botcorpus.xdriver import EXTERNAL_LIBS

__all__ = ["NODE_LIBS", "ALL_LIBS", "make_corpus", "ensure_node_modules"]

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
NODE_LIBS = ("ghost-cursor", "pw-steps", "replay")
ALL_LIBS = NODE_LIBS + EXTERNAL_LIBS
COLLECTOR_BUNDLE = HERE.parents[2] / "collector_js" / "dist" / "cursorprint.min.js"


def ensure_node_modules() -> None:
    """``npm ci`` in this folder when its node_modules is missing (package-lock.json pins)."""
    if not (HERE / "node_modules" / "ghost-cursor").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    if not COLLECTOR_BUNDLE.is_file():
        subprocess.run(["npm", "run", "build"], cwd=COLLECTOR_BUNDLE.parents[1], check=True)


class _Xvfb:
    """A private X display for the Python libraries (which move the real X pointer)."""

    def __init__(self, display: int = 97, size: tuple[int, int] = (1280, 800)) -> None:
        self.display = f":{display}"
        self.size = size
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> _Xvfb:
        exe = shutil.which("Xvfb")
        if exe is None:
            raise RuntimeError("Xvfb is missing: apt-get install xvfb (needed by the Python "
                               "libraries, which move the X pointer)")
        self.proc = subprocess.Popen([exe, self.display, "-screen", "0",
                                      f"{self.size[0]}x{self.size[1]}x24", "-nolisten", "tcp"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock = Path(f"/tmp/.X11-unix/X{self.display[1:]}")
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


def make_corpus(out: Path, libs: Sequence[str] = ALL_LIBS, sessions: int = 30,
                sapimouse: Path | None = None, seed: int = 1,
                timeout_s: float = 1200.0) -> dict[str, dict[str, int]]:
    """Record ``sessions`` page sessions per library into ``out``; returns the summary."""
    unknown = set(libs) - set(ALL_LIBS)
    if unknown:
        raise ValueError(f"unknown libraries {sorted(unknown)}; known: {ALL_LIBS}")
    ensure_node_modules()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    segs = out / "replay_segments.json"
    if "replay" in libs:
        if sapimouse is None:
            raise ValueError("the replay library needs --sapimouse (human strokes to replay)")
        log.info("replay: %d human strokes of SapiMouse users 1-72",
                 write_replay_segments(sapimouse, segs))
    summary: dict[str, dict[str, int]] = {}
    xvfb = _Xvfb() if set(libs) & set(EXTERNAL_LIBS) else None
    if xvfb is not None:
        xvfb.__enter__()
    try:
        with CaptureIngest() as ingest:
            for i, lib in enumerate(libs):
                d = out / lib
                d.mkdir(exist_ok=True)
                manifest = d / "manifest.jsonl"
                manifest.unlink(missing_ok=True)
                first = len(ingest.records)
                node = ["node", str(HERE / "driver.mjs"), "--base", ingest.base,
                        "--sessions", str(sessions), "--seed", str(seed * 100 + i),
                        "--manifest", str(manifest), "--replay-segments", str(segs)]
                started = time.monotonic()
                if lib in EXTERNAL_LIBS:
                    assert xvfb is not None
                    cmd = [sys.executable, "-m", "cursorprint.stream.devtools.botcorpus.xdriver",
                           "--lib", lib, "--seed", str(seed * 100 + i), "--",
                           *node, "--lib", "external", "--headed"]
                    xauth = out / ".Xauthority"     # python-xlib wants one; Xvfb runs without auth
                    xauth.touch()
                    env = {**os.environ, "DISPLAY": xvfb.display, "XAUTHORITY": str(xauth)}
                else:
                    cmd = [*node, "--lib", lib]
                    env = dict(os.environ)
                log.info("corpus: %s, %d sessions", lib, sessions)
                subprocess.run(cmd, cwd=HERE, env=env, check=True, timeout=timeout_s)
                time.sleep(0.5)          # the last beacon
                raw = ingest.records[first:]
                (d / "batches.jsonl").write_bytes(b"\n".join(raw) + b"\n")
                meta = {}
                for line in manifest.read_text().splitlines():
                    m = json.loads(line)
                    meta[m["sid"]] = m
                n_events = 0
                n_sessions = 0
                with open(d / "sessions.jsonl", "w") as f:
                    for rec in sessions_from_records(raw):
                        m = meta.get(rec.session_id.split("~")[0])
                        if m is None:
                            continue
                        n_sessions += 1
                        n_events += rec.n_events
                        f.write(json.dumps({"lib": lib, "task": m["task"], "ok": m["ok"],
                                            "record": rec.to_dict()}) + "\n")
                summary[lib] = {"sessions": n_sessions, "events": n_events, "batches": len(raw),
                                "failed": sum(not m["ok"] for m in meta.values()),
                                "seconds": round(time.monotonic() - started)}
                log.info("corpus: %s: %s", lib, summary[lib])
    finally:
        if xvfb is not None:
            xvfb.__exit__(None, None, None)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
