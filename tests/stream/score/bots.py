"""A tiny bot model for the scorer's tests: trained in seconds on synthetic people and scripts
with the training code of ``cursorprint bots train``."""

from __future__ import annotations

from functools import cache

from cursorprint.model.bots.model import BotModel
from cursorprint.model.bots.train import bot_samples, fit_bot_model, human_samples
from tests.stream.score.people import humans, scripts


@cache
def tiny_bot_model() -> BotModel:
    """Trained on seeds the tests do not use, so the tests' people and scripts are unseen."""
    people = humans(12, seed=901, events=500)
    bots = [("scripted", "t", t) for t in scripts(10, seed=902, events=300)]
    return fit_bot_model(bot_samples(bots, extra_starts=1),
                         human_samples(people[:6], crops=3, seed=1),
                         human_samples(people[6:], crops=4), target_fpr=0.02)
