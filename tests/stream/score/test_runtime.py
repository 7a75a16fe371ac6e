"""The scorer worker's runtime: what the settings switch on, and the model thread."""

from __future__ import annotations

import threading

import pytest

from cursorprint.stream.score.runtime import replay_detector
from cursorprint.stream.settings import SettingsError, load_settings
from cursorprint.stream.stores.fingerprints import RedisFingerprints
from cursorprint.stream.testing import stand_in_runtime


def test_worker_replay_detector_follows_the_settings() -> None:
    assert replay_detector(load_settings(environ={"CURSORPRINT_REPLAY_CHECK": "off"})) is None
    det = replay_detector(load_settings(environ={"CURSORPRINT_REPLAY_TTL_S": "120"}))
    assert det is not None and isinstance(det.store, RedisFingerprints)
    assert det.store.ttl_s == 120
    with pytest.raises(SettingsError, match="CURSORPRINT_REPLAY_TTL_S"):
        load_settings(environ={"CURSORPRINT_REPLAY_TTL_S": "0"})
    with pytest.raises(SettingsError, match="CURSORPRINT_REPLAY_CHECK='maybe'"):
        load_settings(environ={"CURSORPRINT_REPLAY_CHECK": "maybe"})


async def test_the_model_loads_once_and_runs_on_its_own_thread() -> None:
    runtime = stand_in_runtime()
    try:
        first, again = await runtime.ready(), await runtime.ready()
        assert first is again is runtime.loaded
        name = await runtime.run(lambda: threading.current_thread().name)
        assert name.startswith("model") and name != threading.current_thread().name
    finally:
        runtime.close()
