"""Builds the kustomize overlays of k8s/ and validates what they render: core kinds against the
Kubernetes OpenAPI schemas (kubernetes-validate, strict), custom resources against the upstream
CRDs' ``openAPIV3Schema`` (jsonschema, closed objects as the API server's strict field validation
treats them). The CRDs are never copied into the repository: Strimzi 1.2.0 and KEDA 2.20.2 come
from ``../shared/k8s-crds`` (``CURSORPRINT_K8S_CRDS`` overrides), Gateway API from the
``sigs.k8s.io/gateway-api`` Go module that scripts/install.sh unpacks into .cursorprint/crds/.
The real API server test (tests/ops/test_k8s_apiserver.py) installs the same CRDs."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

__all__ = ["REPO", "K8S", "OVERLAYS", "KUBERNETES_VERSION", "GATEWAY_API_VERSION",
           "SHARED_CRDS", "GATEWAY_CRDS", "kustomize_command", "build", "crd_documents",
           "crd_schemas", "to_json_schema", "validate", "api_server_tools", "ApiServer"]

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = ("base", "overlays/dev", "overlays/prod")
# The Kubernetes minor the manifests target: KEDA 2.20 is tested on 1.33-1.35, Strimzi 1.2 needs
# 1.30+; tools/apiserver builds kube-apiserver v1.35.x for the API server test.
KUBERNETES_VERSION = "1.35"
GATEWAY_API_VERSION = "v1.5.1"  # keep equal to GATEWAY_API_VERSION in scripts/install.sh
SHARED_CRDS = Path(os.environ.get("CURSORPRINT_K8S_CRDS", REPO.parent / "shared" / "k8s-crds"))
GATEWAY_CRDS = REPO / ".cursorprint" / "crds" / f"gateway-api-{GATEWAY_API_VERSION}"
# Which upstream CRD folders the manifests rely on (each must exist; a missing one fails loudly).
CRD_SOURCES = (SHARED_CRDS / "strimzi-1.2.0", SHARED_CRDS / "keda-v2.20.2", GATEWAY_CRDS)


def kustomize_command() -> list[str]:
    """The standalone kustomize that scripts/install.sh puts in .cursorprint/bin, else one on
    PATH, else `kubectl kustomize` (the same code)."""
    local = REPO / ".cursorprint" / "bin" / "kustomize"
    if local.exists():
        return [str(local), "build"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    raise AssertionError("no kustomize: run scripts/install.sh")


@cache
def _build(overlay: str) -> str:
    proc = subprocess.run([*kustomize_command(), str(K8S / overlay)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"kustomize build {overlay} failed:\n{proc.stderr}"
    return proc.stdout


def build(overlay: str) -> list[dict[str, Any]]:
    """The rendered resources of ``overlay`` (fresh copies each call)."""
    return [d for d in yaml.safe_load_all(_build(overlay)) if d]


@cache
def _crd_documents() -> tuple[dict[str, Any], ...]:
    docs: list[dict[str, Any]] = []
    for folder in CRD_SOURCES:
        files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
        assert files, (f"no CRDs in {folder}: the Strimzi/KEDA CRDs come from ../shared/k8s-crds "
                       "(or CURSORPRINT_K8S_CRDS), Gateway API's from scripts/install.sh")
        for path in files:
            docs += [d for d in yaml.safe_load_all(path.read_text())
                     if d and d.get("kind") == "CustomResourceDefinition"]
    return tuple(docs)


def crd_documents() -> list[dict[str, Any]]:
    """Every upstream CustomResourceDefinition the manifests may use (fresh copies)."""
    return copy.deepcopy(list(_crd_documents()))


def to_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A CRD's structural OpenAPI v3 schema as a JSON schema with the API server's strict field
    validation: objects that list properties are closed unless they preserve unknown fields;
    ``nullable`` and ``x-kubernetes-int-or-string`` become JSON schema types. CEL rules
    (``x-kubernetes-validations``) are left to the real API server test."""
    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {k: walk(v) if k not in {"enum", "default", "example", "required"} else v
               for k, v in node.items()
               if not k.startswith("x-kubernetes-") and k not in {"nullable", "description"}}
        if isinstance(node.get("properties"), dict):
            out["properties"] = {k: walk(v) for k, v in node["properties"].items()}
        if node.get("x-kubernetes-int-or-string"):
            out.pop("type", None)
            out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
        if (node.get("type") == "object" and "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        if node.get("nullable") and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    result = walk(schema)
    # metadata is the API server's ObjectMeta, not the CRD's to describe
    result.setdefault("properties", {})["metadata"] = {"type": "object"}
    return result


@cache
def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for crd in _crd_documents():
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schema = to_json_schema(version["schema"]["openAPIV3Schema"])
                out[(f"{group}/{version['name']}", kind)] = schema
    return out


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON schema, for every served version of every upstream CRD."""
    return copy.deepcopy(_crd_schemas())


def validate(doc: dict[str, Any]) -> str:
    """Validate one resource; returns which validator checked it. Raises on any violation."""
    key = (doc.get("apiVersion", ""), doc.get("kind", ""))
    schemas = _crd_schemas()
    if key in schemas:
        jsonschema.Draft202012Validator(schemas[key]).validate(doc)
        return "crd-schema"
    if "." in key[0].split("/")[0] and not key[0].split("/")[0].endswith("k8s.io"):
        raise AssertionError(f"no schema for custom resource {key}: no upstream CRD serves it")
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    return "kubernetes"


# --- a real kube-apiserver on etcd, for server-side dry runs ------------------------------------

BIN = REPO / ".cursorprint" / "bin"
API_SERVER_TOOLS = ("etcd", "kube-apiserver", "kubectl")


def api_server_tools() -> dict[str, Path]:
    """etcd, kube-apiserver and kubectl as scripts/install.sh leaves them in .cursorprint/bin;
    fails (never skips) with what to run when one is missing."""
    tools = {name: BIN / name for name in API_SERVER_TOOLS}
    missing = [name for name, path in tools.items() if not os.access(path, os.X_OK)]
    assert not missing, (f"{', '.join(missing)} missing from {BIN}: run scripts/install.sh "
                         "(tools/apiserver/build.sh builds kube-apiserver and kubectl through the "
                         "Go module proxy, ~10 min once per machine, and unpacks Debian's etcd)")
    return tools


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApiServer:
    """etcd + kube-apiserver on loopback with private ports and directories, and a kubectl
    pointed at it (static admin token, RBAC). ``start`` waits for /readyz; ``stop`` ends both."""

    def __init__(self, workdir: Path) -> None:
        self.tools = api_server_tools()
        self.dir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.port = 0

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.dir / f"{name}.log", "ab")  # the child keeps its own descriptor
        self.procs.append(subprocess.Popen([str(self.tools[name]), *args], stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True))
        log.close()

    def log(self, name: str) -> str:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def start(self, timeout: float = 180) -> ApiServer:
        import time
        d = self.dir
        client, peer, self.port = _free_port(), _free_port(), _free_port()
        etcd_url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
        self._spawn("etcd", ["--name", "test", "--data-dir", str(d / "etcd"),
                             "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
                             "--listen-peer-urls", peer_url,
                             "--initial-advertise-peer-urls", peer_url,
                             "--initial-cluster", f"test={peer_url}",
                             "--listen-metrics-urls", f"http://127.0.0.1:{_free_port()}"])
        subprocess.run(["openssl", "genrsa", "-out", str(d / "sa.key"), "2048"], check=True,
                       capture_output=True)
        token = os.urandom(16).hex()
        (d / "tokens.csv").write_text(f"{token},admin,admin,system:masters\n")
        self._spawn("kube-apiserver", [
            f"--etcd-servers={etcd_url}", "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            f"--cert-dir={d / 'certs'}", f"--token-auth-file={d / 'tokens.csv'}",
            "--authorization-mode=RBAC", "--service-cluster-ip-range=10.96.0.0/24",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={d / 'sa.key'}",
            f"--service-account-signing-key-file={d / 'sa.key'}",
            "--enable-priority-and-fairness=false", "--profiling=false"])
        kubeconfig = {
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {
                "server": f"https://127.0.0.1:{self.port}", "insecure-skip-tls-verify": True}}],
            "users": [{"name": "admin", "user": {"token": token}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}]}
        (d / "kubeconfig").write_text(yaml.safe_dump(kubeconfig))
        deadline = time.monotonic() + timeout
        while True:
            for p, name in zip(self.procs, ("etcd", "kube-apiserver"), strict=True):
                assert p.poll() is None, f"{name} exited {p.returncode}:\n{self.log(name)}"
            if self.kubectl("get", "--raw", "/readyz", check=False).returncode == 0:
                return self
            assert time.monotonic() < deadline, (
                f"kube-apiserver not ready in {timeout:.0f} s:\n{self.log('kube-apiserver')}")
            time.sleep(1)

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(self.tools["kubectl"]), "--kubeconfig",
                               str(self.dir / "kubeconfig"), *args], input=stdin, text=True,
                              capture_output=True, timeout=timeout)
        if check:
            assert proc.returncode == 0, (f"kubectl {' '.join(args)} failed:\n{proc.stderr}"
                                          f"\n{proc.stdout}")
        return proc

    def stop(self) -> None:
        import signal
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(10)
