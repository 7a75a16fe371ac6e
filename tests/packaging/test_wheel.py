"""The built wheel works outside the checkout: installed into a fresh virtual environment and run
from an empty folder, `cursorprint --help`, `ingest --demo` serving the collector bundle (package
data) over HTTP, and `train --synthetic` all work, and every import resolves to the installed
wheel, never to the source tree.

The fresh venv gets the wheel alone (`--no-deps`); its dependencies (TensorFlow and the rest,
already installed in the project's venv) are reached through a `.pth` line naming the project
venv's site-packages. A plain path line only appends that folder to sys.path; the `.pth` files in
it (among them the editable install's finder, which maps `cursorprint` to the checkout) are not
run, so the checkout cannot leak in — and the test asserts where the modules came from.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from cursorprint.stream.devtools.readiness import wait_ready
from cursorprint.stream.devtools.stack import free_port
from tests.support.paths import COLLECTOR_DIR, REPO

# a wheel build, a venv, real subprocesses and a training run: not for `make test-fast`
pytestmark = pytest.mark.integration

BUNDLE = ("cursorprint.min.js", "cursorprint.esm.js")
# what a wheel is built from (setup.py and MANIFEST.in name the rest); copied so that setuptools'
# build/ and egg-info land in the temporary folder, not in the shared checkout
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "stream", "model")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    run_dir: Path      # an empty folder outside the checkout: the commands' working directory
    env: dict[str, str]

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / "cursorprint"), *args], cwd=self.run_dir,
                              env=self.env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    # the collector bundle the wheel must carry: built from the checkout's source, as install.sh does
    subprocess.run(["npm", "run", "--silent", "build"], cwd=COLLECTOR_DIR, check=True, timeout=120)
    src = base / "src"
    src.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, src / name)
    shutil.copytree(COLLECTOR_DIR / "dist", src / "collector_js" / "dist")
    # the project venv's setuptools builds it (no build isolation: nothing is downloaded)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "--disable-pip-version-check", "-w", str(base / "dist"),
                    str(src)], check=True, timeout=300)
    (wheel,) = (base / "dist").glob("cursorprint-*.whl")

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "-q", "--no-deps", "--no-index", "--disable-pip-version-check",
                    str(wheel)], check=True, timeout=300)
    fresh_site = Path(subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    project_site = sysconfig.get_paths()["purelib"]      # this interpreter is the project venv's
    (fresh_site / "zz_project_dependencies.pth").write_text(project_site + "\n")

    run_dir = base / "run"
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CURSORPRINT_", "PYTHON", "VIRTUAL_ENV"))}
    env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
                "VIRTUAL_ENV": str(venv), "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"})
    return Installed(wheel, venv, run_dir, env)


def test_the_wheel_carries_the_collector_bundle(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as whl:
        names = set(whl.namelist())
        for name in BUNDLE:
            inside = f"cursorprint/stream/static/collector/{name}"
            assert inside in names, f"{inside} missing from {installed.wheel.name}"
            assert whl.read(inside) == (COLLECTOR_DIR / "dist" / name).read_bytes()
    assert "cursorprint/stream/static/demo.html" in names


def test_imports_resolve_to_the_installed_wheel(installed: Installed) -> None:
    probe = ("import json, sys, cursorprint.stream, cursorprint.model, cursorprint.stream.cli; "
             "print(json.dumps({'files': [cursorprint.stream.__file__, cursorprint.model.__file__,"
             " cursorprint.stream.cli.__file__], 'path': list(cursorprint.__path__),"
             " 'sys_path': sys.path}))")
    out = subprocess.run([str(installed.bin / "python"), "-c", probe], cwd=installed.run_dir,
                         env=installed.env, check=True, capture_output=True, text=True)
    found = json.loads(out.stdout)
    site = installed.venv.resolve()
    for f in [*found["files"], *found["path"]]:
        assert Path(f).resolve().is_relative_to(site), f"{f} is not from the installed wheel"
    assert not any(Path(p).resolve() == REPO for p in found["sys_path"] if p), found["sys_path"]


def test_help_runs_from_an_empty_folder(installed: Installed) -> None:
    done = installed.run("--help", timeout=120)
    assert done.returncode == 0, done.stderr
    for command in ("ingest", "worker", "train", "decide"):
        assert command in done.stdout


def test_ingest_demo_serves_the_packaged_collector(installed: Installed) -> None:
    port = free_port()
    env = {**installed.env,
           # a broker address nothing answers on: serving the demo and the collector needs none
           "CURSORPRINT_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    log = installed.run_dir / "ingest.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(installed.bin / "cursorprint"), "ingest", "--demo",
                                 "--port", str(port)], cwd=installed.run_dir, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_ready(f"{base}/healthz", proc, timeout=120)
        except Exception as exc:
            raise AssertionError(f"{exc}\n{log.read_text(errors='replace')[-3000:]}") from None
        for name in BUNDLE:
            with urllib.request.urlopen(f"{base}/collector/{name}", timeout=10) as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/javascript")
                assert r.read() == (COLLECTOR_DIR / "dist" / name).read_bytes()
        with urllib.request.urlopen(f"{base}/demo", timeout=10) as r:
            assert "/collector/cursorprint.min.js" in r.read().decode()
    finally:
        proc.terminate()
        proc.wait(30)


def test_train_synthetic_writes_a_model_outside_the_checkout(installed: Installed) -> None:
    out = installed.run_dir / "model"
    done = installed.run("train", "--synthetic", "--out", str(out), "--epochs", "1",
                         "--windows-per-user", "40", "--head-windows-per-user", "40")
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads((out / "model.json").read_text())
    assert info["extra"]["synthetic"] is True
    assert len(info["users"]) == 6


def test_a_missing_data_set_is_named(installed: Installed) -> None:
    """Outside the checkout there is no ../shared/datasets: the error names the setting and the
    path instead of failing somewhere inside the reader."""
    missing = installed.run_dir / "no-datasets"
    done = subprocess.run([str(installed.bin / "cursorprint"), "bots", "train", "--corpus",
                           str(installed.run_dir), "--out", str(installed.run_dir / "bots")],
                          cwd=installed.run_dir, capture_output=True, text=True, timeout=120,
                          env={**installed.env, "CURSORPRINT_DATA_DIR": str(missing)})
    assert done.returncode == 2
    assert (f"CURSORPRINT_DATA_DIR={str(missing)!r}: no sapimouse data set at "
            f"{missing / 'sapimouse'}") in done.stderr
