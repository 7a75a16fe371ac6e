"""The one build step pyproject.toml cannot declare: the browser collector's bundle goes into the
wheel as package data.

`npm run build` in collector_js/ writes the bundle to collector_js/dist/ (ignored by git); a
wheel copies it to cursorprint/stream/static/collector/, where `cursorprint ingest --demo` and
the worker's demo page find it when installed (stream/ingest/demo.py:collector_dist). An
editable install serves collector_js/dist/ in place instead, so nothing is copied for it.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# the files ingest serves (stream/ingest/demo.py COLLECTOR_FILES)
BUNDLE = ("cursorprint.min.js", "cursorprint.esm.js")
SOURCE = Path(__file__).resolve().parent / "collector_js" / "dist"


class BuildPyWithCollector(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        missing = [SOURCE / name for name in BUNDLE if not (SOURCE / name).is_file()]
        if missing:
            raise SystemExit(f"cursorprint wheel: {missing[0]} is missing: build the collector "
                             "first (cd collector_js && npm ci && npm run build)")
        target = Path(self.build_lib) / "cursorprint" / "stream" / "static" / "collector"
        self.mkpath(str(target))
        for name in BUNDLE:
            self.copy_file(str(SOURCE / name), str(target / name))


setup(cmdclass={"build_py": BuildPyWithCollector})
