"""Readers: Balabit cleaning, SapiMouse, sessions-topic records, synthetic labelling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cursorprint.model.data.datasets import (
    DatasetError,
    read_balabit_session,
    read_labels,
    read_sapimouse_session,
    strictly_increasing,
    trajectory_from_session_record,
)
from cursorprint.model.data.synthetic import synth_users
from cursorprint.model.data.trajectory import BUTTON_LEFT, KIND_DOWN, KIND_MOVE, KIND_WHEEL

BALABIT = """record timestamp,client timestamp,button,state,x,y
0.0,0.0,NoButton,Move,100,200
0.0,0.0,NoButton,Move,101,200
0.1,0.016,NoButton,Move,65535,65535
0.1,0.032,Left,Pressed,1919,1079
0.1,0.040,Left,Released,1919,1079
0.2,0.050,Scroll,Down,500,500
"""


def test_balabit_file_is_cleaned(tmp_path: Path) -> None:
    p = tmp_path / "user7" / "session_1"
    p.parent.mkdir()
    p.write_text(BALABIT)
    tr = read_balabit_session(p)
    assert tr.meta == {"user": "user7", "session": "session_1", "source": "balabit"}
    assert tr.screen == (1920, 1080)
    assert tr.x.max() <= 1919 and tr.y.max() <= 1079          # 65535 artefact clamped
    assert np.all(np.diff(tr.t) > 0)                            # repeated timestamp fixed
    assert list(tr.kind[:4]) == [KIND_MOVE, KIND_MOVE, KIND_MOVE, KIND_DOWN]
    assert tr.button[3] == BUTTON_LEFT and tr.kind[5] == KIND_WHEEL


def test_bad_files_name_the_problem(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="expected header"):
        read_balabit_session(p)
    p.write_text(BALABIT.replace("NoButton,Move,100", "Wheel,Move,100"))
    with pytest.raises(DatasetError, match="Wheel"):
        read_balabit_session(p)
    with pytest.raises(DatasetError, match="cannot read"):
        read_balabit_session(tmp_path / "missing")


def test_real_balabit_labels_and_session(balabit_dir: Path) -> None:
    labels = read_labels(balabit_dir / "labels_dev.csv")
    assert len(labels) == 413 and sum(v[1] for v in labels.values()) == 205
    first = sorted((balabit_dir / "test_files" / "user12").iterdir())[0]
    tr = read_balabit_session(first)
    assert len(tr) > 50 and np.all(np.diff(tr.t) > 0)
    assert tr.x.max() < tr.screen[0] and tr.y.max() < tr.screen[1]


def test_real_sapimouse_session(sapimouse_dir: Path) -> None:
    tr = read_sapimouse_session(sapimouse_dir / "user1" / "session_1min.csv", "sapi1")
    assert len(tr) > 1000 and tr.t[0] == 0.0 and 40 < tr.duration < 120
    assert tr.meta["source"] == "sapimouse"


def test_sessions_record_round_trip_and_errors() -> None:
    rec = {"v": 1, "session_id": "abcdefgh", "user": "k" * 32, "site": "s", "path": "/",
           "screen": [1280, 720], "part": "final", "t": [0.0, 0.01, 0.02], "x": [1, 2, 3],
           "y": [4, 5, 6], "k": [0, 1, 2], "b": [0, 1, 1]}
    tr = trajectory_from_session_record(rec)
    assert tr.screen == (1280, 720) and len(tr) == 3 and tr.meta["session_id"] == "abcdefgh"
    with pytest.raises(DatasetError, match="'x'"):
        trajectory_from_session_record({**rec, "x": [1, 2]})
    with pytest.raises(DatasetError, match="lacks field 'screen'"):
        trajectory_from_session_record({k: v for k, v in rec.items() if k != "screen"})
    with pytest.raises(DatasetError, match="non-decreasing"):
        trajectory_from_session_record({**rec, "t": [0.0, 0.02, 0.01]})
    with pytest.raises(DatasetError, match="screen"):
        trajectory_from_session_record({**rec, "screen": [0, 10]})


def test_synthetic_is_labelled_and_users_differ() -> None:
    trs = synth_users(3, 2, 800, seed=1)
    assert all(t.meta["synthetic"] is True and t.meta["source"] == "synthetic" for t in trs)
    assert {t.meta["user"] for t in trs} == {"synth0", "synth1", "synth2"}
    assert np.all(strictly_increasing(np.array([0.0, 0.0, 0.0, 1.0])) ==
                  np.array([0.0, 0.001, 0.002, 1.0]))
