# The two commands of the README: `make run` (the main job) and `make test` (every check).
PY ?= .venv/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: install run test test-fast lint typecheck pytest stack-up stack-down clean

install:
	bash scripts/install.sh

run: install
	$(PY) -m cursorprint.stream.cli stack up
	$(PY) -m cursorprint.stream.cli run

test: install lint typecheck pytest

lint:
	$(PY) -m ruff check stream model tests bench

typecheck:
	$(PY) -m mypy

pytest:
	$(PY) -m pytest -q -p no:cacheprovider --durations=15 tests

# In-process tests only (no broker, Redis, browser or API server): the quick loop while working.
test-fast:
	$(PY) -m pytest -q -p no:cacheprovider -m "not integration and not e2e" tests

stack-up: install
	$(PY) -m cursorprint.stream.cli stack up

stack-down:
	$(PY) -m cursorprint.stream.cli stack down

clean: stack-down
	rm -rf .cursorprint runs

# Regenerates the hash-checked locks in requirements/ from pyproject.toml (Linux x86_64,
# Python 3.11): ci = dev + cpu extras (what install.sh and CI install), runtime-cpu and
# runtime-gpu (the image flavours). Needs the network to PyPI.
LOCK_FLAGS = --python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes \
	--custom-compile-command "make lock" --quiet
.PHONY: lock k8s-check
lock:
	$(PY) -m uv pip compile pyproject.toml --extra dev --extra cpu $(LOCK_FLAGS) -o requirements/ci.txt
	$(PY) -m uv pip compile pyproject.toml --extra cpu $(LOCK_FLAGS) -o requirements/runtime-cpu.txt
	$(PY) -m uv pip compile pyproject.toml --extra gpu $(LOCK_FLAGS) -o requirements/runtime-gpu.txt

# The manifest checks alone: schema validation and the real API server's server-side dry run.
k8s-check: install
	$(PY) -m pytest -q -p no:cacheprovider tests/ops/test_k8s.py tests/ops/test_k8s_apiserver.py tests/ops/test_yamllint.py
