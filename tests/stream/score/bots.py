"""Tiny bot models for the scorer's tests, trained in seconds with the training code of
``cursorprint bots train``: bots are synthetic scripts, people synthetic or SapiMouse users."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import pytest

from cursorprint.model.bots.model import BOT_MODEL_FILE, BotModel
from cursorprint.model.bots.train import (
    bot_samples,
    fit_bot_model,
    human_samples,
    sapimouse_users,
)
from tests.stream.score.people import humans, scripts
from tests.support.procs import tiny_model

__all__ = ["tiny_bot_model", "sapimouse_bot_model", "model_with_bot_model", "TEST_PEOPLE"]

#: SapiMouse users the SapiMouse bot model never saw (it trains on 1-4, calibrates on 5-8)
TEST_PEOPLE = range(100, 121)


@cache
def tiny_bot_model() -> BotModel:
    """Synthetic people and scripts, of seeds the tests do not use."""
    people = humans(12, seed=901, events=500)
    bots = [("scripted", "t", t) for t in scripts(10, seed=902, events=300)]
    return fit_bot_model(bot_samples(bots, extra_starts=1),
                         human_samples(people[:6], crops=3, seed=1),
                         human_samples(people[6:], crops=4), target_fpr=0.02)


def sapimouse_bot_model(sapimouse: Path) -> BotModel:
    """SapiMouse users 1-4 as the training people, 5-8 as the calibration people (the
    threshold), synthetic scripts as the only bots: every humanizing library is unseen."""
    bots = [("scripted", "t", t) for t in scripts(10, seed=902, events=300)]
    return fit_bot_model(bot_samples(bots, extra_starts=2),
                         human_samples(sapimouse_users(sapimouse, range(1, 5)), crops=6, seed=1),
                         human_samples(sapimouse_users(sapimouse, range(5, 9)), crops=8),
                         target_fpr=0.02)


def model_with_bot_model(tmp_path_factory: pytest.TempPathFactory, sapimouse: Path) -> Path:
    """The pipeline tests' tiny identity model with :func:`sapimouse_bot_model` next to it (one
    model directory, as ``cursorprint bots train --out`` into a model's folder makes)."""
    out = tmp_path_factory.getbasetemp() / "pipeline-model-with-bots"
    if not (out / BOT_MODEL_FILE).is_file():
        shutil.copytree(tiny_model(tmp_path_factory), out, dirs_exist_ok=True)
        sapimouse_bot_model(sapimouse).save(out)
    return out
