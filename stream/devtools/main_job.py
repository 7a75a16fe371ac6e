"""``cursorprint run``: the main job on embedded defaults, start to finish.

1. start (or reuse) the local stack: Kafka (KRaft) + redis-server;
2. make sure a model exists in ``CURSORPRINT_MODEL_DIR`` (a quick small Balabit model is
   trained when there is none);
3. start ingest and two Faust workers (sessionizer, scorer) as subprocesses;
4. play back a subset of the labelled Balabit test sessions through ingest and print counts,
   throughput and the AUC;
5. print the demo page address (``--keep`` leaves everything running until Ctrl-C), then stop
   what it started (the stack only if this job started it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from cursorprint.stream.devtools.readiness import NotReady, wait_ready
from cursorprint.stream.settings import Settings, load_settings

__all__ = ["main_job", "ensure_model", "QUICK_BALABIT"]

QUICK_BALABIT = {"image_size": 32, "blocks": 2, "emb_dim": 64, "epochs": 3,
                 "max_windows_per_user": 200, "head_windows_per_user": 400}


def ensure_model(settings: Settings, data: Path) -> str:
    """The model version in ``settings.model_dir``; trains a quick Balabit model if missing."""
    from cursorprint.model.nets.modeldir import read_info

    model_dir = Path(settings.scorer.model_dir)
    if not (model_dir / "model.json").is_file():
        from cursorprint.model.data.datasets import load_balabit
        from cursorprint.model.training.train import TrainConfig, train_model

        print(f"no model in {model_dir}: training a quick Balabit model "
              f"({QUICK_BALABIT})", flush=True)
        cfg = replace(TrainConfig(), **QUICK_BALABIT)   # type: ignore[arg-type]
        trajs = load_balabit(data, "training_files")
        train_model(trajs, model_dir, cfg, extra={"data": "balabit training_files",
                                                  "quick": True})
    return read_info(model_dir).version


def main_job(data: Path | None = None, limit: int = 40, keep: bool = False) -> int:
    """The main job; ``data`` is the Balabit folder (default: CURSORPRINT_DATA_DIR/balabit)."""
    from cursorprint.stream.devtools.playback import (
        PlaybackError,
        load_balabit_sessions,
        play_sessions,
        publish_model_heads,
    )
    from cursorprint.stream.devtools.stack import Stack, StackError

    settings = load_settings()
    data = data or settings.general.dataset("balabit")   # SettingsError names the path
    if not (data / "test_files").is_dir():
        print(f"cursorprint run: --data {data}: not the Balabit folder (no test_files/)",
              file=sys.stderr)
        return 2
    stack = Stack(settings)
    before = {s.name: s.answering for s in stack.status()}
    try:
        stack.up()
    except StackError as exc:
        print(f"cursorprint run: {exc}", file=sys.stderr)
        return 1
    print(f"stack: Kafka {settings.kafka.bootstrap}, Redis {settings.redis.url}", flush=True)
    logs = Path(settings.home) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        version = ensure_model(settings, data)
        print(f"model {version} in {settings.scorer.model_dir}", flush=True)
        env = dict(os.environ)
        # the playback posts every session from this one address: lift the per-client limit
        env.setdefault("CURSORPRINT_INGEST_CLIENT_RATE", "100000")
        env.setdefault("CURSORPRINT_INGEST_CLIENT_BURST", "100000")
        web_s, web_c = settings.worker.web_port, settings.worker.web_port + 1
        cli = [sys.executable, "-m", "cursorprint.stream.cli"]
        for name, extra in (("ingest", ["ingest", "--demo"]),
                            ("sessionizer", ["worker", "sessionizer", "--web-port", str(web_s)]),
                            ("scorer", ["worker", "scorer", "--web-port", str(web_c)])):
            with open(logs / f"{name}.log", "ab") as fh:
                procs.append(subprocess.Popen([*cli, *extra], env=env, stdout=fh,
                                              stderr=subprocess.STDOUT,
                                              start_new_session=True))
        ingest_url = f"http://{settings.ingest.host}:{settings.ingest.port}"
        wait_ready(f"{ingest_url}/readyz", procs[0], 60)
        wait_ready(f"http://127.0.0.1:{web_s}/readyz", procs[1], 120)
        wait_ready(f"http://127.0.0.1:{web_c}/readyz", procs[2], 180)
        print(f"ingest {ingest_url}, workers /metrics on :{web_s} and :{web_c} "
              f"(logs in {logs})", flush=True)
        labels = data / "labels_dev.csv"
        sessions = load_balabit_sessions(data, labels if labels.is_file() else None,
                                         limit)
        n_heads = publish_model_heads(settings, Path(settings.scorer.model_dir), "demo")
        print(f"playing back {len(sessions)} labelled Balabit test sessions "
              f"({sum(len(s.traj) for s in sessions)} events) through ingest; {n_heads} user "
              "heads in the head store", flush=True)
        report = play_sessions(settings, sessions, ingest_url=ingest_url, timeout_s=600)
        print(json.dumps(report.summary(), indent=2), flush=True)
        demo = f"http://127.0.0.1:{web_c}/demo"
        if keep:
            print(f"demo: open {demo} and move your mouse; running until Ctrl-C", flush=True)
            while all(p.poll() is None for p in procs):
                time.sleep(1)
        else:
            print(f"demo: `cursorprint run --keep` leaves ingest and the workers running; then "
                  f"open {demo} and move your mouse", flush=True)
        return 0 if not report.missing and not report.rejected else 1
    except (PlaybackError, NotReady) as exc:
        print(f"cursorprint run: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        if not before.get("kafka", False):
            stack.stop_kafka()
        if not before.get("redis", False):
            stack.stop_redis()
