"""``cursorprint replay sapimouse|balabit``: recorded sessions played through the running
pipeline as genuine and impostor attempts, and the seconds of movement an impostor needs to be
flagged (:mod:`~cursorprint.model.evaluation.time_to_detect`).

Each attempt is played back with every scored part kept (:func:`~cursorprint.stream.devtools.
playback.play_sessions` with ``all_parts``); :func:`running_points` turns its parts into the
running score the decision call would give after each of them. ("Replay" here is this command's
name; the fraud check of replayed movement is ``replayed_trajectory``.)
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.data import datasets
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.evaluation.protocol import (
    PUBLISHED,
    active_time,
    split_sessions,
    user_number,
)
from cursorprint.model.evaluation.sapimouse import check_backbone, enroll_heads
from cursorprint.model.evaluation.time_to_detect import (
    Attempt,
    Point,
    plot_time_to_detect,
    time_to_detect_report,
)
from cursorprint.model.nets.modeldir import read_heads, read_info, write_head
from cursorprint.model.serving.scoring import SessionScorer
from cursorprint.stream.decide.live import live_part
from cursorprint.stream.decide.policy import combined_logit, counted_parts
from cursorprint.stream.devtools.playback import (
    PlaybackError,
    PlaybackSession,
    load_balabit_sessions,
    play_sessions,
    publish_model_heads,
    wire_trajectory,
)
from cursorprint.stream.ingest.identity import user_key
from cursorprint.stream.records.scores import ScoreRecord
from cursorprint.stream.settings import Settings, load_settings
from cursorprint.stream.stores.heads import HeadStore
from cursorprint.stream.stores.live_scores import LivePart

__all__ = ["running_points", "replay_sapimouse", "replay_balabit"]

LOGIT_EPS = 1e-15              # scores this close to 0 or 1 count as this (float64 resolves it)


def _score_record(obj: dict[str, Any]) -> ScoreRecord:
    """A ``session-scores`` record as read from the topic (JSON, with its ``v`` field)."""
    return ScoreRecord(**{f.name: obj[f.name] for f in fields(ScoreRecord) if f.name in obj})


def running_points(traj: Trajectory, parts: Sequence[dict[str, Any]],
                   window_ends: dict[int, float], start_ms: float) -> list[Point]:
    """The running evidence of one played-back session: after each rolling window, then the
    closed session, what the decision call adds up from the parts scored so far (the parts
    :func:`~cursorprint.stream.decide.policy.counted_parts` keeps, combined by
    :func:`~cursorprint.stream.decide.policy.combined_logit`), at the movement seconds of the
    part's last event (the activity clock of the SapiMouse protocol, on the trajectory as
    played). Kept as a logit, unrounded: the decision's score is rounded to 6 decimals, where
    this model's impostor and owner sessions often tie at 0.999999."""
    wire = wire_trajectory(traj)
    clock = active_time(wire)
    windows = sorted((p for p in parts if p["cause"] == "window"), key=lambda p: int(p["part"]))
    ordered = windows + [p for p in parts if p["part"] == "final"]
    live: list[LivePart] = []
    points = []
    for p in ordered:
        if p.get("score") is None:
            raise PlaybackError(f"session {p['session_id']} part {p['part']} has no identity "
                                f"score (reasons {p.get('reasons')}): not scored as mouse input")
        live.append(live_part(_score_record(p), None))
        if p["part"] == "final":
            seconds = float(clock[-1]) if len(clock) else 0.0
        else:
            end = window_ends.get(int(p["part"]))
            if end is None:
                raise PlaybackError(f"session {p['session_id']}: rolling window {p['part']} "
                                    "was scored but is not on the sessions topic")
            # the last event at or before the window's end (times travel on a 0.1 ms grid)
            at = int(np.searchsorted(wire.t, (end - start_ms) / 1000.0 + 5e-5, side="right"))
            seconds = float(clock[max(at - 1, 0)])
        points.append(Point(round(seconds, 3), combined_logit(counted_parts(live), LOGIT_EPS),
                            p["part"]))
    return points


def _sapimouse_heads(model_dir: Path, data: Path, out: Path) -> tuple[Any, dict[str, Any]]:
    """The split's sessions and a head per test user, enrolled as ``evaluate sapimouse`` does
    (3-minute session against the backbone users' windows); kept in ``out/heads`` for the
    model version they were fitted on."""
    check_backbone(model_dir, PUBLISHED)
    split = split_sessions(datasets.load_sapimouse(data), PUBLISHED)
    scorer = SessionScorer.load(model_dir)
    stamp = out / "heads" / "MODEL_VERSION"
    if stamp.is_file() and stamp.read_text().strip() == scorer.model_version:
        heads = read_heads(out)
        if set(heads) == set(split.test):
            return split, heads
    print(f"enrolling {len(split.enroll)} SapiMouse heads on {model_dir} "
          f"({scorer.model_version})", flush=True)
    seed = int(scorer.info.extra.get("train", {}).get("seed", 0))
    heads = enroll_heads(scorer, split.backbone, split.enroll, seed, progress=False)
    for user, head in heads.items():
        write_head(out, user, head)
    stamp.write_text(scorer.model_version + "\n")
    return split, heads


def _model_dir(settings: Settings, model_dir: Path | None) -> Path:
    model_dir = Path(model_dir or settings.scorer.model_dir)
    if not (model_dir / "model.json").is_file():
        raise PlaybackError(f"--model {model_dir}: no model.json")
    return model_dir


def _replay_attempts(settings: Settings, sessions: list[PlaybackSession], owners: list[str],
                     model_dir: Path, out: Path, *, ingest: str | None, site: str,
                     speed: float, timeout_s: float, title: str,
                     about: dict[str, Any]) -> dict[str, Any]:
    """Play ``sessions`` (each under its claimed user; ``owners``: who recorded each), turn
    their scored parts into running scores and write the time-to-detect report to ``out``."""
    url = ingest or f"http://{settings.ingest.host}:{settings.ingest.port}"
    n_genuine = sum(s.user == o for s, o in zip(sessions, owners, strict=True))
    print(f"replaying {len(sessions)} attempts ({n_genuine} genuine, "
          f"{len(sessions) - n_genuine} impostor) to {url}", flush=True)
    played = play_sessions(settings, sessions, ingest_url=url, site=site, speed=speed,
                           timeout_s=timeout_s, all_parts=True)
    if played.rejected or played.missing:
        raise PlaybackError(f"ingest rejected {played.rejected}; {len(played.missing)} of "
                            f"{len(sessions)} sessions got no final score within {timeout_s} s")
    version = read_info(model_dir).version
    seen = {p["model_version"] for ps in played.parts.values() for p in ps}
    if seen != {version}:
        raise PlaybackError(f"the running scorer scored with model {sorted(seen)}, not --model "
                            f"{model_dir} ({version}): start it with CURSORPRINT_MODEL_DIR="
                            f"{model_dir}")
    with open(out / "parts.jsonl", "w") as fh:      # the raw scored parts, for re-analysis
        for s, owner in zip(sessions, owners, strict=True):
            fh.write(json.dumps({"session": s.name, "owner": owner, "claimed": s.user,
                                 "start_ms": played.start_ms, "parts": played.parts[s.sid],
                                 "window_ends": played.window_ends.get(s.sid, {})}) + "\n")
    attempts = [Attempt(s.name, owner, s.user, running_points(
        s.traj, played.parts[s.sid], played.window_ends.get(s.sid, {}), played.start_ms))
        for s, owner in zip(sessions, owners, strict=True)]
    gaps = [b.seconds - a.seconds for at in attempts
            for a, b in itertools.pairwise(at.points) if b.part != "final"]
    firsts = [at.points[0].seconds for at in attempts if at.points[0].part != "final"]
    report: dict[str, Any] = {
        **about, "model_dir": str(model_dir), "model_version": version, "speed": speed,
        **time_to_detect_report(attempts),
        "cadence": {
            "median_windows_per_session": float(np.median(
                [sum(p.part != "final" for p in a.points) for a in attempts])),
            "median_session_seconds": round(float(np.median(
                [a.points[-1].seconds for a in attempts])), 2),
            "first_window_seconds": {"median": round(float(np.median(firsts)), 2)}
            if firsts else None,
            "seconds_between_windows": {
                q: round(float(np.quantile(gaps, v)), 2)
                for q, v in (("p10", 0.1), ("median", 0.5), ("p90", 0.9))} if gaps else None},
        "playback": played.summary(),
    }
    with open(out / "attempts.csv", "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["session", "owner", "claimed", "part", "seconds", "running_logit"])
        wr.writerows([a.session, a.owner, a.claimed, p.part, f"{p.seconds:.3f}",
                      f"{p.logit:.4f}"] for a in attempts for p in a.points)
    plot_time_to_detect(attempts, report, out / "time_to_detect.png", title)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report


def replay_sapimouse(data: Path, out: Path, *, model_dir: Path | None = None,
                     users: int | None = None, impostors: int = 3, ingest: str | None = None,
                     site: str = "demo", speed: float = 0.0, timeout_s: float = 900.0,
                     seed: int = 0) -> dict[str, Any]:
    """Play SapiMouse 1-minute sessions of the test users (73-120) through the running
    pipeline as genuine (claimed user = owner) and ``impostors`` impostor attempts each
    (claimed user = another test user), and write the time to detect to ``out``
    (``report.json``, ``attempts.csv``, ``time_to_detect.png``)."""
    settings = load_settings(sections=("kafka", "ingest", "scorer", "redis"))
    model_dir = _model_dir(settings, model_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    split, heads = _sapimouse_heads(model_dir, Path(data), out)
    store = HeadStore(settings.redis.url)
    for user, head in heads.items():
        store.put(user_key(site, user, settings.ingest.pseudonym_secret), head,
                  {"source": f"replay sapimouse, model dir {model_dir}"})
    tested = sorted(split.test, key=user_number)[:users]
    if len(tested) < 2:
        raise PlaybackError(f"--users {users}: impostor attempts need at least 2 test users")
    rng = np.random.default_rng(seed)
    plan: list[tuple[str, str]] = []                      # (owner, claimed)
    for owner in tested:
        others = [u for u in tested if u != owner]
        claims = rng.choice(len(others), size=min(impostors, len(others)), replace=False)
        plan += [(owner, owner)] + [(owner, others[i]) for i in sorted(claims)]
    sessions = [PlaybackSession(f"{split.test[owner].meta['session']} as {claimed}", claimed,
                                split.test[owner]) for owner, claimed in plan]
    return _replay_attempts(
        settings, sessions, [o for o, _ in plan], model_dir, out, ingest=ingest, site=site,
        speed=speed, timeout_s=timeout_s,
        title=f"SapiMouse replay, live path ({len(tested)} owners, "
              f"{len(plan) - len(tested)} impostor attempts)",
        about={"data": "SapiMouse users 73-120, 1-minute sessions; heads on the 3-minute "
                       "sessions", "users": len(tested), "impostor_claims_per_user": impostors,
               "seed": seed})


def replay_balabit(data: Path, labels: Path, out: Path, *, model_dir: Path | None = None,
                   limit: int | None = None, ingest: str | None = None, site: str = "demo",
                   speed: float = 0.0, timeout_s: float = 1800.0) -> dict[str, Any]:
    """Play labelled Balabit test sessions under their account (label 0: the owner, genuine;
    label 1: someone else, impostor) with the model's own user heads in the head store, and
    write the time to detect to ``out``."""
    settings = load_settings(sections=("kafka", "ingest", "scorer", "redis"))
    model_dir = _model_dir(settings, model_dir)
    if not labels.is_file():
        raise PlaybackError(f"--labels {labels}: no such file")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sessions = load_balabit_sessions(data, labels, limit)
    if not {s.label for s in sessions} >= {0, 1}:
        raise PlaybackError(f"--limit {limit}: the sessions need both labels")
    n_heads = publish_model_heads(settings, model_dir, site)
    # the recorder of an illegal session is unknown: "other" (never the claimed user)
    owners = [s.user if s.label == 0 else f"not {s.user}" for s in sessions]
    return _replay_attempts(
        settings, sessions, owners, model_dir, out, ingest=ingest, site=site, speed=speed,
        timeout_s=timeout_s,
        title=f"Balabit replay, live path ({len(sessions)} labelled test sessions)",
        about={"data": f"Balabit test_files labelled in {labels.name}", "heads": n_heads,
               "sessions": len(sessions)})
