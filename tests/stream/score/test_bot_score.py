"""The bot score in the scorer (pure logic: stand-in identity model, a tiny bot model trained
here): ``bot_score`` on every score record, ``automation_suspected`` at the site's bot threshold,
the same verdict as the offline ``cursorprint score``, and sessions that are not mouse input
judged by neither model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import faust
import pytest

from cursorprint.model.bots.model import BOT_MODEL_FILE
from cursorprint.stream.cli.root import main
from cursorprint.stream.enroll.enroller import Enroller
from cursorprint.stream.records.reasons import (
    REASON_ABOVE_THRESHOLD,
    REASON_AUTOMATION,
    REASON_NOT_MOUSE,
    REASON_TOO_SHORT,
)
from cursorprint.stream.records.scores import ScoreRecord
from cursorprint.stream.records.session import SessionRecord
from cursorprint.stream.score.agent import add_scorer
from cursorprint.stream.score.microbatch import MicroBatchScorer
from cursorprint.stream.score.runtime import LoadedModel, ModelRuntime, bot_model
from cursorprint.stream.settings import SettingsError, load_settings, sections
from cursorprint.stream.testing import (
    DeadLetters,
    MemoryEnrolments,
    MemoryHeads,
    MemoryLiveScores,
    RecordingSink,
    StandInModel,
    stand_in_head,
)
from tests.stream.score.bots import tiny_bot_model
from tests.stream.score.people import humans, record_value, scripts
from tests.stream.score.test_microbatch import OWNER, everywhere, record

HUMAN = humans(1, seed=71)[0]     # scores well under the tiny model's threshold (~0.2)
SCRIPT = scripts(1, seed=72)[0]   # ... well over it (~0.95)


def scorer(alert_threshold: float = 10.0, **settings_env: str) -> MicroBatchScorer:
    """The stand-in's identity scores go past 1 (its scores are x / 1000): the default identity
    threshold makes no alert."""
    s = load_settings(environ=settings_env)
    return MicroBatchScorer(StandInModel(MemoryHeads({OWNER: stand_in_head()})),
                            everywhere(alert_threshold), bot=tiny_bot_model(),
                            bot_threshold_for=s.scorer.bot_threshold_for)


def touch_like(sid: str, pointer: str) -> bytes:
    return SessionRecord.from_trajectory(SCRIPT, session_id=sid, user=OWNER, site="demo",
                                         pointer=pointer).to_bytes()


def test_every_score_carries_the_bot_score_and_a_script_alerts_on_it_alone() -> None:
    res = scorer().score_batch([record_value("bot", SCRIPT), record_value("human", HUMAN)])
    bot, human = res.scores
    assert bot.bot_score is not None and bot.bot_score >= 0.5
    assert human.bot_score is not None and human.bot_score < 0.5
    assert REASON_AUTOMATION in bot.reasons and REASON_AUTOMATION not in human.reasons
    # no identity score is above the threshold: the alert comes from the bot score
    assert bot.score is not None and bot.score < 10.0
    [alert] = res.alerts
    assert alert.session_id == "bot" and REASON_ABOVE_THRESHOLD not in alert.reasons
    assert alert.reasons == bot.reasons and alert.bot_score == bot.bot_score
    assert alert.bot_threshold == 0.5


def test_the_site_bot_threshold_decides_and_the_identity_threshold_still_alerts() -> None:
    mbs = scorer(alert_threshold=0.0, CURSORPRINT_SITE_BOT_THRESHOLDS="lenient=1,strict=0.01")
    res = mbs.score_batch([record_value("b1", SCRIPT, site="lenient"),
                           record_value("h1", HUMAN, site="strict")])
    bot, human = res.scores
    assert REASON_AUTOMATION not in bot.reasons      # a cut of 1 never flags
    assert REASON_AUTOMATION in human.reasons        # 0.01: nearly everything is flagged
    assert [a.reasons[0] for a in res.alerts] == [REASON_ABOVE_THRESHOLD] * 2
    assert [a.bot_threshold for a in res.alerts] == [1.0, 0.01]


def test_the_stream_gives_the_offline_score_commands_verdict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny_bot_model().save(tmp_path)
    values = [record_value("bot", SCRIPT), record_value("human", HUMAN)]
    (tmp_path / "sessions.jsonl").write_bytes(b"\n".join(values) + b"\n")
    assert main(["score", "--model", str(tmp_path), str(tmp_path / "sessions.jsonl")]) == 0
    offline = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # the worker's loader reads the same file
    mbs = MicroBatchScorer(StandInModel(), everywhere(1.0), bot=bot_model(tmp_path))
    streamed = mbs.score_batch(values).scores
    assert [round(s.bot_score or -1, 4) for s in streamed] == [o["bot_score"] for o in offline]
    for s, o in zip(streamed, offline, strict=True):
        assert set(o["bot_reasons"]) <= set(s.reasons)
        assert (REASON_AUTOMATION in s.reasons) == (REASON_AUTOMATION in o["reasons"])


def test_too_little_movement_and_no_bot_model_give_no_bot_score(tmp_path: Path) -> None:
    [short] = scorer().score_batch([record("five", OWNER, 100.0, 5)]).scores
    assert short.bot_score is None and REASON_TOO_SHORT in short.reasons
    assert bot_model(tmp_path) is None            # no bot.json in the model directory
    plain = MicroBatchScorer(StandInModel(), everywhere(1.0))
    [s] = plain.score_batch([record_value("bot", SCRIPT)]).scores
    assert s.bot_score is None and REASON_AUTOMATION not in s.reasons
    assert s.score is not None


def test_a_bot_model_for_other_features_stops_the_worker(tmp_path: Path) -> None:
    tiny_bot_model().save(tmp_path)
    path = tmp_path / BOT_MODEL_FILE
    path.write_text(path.read_text().replace('"dt_cv"', '"renamed"', 1))
    with pytest.raises(ValueError, match="other bot features"):
        bot_model(tmp_path)


@pytest.mark.parametrize("pointer", ["pen", "touch", "mixed"])
def test_input_that_is_not_a_mouse_meets_neither_model(pointer: str) -> None:
    stand_in = StandInModel()
    mbs = MicroBatchScorer(stand_in, everywhere(0.0), bot=tiny_bot_model(),
                           bot_threshold_for=everywhere(0.0))
    res = mbs.score_batch([touch_like("t1", pointer)], now_ms=7.0)
    [s] = res.scores
    assert (s.score, s.bot_score, s.reasons, s.window_scores) == (None, None,
                                                                  [REASON_NOT_MOUSE], [])
    assert s.session_id == "t1" and s.scored_at == 7.0
    assert res.alerts == [] and res.dead == [] and stand_in.embed_calls == []
    # next to mouse sessions in one micro-batch, only the mouse ones reach the model
    res = mbs.score_batch([touch_like("t2", pointer), record_value("m", HUMAN)])
    assert {s.session_id: s.score is None for s in res.scores} == {"t2": True, "m": False}
    assert [a.session_id for a in res.alerts] == ["m"]


def test_score_records_round_trip_and_old_ones_decode_without_bot_score() -> None:
    [s] = scorer().score_batch([record_value("bot", SCRIPT)]).scores
    obj = ScoreRecord.from_bytes(s.to_bytes())
    assert obj["bot_score"] == s.bot_score and obj["score"] == s.score
    del obj["bot_score"]
    assert ScoreRecord.from_bytes(json.dumps(obj).encode())["bot_score"] is None


def test_bot_thresholds_are_settings_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings(environ={"CURSORPRINT_BOT_THRESHOLD": "0.7",
                               "CURSORPRINT_SITE_BOT_THRESHOLDS": "shop=0.6, bank=0.95",
                               "CURSORPRINT_SITE_THRESHOLDS": "shop=0.3"}).scorer
    # a lookup never parses again (the scorer looks up thresholds for every session)
    monkeypatch.setattr(sections, "_site_values", lambda *_: pytest.fail("parsed again"))
    assert (s.bot_threshold_for("shop"), s.bot_threshold_for("bank"),
            s.bot_threshold_for("other")) == (0.6, 0.95, 0.7)
    assert (s.threshold_for("shop"), s.threshold_for("other")) == (0.3, 0.8)
    assert s.bot_thresholds() == {"shop": 0.6, "bank": 0.95}


@pytest.mark.parametrize("var,value", [
    ("CURSORPRINT_BOT_THRESHOLD", "1.5"),
    ("CURSORPRINT_BOT_THRESHOLD", "-0.1"),
    ("CURSORPRINT_SITE_BOT_THRESHOLDS", "shop=high"),
    ("CURSORPRINT_SITE_BOT_THRESHOLDS", "shop=2"),
    ("CURSORPRINT_SITE_BOT_THRESHOLDS", "=0.5"),
])
def test_a_bad_bot_threshold_names_its_variable(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=var):
        load_settings(environ={var: value})


async def test_the_agent_publishes_not_mouse_scores_but_keeps_them_out_of_live_scores(
        tmp_path: Path) -> None:
    settings = load_settings(environ={"CURSORPRINT_SCORER_BATCH_SIZE": "2",
                                      "CURSORPRINT_SCORER_BATCH_WITHIN_S": "0.05"},
                             home=tmp_path)
    app = faust.App("bot-score-test", broker="kafka://never-contacted:9092", store="memory://",
                    datadir=str(tmp_path / "faust"))
    app.finalize()
    model = StandInModel()
    mbs = MicroBatchScorer(model, everywhere(0.0), bot=tiny_bot_model())
    runtime = ModelRuntime(lambda: LoadedModel(model, mbs, Enroller(model, model.heads,
                                                                     MemoryEnrolments())))
    scores, alerts, live = RecordingSink(), RecordingSink(), MemoryLiveScores()
    agent = add_scorer(app, settings, runtime, {}, DeadLetters(), lambda raws, res: None,
                       scores=scores, alerts=alerts, live=live)
    try:
        async with agent.test_context() as tested:
            await tested.put(touch_like("touch-sid", "touch"), wait=False)
            await tested.put(record_value("mouse-sid", SCRIPT), wait=False)

            async def published() -> None:     # live scores are written after publishing
                while len(scores.records) < 2 or not (await live.read("mouse-sid")).parts:
                    await asyncio.sleep(0.01)
            await asyncio.wait_for(published(), 30.0)
    finally:
        runtime.close()
    by_sid = {v["session_id"]: v for v in (json.loads(raw) for _, raw in scores.records)}
    assert by_sid["touch-sid"]["score"] is None and by_sid["touch-sid"]["bot_score"] is None
    assert by_sid["mouse-sid"]["bot_score"] is not None
    assert [json.loads(raw)["session_id"] for _, raw in alerts.records] == ["mouse-sid"]
    assert (await live.read("touch-sid")).parts == []
    assert len((await live.read("mouse-sid")).parts) == 1
