"""Every kustomize overlay is accepted by a real Kubernetes API server, and a broken manifest is
refused with the server's own message. etcd + kube-apiserver (tests/support/k8s.py: ApiServer)
start on loopback with private ports and directories; the upstream Strimzi, KEDA and Gateway API
CRDs are installed; each overlay goes through `kubectl apply --dry-run=server` (strict field
validation, the CRDs' OpenAPI schemas and CEL rules, admission). The binaries come from
scripts/install.sh --test-tools; a missing one fails the test, it never skips."""

from __future__ import annotations

import copy
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.support.k8s import OVERLAYS, ApiServer, build, crd_documents

pytestmark = pytest.mark.integration

NAMESPACE = "cursorprint"


def _dump(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    api = ApiServer(tmp_path_factory.mktemp("apiserver"))
    try:
        api.start()
        crds = crd_documents()
        # server-side apply: Strimzi's CRDs exceed the client-side last-applied annotation limit
        api.kubectl("apply", "--server-side", "-f", "-", stdin=_dump(crds))
        api.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                    *[f"crd/{c['metadata']['name']}" for c in crds])
        # a dry run creates nothing, so the namespaced objects need their namespace for real
        namespace = [d for d in build("base") if d["kind"] == "Namespace"]
        assert [d["metadata"]["name"] for d in namespace] == [NAMESPACE]
        api.kubectl("apply", "-f", "-", stdin=_dump(namespace))
        yield api
    finally:
        api.stop()


def _dry_run(api: ApiServer, docs: list[dict[str, Any]],
             check: bool = True) -> subprocess.CompletedProcess[str]:
    return api.kubectl("apply", "--dry-run=server", "--validate=strict", "-f", "-",
                       stdin=_dump(docs), check=check)


def test_server_is_real(server: ApiServer) -> None:
    version = yaml.safe_load(server.kubectl("version", "-o", "yaml").stdout)["serverVersion"]
    assert (version["major"], version["minor"]) == ("1", "35")
    served = server.kubectl("api-resources", "-o", "name").stdout.split()
    for resource in ("kafkas.kafka.strimzi.io", "kafkanodepools.kafka.strimzi.io",
                     "kafkatopics.kafka.strimzi.io", "scaledobjects.keda.sh",
                     "httproutes.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io"):
        assert resource in served


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_is_accepted_by_the_api_server(server: ApiServer, overlay: str) -> None:
    docs = build(overlay)
    out = _dry_run(server, docs).stdout
    accepted = re.findall(r"^(\S+) (?:created|configured|unchanged) \(server dry run\)$", out,
                          flags=re.M)
    assert len(accepted) == len(docs), out
    kinds = {a.split("/")[0].split(".")[0] for a in accepted}
    assert {"kafka", "kafkanodepool", "kafkatopic", "scaledobject", "httproute", "gateway",
            "deployment", "networkpolicy"} <= kinds, kinds


def _broken(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


@pytest.mark.parametrize(("kind", "name", "breaks", "message"), [
    ("Kafka", "cursorprint", lambda d: d["spec"]["kafka"].update(listners=[]),
     'unknown field "spec.kafka.listners"'),
    ("Deployment", "ingest",
     lambda d: d["spec"]["template"]["spec"]["containers"][0].update(imagePullPolicyy="Always"),
     'unknown field "spec.template.spec.containers[0].imagePullPolicyy"'),
    ("KafkaTopic", "sessions", lambda d: d["spec"].update(partitions="many"),
     "spec.partitions in body must be of type integer"),
    ("HTTPRoute", "ingest",
     lambda d: d["spec"]["rules"][0]["matches"][0]["path"].update(type="Prefixx"),
     'Unsupported value: "Prefixx"'),
    ("ScaledObject", "scorer", lambda d: d["spec"].pop("triggers"),
     "spec.triggers: Required value"),
])
def test_a_broken_manifest_is_refused(server: ApiServer, kind: str, name: str, breaks: Any,
                                      message: str) -> None:
    docs = copy.deepcopy(build("overlays/dev"))
    breaks(_broken(docs, kind, name))
    proc = _dry_run(server, docs, check=False)
    assert proc.returncode != 0, proc.stdout
    # the server's own message (kubectl prints it as "Error from server ..." or "... is invalid")
    assert message in proc.stderr, proc.stderr


def test_removed_strimzi_api_is_refused(server: ApiServer) -> None:
    docs = copy.deepcopy(build("overlays/dev"))
    _broken(docs, "Kafka", "cursorprint")["apiVersion"] = "kafka.strimzi.io/v1beta2"
    proc = _dry_run(server, docs, check=False)
    assert proc.returncode != 0
    assert 'no matches for kind "Kafka" in version "kafka.strimzi.io/v1beta2"' in proc.stderr, \
        proc.stderr
