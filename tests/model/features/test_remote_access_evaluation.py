"""``cursorprint evaluate remote-access`` on a tiny copy of the data sets' layout (a few real
sessions): the four parts, training vs held out, and the report it writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cursorprint.stream.cli import main
from tests.support.paths import DATASETS

pytestmark = pytest.mark.skipif(
    not (DATASETS / "balabit").is_dir() or not (DATASETS / "sapimouse").is_dir(),
    reason="the shared data sets are not there")


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(src.resolve())


def _tiny(tmp_path: Path) -> tuple[Path, Path]:
    """Two Balabit test sessions (one also standing in as a training session) and the 1-minute
    recordings of SapiMouse users 5 (training part) and 80, 95 (held out)."""
    bal, sapi = tmp_path / "balabit", tmp_path / "sapimouse"
    tests = sorted((DATASETS / "balabit" / "test_files").glob("user*/session_*"))[:2]
    for p in tests:
        _link(p, bal / "test_files" / p.parent.name / p.name)
    _link(tests[0], bal / "training_files" / tests[0].parent.name / tests[0].name)
    for u in (5, 80, 95):
        _link(DATASETS / "sapimouse" / f"user{u}" / "session_1min.csv",
              sapi / f"user{u}" / "session_1min.csv")
    return bal, sapi


def test_evaluate_remote_access_reports_training_and_held_out_parts(tmp_path: Path) -> None:
    bal, sapi = _tiny(tmp_path)
    out = tmp_path / "out"
    assert main(["evaluate", "remote-access", "--balabit", str(bal), "--sapimouse", str(sapi),
                 "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    parts = report["parts"]
    assert {k: (v["sessions"], v["held_out"]) for k, v in parts.items()} == {
        "balabit_training": (1, False), "sapimouse_users_1_72": (1, False),
        "balabit_test": (2, True), "sapimouse_users_73_120": (2, True)}
    assert parts["balabit_test"]["flagged"] == 2 and parts["sapimouse_users_73_120"]["flagged"] == 0
    rows = (out / "features.csv").read_text().splitlines()
    assert len(rows) == 1 + 6 and rows[0].startswith("part,source,user,session")


def test_evaluate_remote_access_names_a_missing_folder(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "remote-access", "--balabit", str(tmp_path / "nope"),
              "--out", str(tmp_path)])
    assert "--balabit folder" in capsys.readouterr().err
