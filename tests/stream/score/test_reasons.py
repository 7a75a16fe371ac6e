"""Reason codes have one home, stream/records/reasons.py: every code emitted anywhere is declared
there (the sites' alert consumers and the dashboards filter on these exact strings)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np

from cursorprint.stream.records import reasons
from cursorprint.stream.records.session import SessionRecord
from cursorprint.stream.score.microbatch import MicroBatchScorer
from cursorprint.stream.score.replayed import ReplayDetector
from cursorprint.stream.testing import (
    MemoryFingerprints,
    MemoryHeads,
    StandInModel,
    stand_in_head,
)
from tests.stream.score.bots import tiny_bot_model
from tests.stream.score.people import humans, record_value, scripts
from tests.stream.score.remote_desktop import over_remote_desktop
from tests.stream.score.test_microbatch import _HeadOfAnotherModel, record

ROOT = Path(__file__).resolve().parents[3]
HOME = ROOT / "stream" / "records" / "reasons.py"


def _sources() -> list[Path]:
    return sorted(p for d in ("stream", "model") for p in (ROOT / d).rglob("*.py"))


def _reason_assignments(path: Path) -> dict[str, str]:
    """``REASON_X = "code"`` assignments at a module's top level."""
    found = {}
    for node in ast.parse(path.read_text(), str(path)).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.startswith("REASON_")
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            found[node.targets[0].id] = node.value.value
    return found


def test_reason_constants_are_declared_only_in_reasons_py_or_by_the_model() -> None:
    """model/ cannot import stream/: the model declares the codes it emits itself and
    reasons.py re-exports each under the same name; stream/ declares none outside reasons.py."""
    for path in _sources():
        if path == HOME:
            continue
        where = path.relative_to(ROOT)
        for name, code in _reason_assignments(path).items():
            assert where.parts[0] == "model", f"{where}: import {name} from reasons.py"
            assert getattr(reasons, name, None) == code, \
                f"{where}: {name} = {code!r} is not re-exported by stream/records/reasons.py"


def test_every_code_has_one_spelling() -> None:
    codes = [v for k, v in vars(reasons).items() if k.startswith("REASON_")]
    assert len(codes) == len(set(codes)) == len(reasons.declared())
    assert all(re.fullmatch(r"[a-z][a-z_]*[a-z]", c) for c in codes)
    assert set(reasons.__all__) >= {k for k in vars(reasons) if k.startswith("REASON_")}


def test_no_reason_code_is_spelled_out_in_code() -> None:
    """A code written as a literal instead of its constant would escape the checks above."""
    declared = reasons.declared()
    for path in _sources():
        if path == HOME:
            continue
        tree = ast.parse(path.read_text(), str(path))
        assigned = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id.startswith("REASON_")
                            for t in n.targets)}
        literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                    and n.value in declared and id(n) not in assigned}
        assert not literals, f"{path} spells out {literals}: import the constant"


def test_everything_the_scorer_emits_is_declared() -> None:
    """Drive the scorer down every path that adds a code, and look at what comes out."""
    fingerprints = MemoryFingerprints()
    heads = MemoryHeads({"a" * 32: stand_in_head()})
    scorer = MicroBatchScorer(StandInModel(heads), lambda _site: 0.0,
                              replay=ReplayDetector(fingerprints, backoff_s=0.0),
                              bot=tiny_bot_model())
    human, bot = humans(1, seed=71)[0], scripts(1, seed=72)[0]
    remote = over_remote_desktop(humans(1, seed=73, events=3000)[0], np.random.default_rng(73))
    touch = SessionRecord.from_trajectory(human, session_id="touch", user="t" * 32,
                                          site="demo", pointer="touch").to_bytes()
    batches = [[record("few", "a" * 32, 100.0, 100), record_value("human", human),
                record_value("bot", bot), record("five moves", "a" * 32, 100.0, 5), touch,
                record_value("remote", remote)],
               [record_value("copy", human)]]
    results = [scorer.score_batch(b) for b in batches]
    fingerprints.down = True
    heads.down = True
    results.append(scorer.score_batch([record_value("outage", human)]))
    incompatible = _HeadOfAnotherModel()
    incompatible.population = stand_in_head("pop")
    results.append(MicroBatchScorer(incompatible, lambda _site: 0.0).score_batch(
        [record("z", "z" * 32, 100.0, 300)]))
    emitted = {r for res in results for rec in [*res.scores, *res.alerts] for r in rec.reasons}
    assert emitted <= reasons.declared(), emitted - reasons.declared()
    # every path above was taken: the codes not seen are those no input here makes
    assert reasons.declared() - emitted <= {reasons.REASON_NO_WINDOWS, reasons.REASON_TELEPORT}
    assert np.isfinite([s.score for res in results for s in res.scores
                        if s.score is not None]).all()
