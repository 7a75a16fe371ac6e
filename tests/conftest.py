"""Test tree: folders mirror the packages (tests/stream/<stage>, tests/model/<part>); cross-stage
runs live in tests/pipeline, the collector's browser tests in tests/collector_js, deployment and
dashboards in tests/ops. Helpers live in tests/support, fixtures in tests/fixtures.py."""

pytest_plugins = ["tests.fixtures"]
