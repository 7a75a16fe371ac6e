"""Each contract has one home, and its other copies are checked against it.

* The collector's event codes (``collector_js/src/events.js``, imported with node) equal the
  Python ones (:mod:`cursorprint.stream.records.events`) and the OpenAPI file's.
* ``openapi/ingest.yaml`` states the wire validator's limits (required fields, patterns,
  lengths, ranges, enums).
* Every refusal ingest can answer (each ``RejectedInput``/``WireError``/``TokenError``/
  ``Unavailable`` raised in ``stream/ingest`` and the wire modules, found by reading their
  source) is documented with its status and reason, and nothing documented is stale.
"""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from cursorprint.stream.records import errors, events
from cursorprint.stream.records.page_path import MAX_PATH_CHARS
from cursorprint.stream.records.wire import (
    EVENT_COLUMNS,
    MAX_SAMPLE_COUNT,
    MAX_TOKEN_CHARS,
    OPTIONAL_FIELDS,
    SAMPLING_FIELDS,
    SID_RE,
    SITE_RE,
    WIRE_FIELDS,
    WIRE_VERSION,
    WireLimits,
)
from tests.support.paths import COLLECTOR_DIR

ROOT = Path(__file__).resolve().parents[3]
OPENAPI = ROOT / "openapi" / "ingest.yaml"
# every module whose refusals ingest answers; stream/ingest/demo.py serves only with --demo
# (a developer page, not part of the contract)
REFUSING_MODULES = [*sorted((ROOT / "stream" / "ingest").glob("*.py")),
                    ROOT / "stream" / "records" / "wire.py",
                    ROOT / "stream" / "records" / "strict_json.py",
                    ROOT / "stream" / "records" / "page_path.py"]
NOT_CONTRACT = {ROOT / "stream" / "ingest" / "demo.py"}
REFUSALS = {name: getattr(errors, name) for name in
            ("Refusal", "RejectedInput", "WireError", "TokenError", "Unavailable")}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI.read_text())


def _js_codes() -> dict[str, Any]:
    script = ("import {KIND, BUTTON, PT, SRC, GAP_MS} from './src/events.js';"
              "console.log(JSON.stringify({KIND, BUTTON, PT, SRC, GAP_MS}));")
    run = subprocess.run(["node", "--input-type=module", "-e", script], cwd=COLLECTOR_DIR,
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(run.stdout)


def test_collector_event_codes_are_the_python_ones(spec: dict[str, Any]) -> None:
    js = _js_codes()
    assert js["KIND"] == dict(events.KINDS)
    assert js["BUTTON"] == dict(events.BUTTONS)
    ev = spec["components"]["schemas"]["WireBatch"]["properties"]["ev"]["properties"]
    assert ev["k"]["x-codes"] == dict(events.KINDS)
    assert ev["b"]["x-codes"] == dict(events.BUTTONS)
    assert ev["k"]["items"]["enum"] == sorted(events.KINDS.values())
    assert ev["b"]["items"]["enum"] == sorted(events.BUTTONS.values())


def test_collector_pointer_types_and_sampling_are_the_python_ones(spec: dict[str, Any]) -> None:
    js = _js_codes()
    assert tuple(js["PT"]) == events.POINTER_TYPES
    assert tuple(js["SRC"]) == events.SAMPLING_SOURCES
    assert js["GAP_MS"] == events.SAMPLE_GAP_MS
    schemas = spec["components"]["schemas"]
    pt = schemas["WireBatch"]["properties"]["pt"]
    assert tuple(pt["enum"]) == events.POINTER_TYPES and pt["default"] == events.POINTER_MOUSE
    smp = schemas["Sampling"]
    assert tuple(smp["required"]) == SAMPLING_FIELDS == tuple(smp["properties"])
    assert smp["additionalProperties"] is False
    assert tuple(smp["properties"]["src"]["enum"]) == events.SAMPLING_SOURCES
    assert smp["x-gap-ms"] == events.SAMPLE_GAP_MS
    for name in ("n", "c", "g"):
        prop = smp["properties"][name]
        assert (prop["type"], prop["minimum"], prop["maximum"]) \
            == ("integer", 0, MAX_SAMPLE_COUNT)
    assert smp["properties"]["gms"]["maximum"] == WireLimits().max_dt_ms


def test_collector_uses_the_shared_codes_not_literals() -> None:
    source = (COLLECTOR_DIR / "src" / "collector.js").read_text()
    assert 'from "./events.js"' in source
    assert "move: 0" not in source and "e.button + 1" not in source


def test_openapi_states_the_validators_limits(spec: dict[str, Any]) -> None:
    lim = WireLimits()
    wb = spec["components"]["schemas"]["WireBatch"]
    props = wb["properties"]
    assert set(wb["required"]) == WIRE_FIELDS - OPTIONAL_FIELDS
    assert set(props) == WIRE_FIELDS
    assert wb["additionalProperties"] is False
    assert props["v"]["enum"] == [WIRE_VERSION]
    assert props["site"]["pattern"] == SITE_RE.pattern
    assert props["sid"]["pattern"] == SID_RE.pattern
    assert (props["token"]["minLength"], props["token"]["maxLength"]) == (1, MAX_TOKEN_CHARS)
    assert (props["seq"]["minimum"], props["seq"]["maximum"]) == (0, lim.max_seq)
    assert props["path"]["maxLength"] == lim.max_path == MAX_PATH_CHARS
    assert props["path"]["pattern"] == "^/"
    assert (props["dpr"]["minimum"], props["dpr"]["maximum"]) == (lim.min_dpr, lim.max_dpr)
    assert (props["t0"]["minimum"], props["t0"]["maximum"]) == (0, lim.max_t0)
    size = spec["components"]["schemas"]["Size"]
    assert (size["minItems"], size["maxItems"]) == (2, 2)
    assert (size["items"]["minimum"], size["items"]["maximum"]) == (1, lim.max_size)
    ev = props["ev"]
    assert set(ev["required"]) == set(ev["properties"]) == set(EVENT_COLUMNS)
    assert ev["additionalProperties"] is False
    for name, col in ev["properties"].items():
        assert col["maxItems"] == lim.max_events, name
    cols = ev["properties"]
    assert (cols["dt"]["items"]["minimum"], cols["dt"]["items"]["maximum"]) == (0, lim.max_dt_ms)
    for axis in ("x", "y"):
        assert (cols[axis]["items"]["minimum"], cols[axis]["items"]["maximum"]) \
            == (-lim.max_coord, lim.max_coord)
    assert "2**53" in spec["paths"]["/v1/batches"]["post"]["description"]


def _raised(path: Path) -> list[tuple[str, int, str]]:
    """``(reason, status, where)`` of every refusal constructed in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", None))
        if name not in REFUSALS:
            continue
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        assert node.args and isinstance(node.args[0], ast.Constant), \
            f"{where}: the reason must be a literal, so the contract can be checked"
        status = REFUSALS[name].default_status
        for kw in node.keywords:
            if kw.arg == "status":
                assert isinstance(kw.value, ast.Constant), f"{where}: status must be a literal"
                status = kw.value.value
        out.append((node.args[0].value, status, where))
    return out


def _documented(spec: dict[str, Any]) -> set[tuple[str, int]]:
    found = set()
    for ops in spec["paths"].values():
        for op in ops.values():
            for code, resp in op["responses"].items():
                if "$ref" in resp:
                    resp = spec["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
                found |= {(reason, int(code)) for reason in resp.get("x-reasons", [])}
    return found


def test_every_refusal_is_documented_with_its_status(spec: dict[str, Any]) -> None:
    raised = [r for p in REFUSING_MODULES if p not in NOT_CONTRACT for r in _raised(p)]
    assert len(raised) > 20
    documented = _documented(spec)
    missing = [f"{where}: {status} {reason}" for reason, status, where in raised
               if (reason, status) not in documented]
    assert not missing, "refusals missing from openapi/ingest.yaml:\n" + "\n".join(missing)
    # answered outside a raise: aiohttp's 405 (the middleware keeps it JSON), /readyz's 503
    answered = {(r, s) for r, s, _ in raised} | {("method_not_allowed", 405),
                                                 ("kafka_unavailable", 503)}
    assert documented <= answered, f"documented but never answered: {documented - answered}"


def test_every_operation_documents_405(spec: dict[str, Any]) -> None:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert "405" in op["responses"], f"{method.upper()} {path}"


def test_refusal_classes_carry_their_status() -> None:
    assert errors.WireError("x", "y").status == 422
    assert errors.TokenError("x", "y").status == 401
    assert errors.TokenError("x", "y", status=403).status == 403
    assert errors.Unavailable("x", "y", headers={"Retry-After": "2"}).headers["Retry-After"] == "2"
    assert issubclass(errors.WireError, errors.RejectedInput)
    assert issubclass(errors.TokenError, errors.RejectedInput)
    assert all(issubclass(c, errors.CursorprintError) for c in REFUSALS.values())
