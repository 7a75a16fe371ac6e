"""The worker app's wiring, in-process (building a Faust app connects to nothing): each role gets
exactly its agents, its own consumer group, and the web views operators rely on."""

from __future__ import annotations

from pathlib import Path

import faust
import pytest

from cursorprint.stream.settings import load_settings
from cursorprint.stream.worker.app import ROLES, create_app

AGENTS = {"sessionizer": {"sessionize", "idle-close"}, "scorer": {"score", "enroll"}}


def _agent_names(app: faust.App) -> set[str]:
    return {agent.name for agent in app.agents.values()}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_has_its_agents_and_consumer_group(role: str, tmp_path: Path) -> None:
    settings = load_settings(environ={}, home=tmp_path)
    app = create_app(settings, role, model_dir=tmp_path / "model")
    want = AGENTS["sessionizer"] | AGENTS["scorer"] if role == "all" else AGENTS[role]
    assert _agent_names(app) == want
    assert app.conf.id == f"cursorprint-{role}"


def test_web_views_are_registered(tmp_path: Path) -> None:
    app = create_app(load_settings(environ={}, home=tmp_path), "sessionizer")
    assert {"/metrics", "/healthz", "/readyz", "/demo", "/v1/scores/{sid}",
            "/v1/explain/{sid}"} <= set(app.web.views)


def test_an_unknown_role_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'scorers'"):
        create_app(load_settings(environ={}, home=tmp_path), "scorers")
