"""Builds the kustomize overlays of k8s/ and validates what they render: core kinds against the
Kubernetes OpenAPI schemas (kubernetes-validate, strict), Strimzi and KEDA resources against the
CRD schemas committed under k8s/schemas/ (jsonschema)."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

__all__ = ["REPO", "K8S", "OVERLAYS", "KUBERNETES_VERSION", "kustomize_command", "build",
           "crd_schemas", "validate"]

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = ("base", "overlays/dev", "overlays/prod")
KUBERNETES_VERSION = "1.31"


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


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the committed JSON schema."""
    out = {}
    for path in sorted((K8S / "schemas").glob("*.json")):
        schema = json.loads(path.read_text())
        props = schema["properties"]
        out[(props["apiVersion"]["const"], props["kind"]["const"])] = schema
    return out


def validate(doc: dict[str, Any]) -> str:
    """Validate one resource; returns which validator checked it. Raises on any violation."""
    key = (doc.get("apiVersion", ""), doc.get("kind", ""))
    schemas = crd_schemas()
    if key in schemas:
        jsonschema.Draft202012Validator(schemas[key]).validate(doc)
        return "crd-schema"
    if "." in key[0].split("/")[0] and not key[0].split("/")[0].endswith("k8s.io"):
        raise AssertionError(f"no schema for custom resource {key}: add one under k8s/schemas/")
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    return "kubernetes"
