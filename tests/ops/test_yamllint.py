"""yamllint (config: .yamllint at the repo root) on every YAML file git knows, plus the YAML
kustomize renders for each overlay."""

from __future__ import annotations

import subprocess

import pytest
from yamllint import linter
from yamllint.config import YamlLintConfig

from tests.support.k8s import OVERLAYS, REPO, _build

CONFIG = YamlLintConfig(file=str(REPO / ".yamllint"))


def _yaml_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                          "*.yaml", "*.yml"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
    return [f for f in out if (REPO / f).is_file() and not CONFIG.is_file_ignored(f)]


def test_repository_yaml_is_clean() -> None:
    files = _yaml_files()
    assert any(f.startswith("k8s/") for f in files) and any(f.startswith("grafana/") for f in files)
    problems = []
    for f in files:
        for p in linter.run((REPO / f).read_text(), CONFIG, f):
            if p.level == "error":
                problems.append(f"{f}:{p.line}:{p.column}: {p.message} ({p.rule})")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_yaml_parses_cleanly(overlay: str) -> None:
    rendered = _build(overlay)
    errors = [p for p in linter.run(rendered, CONFIG) if p.rule in {"key-duplicates", None}]
    assert not errors, errors


def test_linter_catches_problems() -> None:
    bad = "a: 1\na: 2\nb: [1,2\n"
    assert any(p.level == "error" for p in linter.run(bad, CONFIG))
