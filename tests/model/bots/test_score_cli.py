"""``cursorprint score``: reads the generic CSV and the data sets' formats, one JSON line each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cursorprint.model.bots.train import bot_samples, fit_bot_model, human_samples
from cursorprint.model.data.synthetic import random_style, scripted_style, synth_session
from cursorprint.stream.cli.bots import read_generic_csv, read_recordings
from cursorprint.stream.cli.root import main


def _write_csv(path: Path, rows: list[tuple[float, float, float, str, str]]) -> Path:
    path.write_text("t_ms,x,y,kind,button\n" + "".join(f"{t},{x},{y},{k},{b}\n"
                                                        for t, x, y, k, b in rows))
    return path


def test_generic_csv_reader(tmp_path: Path) -> None:
    p = _write_csv(tmp_path / "a.csv", [(0, 1, 2, "move", "none"), (16, 3, 4, "down", "left"),
                                        (90, 3, 4, "up", "left"), (100, 9, 9, "3", "0")])
    tr = read_generic_csv(p, (800, 600))
    assert tr.screen == (800, 600)
    assert list(tr.kind) == [0, 1, 2, 3] and list(tr.button) == [0, 1, 1, 0]
    np.testing.assert_allclose(tr.t[:2], [0.0, 0.016])
    bad = tmp_path / "bad.csv"
    bad.write_text("t_ms,x,y,kind,button\n0,1,2,hover,none\n")
    with pytest.raises(ValueError, match="unknown kind"):
        read_generic_csv(bad)


def test_sapimouse_format_is_recognised(tmp_path: Path) -> None:
    p = tmp_path / "session_1min.csv"
    p.write_text("client timestamp,button,state,x,y\n0,NoButton,Move,1,1\n16,NoButton,Move,5,5\n")
    ((_, tr),) = read_recordings(p)
    assert len(tr) == 2


def test_score_prints_one_json_line_per_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    rng = np.random.default_rng(0)
    people = [synth_session(rng, random_style(rng), 400, meta={"user": f"u{i}"}) for i in range(8)]
    bots = [("scripted", "t", synth_session(rng, scripted_style(rng), 300)) for _ in range(8)]
    model = fit_bot_model(bot_samples(bots), human_samples(people[:4], crops=3, seed=1),
                          human_samples(people[4:], crops=3), target_fpr=0.05)
    model.save(tmp_path / "model")
    tr = bots[0][2]
    rows = [(1000 * float(t), float(x), float(y), str(int(k)), str(int(b)))
            for t, x, y, k, b in zip(tr.t, tr.x, tr.y, tr.kind, tr.button, strict=True)]
    a = _write_csv(tmp_path / "bot.csv", rows)
    missing = tmp_path / "nope.csv"
    rc = main(["score", "--model", str(tmp_path / "model"), "--screen", "1920x1080", str(a),
               str(missing)])
    lines = [json.loads(s) for s in capsys.readouterr().out.splitlines()]
    assert rc == 1 and len(lines) == 2
    assert 0.0 <= lines[0]["bot_score"] <= 1.0 and isinstance(lines[0]["reasons"], list)
    assert "error" in lines[1]
