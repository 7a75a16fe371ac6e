"""The decision rules (stream/decide/policy.py) on hand-made live states."""

from __future__ import annotations

import math

import pytest

from cursorprint.stream.decide.credentials import SitePolicy
from cursorprint.stream.decide.policy import (
    CODE_DENY,
    CODE_FEW_WINDOWS,
    CODE_FRAUD_CONFIRMED,
    CODE_LITTLE_MOVEMENT,
    CODE_SESSION_UNKNOWN,
    CODE_STEP_UP,
    CODE_SUSPICIOUS,
    combined_logit,
    counted_parts,
    decide,
)
from cursorprint.stream.records.reasons import (
    REASON_AUTOMATION,
    REASON_NO_USER_HEAD,
    REASON_REPLAYED,
    REASON_TOO_FEW_EVENTS,
)
from cursorprint.stream.stores.live_scores import LABEL_FRAUD, LABEL_OWNER, LiveState
from tests.stream.decide.parts import part

POLICY = SitePolicy(step_up=0.5, deny=0.9, min_seconds=3.0, min_windows=2)
OWNER = "demo|" + "a" * 32


def state(*parts: object, label: str | None = None) -> LiveState:
    return LiveState(owner=OWNER, parts=list(parts), label=label)  # type: ignore[arg-type]


@pytest.mark.parametrize(("score", "decision", "code"), [
    (0.1, "allow", None), (0.5, "step_up", CODE_STEP_UP), (0.89, "step_up", CODE_STEP_UP),
    (0.9, "deny", CODE_DENY), (0.99, "deny", CODE_DENY)])
def test_thresholds(score: float, decision: str, code: str | None) -> None:
    d = decide(state(part(score)), POLICY, 5.0)
    assert d.decision == decision
    assert d.reasons == ([code] if code else [])
    assert (d.score, d.windows_scored, d.seconds_of_movement) == (pytest.approx(score), 2, 4.0)
    assert (d.model_version, d.head_version, d.evaluated_at) == ("m1", "h1", 5.0)


def test_unknown_session_is_not_enough_data_never_a_guess() -> None:
    d = decide(LiveState(), POLICY, 1.0)
    assert (d.decision, d.score, d.reasons, d.windows_scored) == (
        "not_enough_data", None, [CODE_SESSION_UNKNOWN], 0)
    d = decide(LiveState(owner=OWNER, label=LABEL_OWNER), POLICY, 1.0)  # labelled, not scored
    assert d.decision == "not_enough_data"


def test_minimum_evidence() -> None:
    assert decide(state(part(0.1, windows=1)), POLICY, 0).reasons == [CODE_FEW_WINDOWS]
    d = decide(state(part(0.1, seconds=2.9)), POLICY, 0)
    assert (d.decision, d.reasons) == ("not_enough_data", [CODE_LITTLE_MOVEMENT])
    # evidence adds up over the windows of an open segment
    d = decide(state(part(0.1, part=0, windows=1, seconds=2), part(0.1, part=1, windows=1,
                                                                  seconds=2)), POLICY, 0)
    assert (d.decision, d.windows_scored, d.seconds_of_movement) == ("allow", 2, 4.0)


def test_no_user_head_is_not_enough_data() -> None:
    d = decide(state(part(0.05, reasons=[REASON_NO_USER_HEAD], head="population:p")), POLICY, 0)
    assert d.decision == "not_enough_data" and d.reasons == [REASON_NO_USER_HEAD]


def test_suspicious_movement_never_allows() -> None:
    d = decide(state(part(0.1, reasons=[REASON_REPLAYED])), POLICY, 0)
    assert (d.decision, d.reasons) == ("step_up", [CODE_SUSPICIOUS, REASON_REPLAYED])
    d = decide(state(part(0.1, reasons=[REASON_TOO_FEW_EVENTS])), POLICY, 0)
    assert d.decision == "allow" and d.reasons == [REASON_TOO_FEW_EVENTS]


def test_suspicious_movement_steps_up_without_a_head_or_much_evidence() -> None:
    """A bot on a new account, or a two-second bot visit, is not waved through as no data."""
    no_head = part(0.05, reasons=[REASON_NO_USER_HEAD, REASON_AUTOMATION], head="population:p")
    d = decide(state(no_head), POLICY, 0)
    assert (d.decision, d.reasons) == ("step_up", [CODE_SUSPICIOUS, REASON_NO_USER_HEAD,
                                                   REASON_AUTOMATION])
    d = decide(state(part(0.1, windows=1, reasons=[REASON_AUTOMATION])), POLICY, 0)
    assert (d.decision, d.reasons[0]) == ("step_up", CODE_SUSPICIOUS)
    d = decide(state(part(0.1, seconds=1.0, reasons=[REASON_REPLAYED])), POLICY, 0)
    assert (d.decision, d.reasons[0]) == ("step_up", CODE_SUSPICIOUS)
    # a deny score with enough evidence still denies
    assert decide(state(part(0.95, reasons=[REASON_AUTOMATION])), POLICY, 0).decision == "deny"


def test_fraud_label_denies() -> None:
    d = decide(state(part(0.1), label=LABEL_FRAUD), POLICY, 0)
    assert (d.decision, d.reasons[0]) == ("deny", CODE_FRAUD_CONFIRMED)
    assert decide(LiveState(owner=OWNER, label=LABEL_FRAUD), POLICY, 0).decision == "deny"


def test_a_closed_segment_replaces_its_windows_and_segments_add_up() -> None:
    w0, w1 = part(0.99, part=0, windows=2), part(0.99, part=1, windows=2)
    final = part(0.2, part="final", windows=5, seconds=10.0, at=2000.0)
    nxt = part(0.2, segment=1, part=0, windows=1, seconds=1.0, at=3000.0)
    assert counted_parts([w0, w1, final, nxt]) == [final, nxt]
    d = decide(state(w0, w1, final, nxt), POLICY, 0)
    assert (d.decision, d.windows_scored, d.seconds_of_movement) == ("allow", 6, 11.0)
    assert d.score == pytest.approx(0.2)


def test_scores_combine_in_logit_space_weighted_by_windows() -> None:
    d = decide(state(part(0.9, part=0, windows=1), part(0.1, part=1, windows=1)), POLICY, 0)
    assert d.score == pytest.approx(0.5)
    d = decide(state(part(0.0, part=0, windows=3), part(1.0, part=1, windows=1)), POLICY, 0)
    assert 0 < d.score < 0.5                       # exact 0 and 1 do not break the mean


def test_combined_logit_is_the_window_weighted_mean_logit() -> None:
    z = combined_logit([part(0.9, part=0, windows=3), part(0.5, part=1, windows=1)])
    assert z == pytest.approx(3 * math.log(9.0) / 4)
    assert combined_logit([part(1.0)]) == pytest.approx(math.log((1 - 1e-6) / 1e-6))
    assert combined_logit([part(1.0)], eps=1e-15) > 30.0    # a smaller eps: near-1 scores rank
    with pytest.raises(ValueError, match="no parts"):
        combined_logit([])


def test_policy_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="step_up"):
        SitePolicy(step_up=0.9, deny=0.5)
