"""Time-to-detect figures from running scores (pure logic, no pipeline)."""

from __future__ import annotations

import math

import pytest

from cursorprint.model.evaluation.time_to_detect import (
    Attempt,
    Point,
    owner_threshold,
    time_to_detect_report,
)


def attempt(owner: str, claimed: str, logits: list[float], every: float = 6.0) -> Attempt:
    return Attempt(f"{owner}/1min as {claimed}", owner, claimed,
                   [Point(4.0 + i * every, z, i) for i, z in enumerate(logits)])


def test_the_threshold_flags_at_most_the_given_share_of_owners_sessions() -> None:
    peaks = [float(i) for i in range(40)]           # 40 owners' sessions, peaks 0..39
    assert owner_threshold(peaks, 0.01) > 39.0       # 0.4 sessions: none flagged
    assert 37.0 < owner_threshold(peaks, 0.05) <= 38.0   # 2 sessions (38, 39) flagged
    with pytest.raises(ValueError, match="genuine"):
        owner_threshold([], 0.01)
    with pytest.raises(ValueError, match="rate=1.5"):
        owner_threshold(peaks, 1.5)


def test_an_owner_is_flagged_by_the_peak_of_the_running_score_not_its_end() -> None:
    owners = [attempt(f"u{i}", f"u{i}", [-5.0, -6.0]) for i in range(19)]
    owners.append(attempt("u19", "u19", [3.0, -8.0]))    # one early spike, then clear
    impostors = [attempt("u0", "u1", [-6.0, 2.0, 5.0]),    # crosses 3 at the third part
                 attempt("u1", "u2", [4.0]),               # at the first
                 attempt("u2", "u3", [-9.0, -9.0])]        # never
    rep = time_to_detect_report(owners + impostors, rates=(0.01, 0.05))
    strict, loose = (rep["operating_points"][k] for k in ("owners_flagged_0.01",
                                                           "owners_flagged_0.05"))
    # 1 % of 20 owners: none flagged, so the threshold is just above the spike (3.0)
    assert strict["owners_flagged"] == 0.0 and strict["threshold_logit"] >= 3.0
    assert strict["impostors_detected"] == round(2 / 3, 4)
    assert strict["median_seconds"] == 16.0       # detected at 4 s and 16 s, one never
    assert strict["p90_seconds"] is None          # the p90 falls on the undetected attempt
    assert strict["detected_within_s"]["5"] == round(1 / 3, 4)
    # 5 % of 20: one owner's session may be flagged, the spiking one
    assert loose["owners_flagged"] == 0.05 and loose["threshold_logit"] <= -5.0
    assert math.isclose(strict["threshold"], 1 / (1 + math.exp(-strict["threshold_logit"])),
                        rel_tol=1e-6)
    # acting only after 10 s of movement: the owner's early spike no longer counts, the
    # threshold drops to just above the owners' later peaks (-6.0)
    later = rep["acting_after_s"]["10"]["owners_flagged_0.01"]
    assert -6.0 <= later["threshold_logit"] < -5.0 and later["owners_flagged"] == 0.0
    assert later["impostors_detected"] == round(1 / 3, 4)   # the 4 s one had nothing after 10 s
    with pytest.raises(ValueError, match="no impostor"):
        time_to_detect_report(owners)
