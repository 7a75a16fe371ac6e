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
