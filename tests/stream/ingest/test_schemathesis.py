"""Schemathesis: ``openapi/ingest.yaml`` against the live ingest service.

A real ``cursorprint ingest`` (subprocess) on the ``stack`` fixture's broker answers every
operation of the OpenAPI file. Schemathesis generates requests from the file, positive (valid
per the schema) and, for ``POST /v1/batches``, negative (invalid per the schema), and runs all
its checks on every answer: no 5xx, status codes, content types, headers and bodies as
documented, schema-valid data accepted, schema-invalid data refused.

A schema hook (``map_case``) makes the requests reach the validator instead of stopping at the
door: it puts the test site in ``site``, a freshly minted JWT for it in ``token`` and an
allowlisted ``Origin`` header. For bodies valid per the schema it also applies the rules OpenAPI cannot say
(documented in the file's descriptions): equal column lengths, a down/up event carries a
button, non-final batches are not empty, ``t0`` within the server's clock window, the batch span
within an hour, the sampling counts ordered (``g <= c``, ``gms <= 100 g``).

Seeded (``derandomize``) and bounded (``max_examples`` per operation and mode), so it runs in
well under a minute and the same way every time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from cursorprint.stream.devtools.stack import Stack
from cursorprint.stream.ingest.identity import mint_token
from cursorprint.stream.records.events import BUTTON_KINDS
from cursorprint.stream.settings import Settings
from tests.support.paths import REPO
from tests.support.procs import Proc, pipeline_env, settings_from_env, start, wait_ready

pytestmark = pytest.mark.integration

OPENAPI = REPO / "openapi" / "ingest.yaml"
SITE, SECRET, ORIGIN = "schema", "schemathesis-secret-0123456789abcdef", "https://schema.example"
EXAMPLES = 25

schema = schemathesis.openapi.from_path(OPENAPI)
# a body valid per the file's WireBatch (negative generation sometimes yields one, and
# schemathesis then expects it accepted)
WIRE_BATCH = jsonschema.Draft4Validator(
    {**yaml.safe_load(OPENAPI.read_text()), "$ref": "#/components/schemas/WireBatch"})


def _fit_positive(body: dict[str, Any]) -> None:
    """Apply the cross-field rules of a valid batch that OpenAPI cannot express."""
    ev = body.get("ev")
    cols = ("dt", "x", "y", "k", "b")
    if isinstance(ev, dict) and all(isinstance(ev.get(c), list) for c in cols):
        n = min(len(ev[c]) for c in cols)
        for c in cols:
            ev[c] = ev[c][:n]
        if n == 0 and not body.get("final"):
            ev.update(dt=[0], x=[0], y=[0], k=[0], b=[0])
        ev["b"] = [b or 1 if k in BUTTON_KINDS else b for k, b in zip(ev["k"], ev["b"],
                                                                         strict=True)]
        total = sum(ev["dt"])
        if total > 3_600_000:
            ev["dt"] = [d * 3_600_000 / total / 1.001 for d in ev["dt"]]
    body["t0"] = time.time() * 1000.0 - 1000.0
    smp = body.get("smp")
    if isinstance(smp, dict):
        smp["c"] = max(smp["c"], smp["n"]) if smp["n"] <= 2_147_483_647 else smp["c"]
        smp["g"] = min(smp["g"], smp["c"])
        smp["gms"] = min(smp["gms"], 100.0 * smp["g"])


@schema.hook
def map_case(context: Any, case: Any) -> Any:
    """Valid site, token and Origin on every request; the cross-field rules on positive ones."""
    if case.operation.path == "/v1/batches" and case.method.upper() == "POST":
        case.headers = {**(case.headers or {}), "Origin": ORIGIN}
        if isinstance(case.body, dict):
            case.body["site"] = SITE
            case.body["token"] = mint_token(SITE, "schemathesis-user", SECRET, ttl_s=3600)
            if WIRE_BATCH.is_valid(case.body):
                _fit_positive(case.body)
    return case


@pytest.fixture(scope="module")
def ingest_url(stack: Stack, stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[str]:
    home: Path = tmp_path_factory.mktemp("schemathesis")
    env = pipeline_env(stack_settings, home, home, CURSORPRINT_SITES=f"{SITE}={SECRET}={ORIGIN}",
                       CURSORPRINT_INGEST_SITE_RATE="100000",
                       CURSORPRINT_INGEST_SITE_BURST="100000")
    proc: Proc = start(["ingest"], env, home / "ingest.log")
    try:
        url = f"http://127.0.0.1:{settings_from_env(env).ingest.port}"
        wait_ready(f"{url}/readyz", proc)
        yield url
    finally:
        proc.stop()


OPERATIONS = [(op.method.upper(), op.path, mode)
              for op in (r.ok() for r in schema.get_all_operations())
              for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
              if mode == GenerationMode.POSITIVE or (op.path, op.method.upper()) == ("/v1/batches", "POST")]


@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS,
                         ids=[f"{m} {p} {mode.value}" for m, p, mode in OPERATIONS])
def test_ingest_answers_as_its_openapi_file_says(ingest_url: str, method: str, path: str,
                                                 mode: GenerationMode) -> None:
    operation = schema[path][method]
    http = requests.Session()
    statuses: list[int] = []

    @settings(max_examples=EXAMPLES, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy(mode))
    def check(case: Any) -> None:
        statuses.append(case.call_and_validate(base_url=ingest_url, session=http).status_code)

    check()
    if (method, path, mode) == ("POST", "/v1/batches", GenerationMode.POSITIVE):
        # the hook's token and fixes work: valid batches get through to the broker
        assert statuses.count(202) >= len(statuses) // 2, sorted(statuses)
