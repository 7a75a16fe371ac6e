"""The SapiMouse protocol on tiny synthetic data: the split (no test user in the backbone's data,
no test session in any head), the seconds cut, the block form, the report."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cursorprint.model.data import datasets
from cursorprint.model.data.synthetic import synth_users
from cursorprint.model.data.trajectory import KIND_DOWN, KIND_MOVE, KIND_UP, Trajectory
from cursorprint.model.evaluation import sapimouse
from cursorprint.model.evaluation.metrics import far_at_frr
from cursorprint.model.evaluation.protocol import (
    ACTIVE_GAP_S,
    PUBLISHED,
    VALIDATION,
    Split,
    active_time,
    first_active_seconds,
    first_blocks,
    split_sessions,
)
from cursorprint.model.features.motion import N_MOTION
from cursorprint.model.features.windows import WindowRule
from cursorprint.model.nets.backbone import BackboneConfig, build_embedder
from cursorprint.model.nets.heads import fit_head
from cursorprint.model.nets.modeldir import (
    POPULATION_FILE,
    WEIGHTS_FILE,
    ModelDirError,
    ModelInfo,
    write_info,
)

TINY = Split("tiny", (1, 2, 3), (4, 5, 6))
RULE = WindowRule(events=64, stride=32, min_events=16)
_STATE = {KIND_MOVE: "Move", KIND_DOWN: "Pressed", KIND_UP: "Released"}


def _write(traj: Trajectory, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["client timestamp", "button", "state", "x", "y"])
        for t, x, y, k, b in zip(traj.t, traj.x, traj.y, traj.kind, traj.button, strict=True):
            if int(k) in _STATE:
                wr.writerow([int(1000 + t * 1000), "Left" if b == 1 else "NoButton",
                             _STATE[int(k)], int(x), int(y)])


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Users 1-6; users 2 and 5 recorded twice (``user2.1``/``user2.2``), like 35 and 62."""
    root = tmp_path_factory.mktemp("sapimouse")
    trajs = synth_users(8, 2, 1500, seed=4)
    folders = ["user1", "user2.1", "user2.2", "user3", "user4", "user5.1", "user5.2", "user6"]
    for i, folder in enumerate(folders):
        _write(trajs[2 * i], root / folder / "session_3min.csv")
        _write(trajs[2 * i + 1].slice(0, 700), root / folder / "session_1min.csv")
    return root


def test_split_keeps_test_users_out_of_the_backbone(root: Path) -> None:
    s = split_sessions(datasets.load_sapimouse(root), TINY)
    assert {t.meta["user"] for t in s.backbone} == {"sapi1", "sapi2", "sapi3"}
    assert sum(t.meta["user"] == "sapi2" for t in s.backbone) == 4     # both recordings
    assert sorted(s.enroll) == sorted(s.test) == ["sapi4", "sapi5", "sapi6"]
    assert all(str(t.meta["session"]).endswith("3min") for t in s.enroll.values())
    assert all(str(t.meta["session"]).endswith("1min") for t in s.test.values())
    assert s.enroll["sapi5"].meta["recording"] == s.test["sapi5"].meta["recording"] == "user5.1"
    assert set(PUBLISHED.test_users) == set(range(73, 121))
    assert max(VALIDATION.test_users) < min(PUBLISHED.test_users)
    with pytest.raises(ValueError, match="both backbone and test"):
        Split("bad", (1, 2), (2, 3))


def test_seconds_cut_counts_pauses_at_most_a_quarter_second() -> None:
    t = np.r_[np.arange(0, 5, 0.05), 15 + np.arange(0, 5, 0.05)]      # a 10 s pause at 5 s
    tr = Trajectory.from_columns(t, t * 10, t, np.zeros(len(t)), np.zeros(len(t)), (100, 100))
    clock = active_time(tr)
    assert clock[0] == 0.0 and np.isclose(clock[-1], 4.95 + ACTIVE_GAP_S + 4.95)
    assert len(first_active_seconds(tr, 3)) == 61                    # 0, 0.05, ..., 3.0
    after_pause = first_active_seconds(tr, 5.2 + ACTIVE_GAP_S)
    assert after_pause.t[-1] == 15.0 + 0.25
    assert len(first_active_seconds(tr, 100)) == len(tr)


def test_blocks_are_disjoint_and_fewer_when_short() -> None:
    t = np.arange(0, 700) * 0.02
    tr = Trajectory.from_columns(t, t, t, np.zeros(700), np.zeros(700), (100, 100))
    blocks = first_blocks(tr, WindowRule(events=128, stride=64, min_events=32), 5)
    assert [len(b) for b in blocks] == [128] * 5
    assert all(a.t[-1] < b.t[0] for a, b in zip(blocks, blocks[1:], strict=False))
    assert len(first_blocks(tr.slice(0, 300), WindowRule(128, 64, 32), 3)) == 2


def test_far_at_frr_picks_the_threshold_on_owners() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])                   # 1 = impostor
    s = np.array([0.1, 0.2, 0.3, 0.9, 0.25, 0.5, 0.6, 0.95])
    assert far_at_frr(y, s, 0.0) == 0.75                      # only 0.95 is above every owner
    assert far_at_frr(y, s, 0.25) == 0.25                     # one owner flagged allowed


def _tiny_model(out: Path, backbone_users: list[int]) -> None:
    import keras

    keras.utils.set_random_seed(1)
    cfg = BackboneConfig(image_size=32, blocks=1, emb_dim=8)
    emb = build_embedder(cfg)
    out.mkdir(parents=True, exist_ok=True)
    emb.save_weights(str(out / WEIGHTS_FILE))
    rng = np.random.default_rng(0)
    pop = fit_head(rng.normal(size=(20, 8 + N_MOTION)), rng.normal(1, 1, (20, 8 + N_MOTION)))
    (out / POPULATION_FILE).write_bytes(pop.to_bytes())
    write_info(out, ModelInfo(version="tiny", backbone=cfg, rule=RULE, motion=True,
                              extra={sapimouse.BACKBONE_USERS_KEY: backbone_users}))


def test_evaluate_writes_scores_report_and_plots(root: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from cursorprint.model.training import train

    seen: dict[str, Any] = {}

    def fake_train(trajs: list[Trajectory], out: Path, cfg: Any, **kw: Any) -> None:
        seen["users"] = {t.meta["user"] for t in trajs}
        seen["extra"] = kw["extra"]
        _tiny_model(Path(out), kw["extra"][sapimouse.BACKBONE_USERS_KEY])

    monkeypatch.setattr(train, "train_model", fake_train)
    report = sapimouse.evaluate_sapimouse(root, tmp_path, split=TINY, progress=False)
    assert seen["users"] == {"sapi1", "sapi2", "sapi3"}
    assert seen["extra"][sapimouse.BACKBONE_USERS_KEY] == [1, 2, 3]
    with open(tmp_path / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    cuts = [f"{s}s" for s in sapimouse.SECONDS] + [f"{k}blocks" for k in sapimouse.BLOCKS]
    assert len(rows) == 3 * 3 * len(cuts)
    assert set(rows[0]) == {"enrolled_user", "test_file", "cut", "seconds", "score"}
    five = [float(r["seconds"]) for r in rows if r["cut"] == "5s"]
    assert max(five) <= 5.0 and min(five) > 4.0
    assert set(report["cuts"]) == set(cuts)
    assert report["genuine_trials"] == 3 and report["impostor_trials"] == 6
    for c in report["cuts"].values():
        assert 0.0 <= c["roc_auc"] <= 1.0 and 0.0 <= c["far_at_frr_1pct"] <= 1.0
    assert json.loads((tmp_path / "report.json").read_text())["split"] == "tiny"
    assert (tmp_path / "det.png").stat().st_size > 1000
    assert (tmp_path / "auc_vs_seconds.png").stat().st_size > 1000

    leaky = tmp_path / "leaky"
    _tiny_model(leaky, [1, 2, 3, 4])
    with pytest.raises(ModelDirError, match=r"saw test users \[4\]"):
        sapimouse.evaluate_sapimouse(root, tmp_path / "again", split=TINY, model_dir=leaky,
                                     progress=False)


def test_a_balabit_only_backbone_says_so_and_is_accepted(root: Path, tmp_path: Path) -> None:
    """Balabit training records that its backbone saw no SapiMouse user (the cross-domain model
    is then accepted by the protocol); one with SapiMouse lists every user it saw."""
    assert sapimouse.sapimouse_seen(None) == {sapimouse.BACKBONE_USERS_KEY: []}
    assert sapimouse.sapimouse_seen(datasets.load_sapimouse(root)) == \
        {sapimouse.BACKBONE_USERS_KEY: [1, 2, 3, 4, 5, 6]}
    balabit_only = tmp_path / "balabit_only"
    _tiny_model(balabit_only, sapimouse.sapimouse_seen(None)[sapimouse.BACKBONE_USERS_KEY])
    report = sapimouse.evaluate_sapimouse(root, tmp_path / "out", split=TINY,
                                          model_dir=balabit_only, progress=False)
    assert report["genuine_trials"] == 3
