"""Scripted movement in the real browser, through the whole pipeline.

A real Chromium (playwright-core, the OS's /usr/bin/chromium) on the ingest demo page, driven
twice by tests/collector_js/drive_abuse.mjs: like a bot (straight, constant-speed strokes, teleports
between clicks) and like a person (curved strokes, bell-shaped speed, jitter). The batches go
ingest -> Kafka -> sessionizer -> scorer (real subprocesses); the bot's final score carries the
scripted-movement reason codes, the person's carries none of them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cursorprint.stream.devtools.stack import Stack
from cursorprint.stream.records.reasons import (
    REASON_CONSTANT_SPEED,
    REASON_NO_JITTER,
    REASON_STRAIGHT,
    REASON_TELEPORT,
)
from cursorprint.stream.settings import Settings
from tests.support.abuse_pipeline import abuse_pipeline, scores_and_alerts
from tests.support.paths import COLLECTOR_DIR

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

DRIVER = Path(__file__).resolve().parent / "drive_abuse.mjs"
SCRIPTED = {REASON_STRAIGHT, REASON_CONSTANT_SPEED, REASON_NO_JITTER, REASON_TELEPORT}


def test_scripted_moves_in_chromium_are_flagged_and_human_moves_are_not(
        stack: Stack, stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
        ) -> None:
    assert (COLLECTOR_DIR / "node_modules" / "playwright-core").is_dir(), \
        "run `npm ci` in collector_js (scripts/install.sh does)"
    subprocess.run(["npm", "run", "--silent", "build"], cwd=COLLECTOR_DIR, check=True, timeout=120)
    with abuse_pipeline(stack_settings, tmp_path_factory) as pipe:
        out = subprocess.run(["node", "--input-type=module", "-e", DRIVER.read_text(),
                              pipe.ingest_url], cwd=COLLECTOR_DIR, capture_output=True, text=True,
                             timeout=240)
        assert out.returncode == 0, out.stderr[-3000:]
        sids = json.loads(out.stdout.strip().splitlines()[-1])
        scores, alerts = scores_and_alerts(pipe.settings, set(sids.values()), timeout=180)

    bot, person = scores[sids["scripted"]], scores[sids["human"]]
    print(f"scripted: {bot['reasons']} ({bot['n_events']} events); "
          f"human: {person['reasons']} ({person['n_events']} events)")
    # positions alone make these two certain: every sample lies on its stroke's line, and
    # every stroke begins with a single-event jump between two clicks
    assert {REASON_STRAIGHT, REASON_TELEPORT} <= set(bot["reasons"]), bot
    assert SCRIPTED & set(alerts[sids["scripted"]]["reasons"]) == SCRIPTED & set(bot["reasons"])
    assert SCRIPTED & set(person["reasons"]) == set(), person
    assert SCRIPTED & set(alerts[sids["human"]]["reasons"]) == set()
