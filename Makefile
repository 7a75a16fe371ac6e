# The two commands of the README: `make run` (the main job) and `make test` (every check).
PY ?= .venv/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: install install-test run test test-fast lint typecheck pytest stack-up stack-down clean

install:
	bash scripts/install.sh

install-test:
	bash scripts/install.sh --test-tools

run: install
	$(PY) -m cursorprint.stream.cli stack up
	$(PY) -m cursorprint.stream.cli run

test: install-test lint typecheck pytest

lint:
	$(PY) -m ruff check stream model tests bench

# mypy reads the packages under their import names (cursorprint.stream, cursorprint.model) through
# links, so every cross-module import is checked instead of resolving to Any.
typecheck:
	mkdir -p .cursorprint/typecheck/cursorprint
	ln -sfn ../../../stream .cursorprint/typecheck/cursorprint/stream
	ln -sfn ../../../model .cursorprint/typecheck/cursorprint/model
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
k8s-check: install-test
	$(PY) -m pytest -q -p no:cacheprovider tests/ops/test_k8s.py tests/ops/test_k8s_apiserver.py tests/ops/test_yamllint.py

# The OCI image without a daemon (mmdebstrap + umoci, Debian packages only; root):
# dist/cursorprint-<version>-cpu.oci.tar; FLAVOUR=gpu for the CUDA build. image/Containerfile is
# the same recipe for Docker/Podman.
.PHONY: image
image: install
	FLAVOUR=$${FLAVOUR:-cpu} PY=$(PY) bash image/build.sh

# Runs the image's entrypoint (from the unpacked archive, as user 10001) against a private local
# stack until `cursorprint worker scorer` answers /readyz (root; a few minutes).
.PHONY: image-try-scorer
image-try-scorer: install
	FLAVOUR=$${FLAVOUR:-cpu} PY=$(PY) bash image/try_scorer.sh
