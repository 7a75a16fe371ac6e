"""Every reason code a score or an alert can carry, declared in one place.

Reason codes are a contract with the sites and the dashboards (alert consumers filter on them,
``cursorprint_alerts_total`` counts by them), so each has exactly one spelling, here. ``model/``
cannot import ``stream/``, so the codes the model itself emits stay declared next to the code that
emits them and are re-exported here; ``tests/stream/score/test_reasons.py`` fails when a code
is emitted anywhere without being declared in this module.
"""

from __future__ import annotations

from cursorprint.model.bots.model import REASON_AUTOMATION, REASON_TOO_SHORT
from cursorprint.model.features.remote_access import REASON_REMOTE_ACCESS
from cursorprint.model.features.windows import REASON_TOO_FEW_EVENTS
from cursorprint.model.serving.scoring import REASON_NO_USER_HEAD, REASON_NO_WINDOWS

__all__ = [
    "REASON_TOO_FEW_EVENTS", "REASON_NO_USER_HEAD", "REASON_NO_WINDOWS",
    "REASON_AUTOMATION", "REASON_TOO_SHORT", "REASON_REMOTE_ACCESS",
    "REASON_ABOVE_THRESHOLD", "REASON_HEAD_INCOMPATIBLE", "REASON_HEAD_CACHE_STALE",
    "REASON_STRAIGHT", "REASON_CONSTANT_SPEED", "REASON_NO_JITTER", "REASON_TELEPORT",
    "REASON_REPLAYED", "REASON_REPLAY_UNCHECKED", "REASON_NOT_MOUSE", "declared",
]

# ---- emitted by the model (re-exported above): too_few_events, no_user_head, no_windows (the
# identity model), automation_suspected, bot_too_few_moves (the bot model, model/bots/),
# remote_access_suspected (timing and geometry of a remote-desktop session,
# model/features/remote_access.py; added to mouse sessions' scores by stream/score/microbatch.py)

# ---- alerts
REASON_ABOVE_THRESHOLD = "score_above_threshold"      # first reason of an identity-score alert

# ---- which head scored (besides the model's no_user_head / no_windows)
REASON_HEAD_INCOMPATIBLE = "head_incompatible"        # the user's head fits another model
REASON_HEAD_CACHE_STALE = "head_cache_stale"          # Redis down: a cached head was served

# ---- input the mouse model does not judge: pen, touch or mixed pointer sessions
REASON_NOT_MOUSE = "not_mouse"

# ---- scripted movement (stream/score/scripted.py)
REASON_STRAIGHT = "scripted_straight_lines"
REASON_CONSTANT_SPEED = "constant_speed"
REASON_NO_JITTER = "no_jitter"
REASON_TELEPORT = "teleport"

# ---- replayed recordings (stream/score/replayed.py)
REASON_REPLAYED = "replayed_trajectory"
REASON_REPLAY_UNCHECKED = "replay_check_unavailable"  # fingerprint store failed: no verdict


def declared() -> frozenset[str]:
    """Every reason code declared above (the check of the contract test and of tools that
    validate a reason filter)."""
    return frozenset(v for k, v in globals().items() if k.startswith("REASON_"))
