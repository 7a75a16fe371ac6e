"""The wheel holds every package of the source tree: a package missing from pyproject's list
installs fine from the checkout (editable) and breaks only in the image or a wheel install."""

from __future__ import annotations

import tomllib

from tests.support.paths import REPO


def test_every_source_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    roots = {folder: name for name, folder in config["package-dir"].items()}
    on_disk = set()
    for folder, name in roots.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            on_disk.add(".".join([name, *rel.parts]))
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - on_disk == set(), "listed packages that do not exist"
