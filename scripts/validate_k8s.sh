#!/usr/bin/env bash
# Renders every kustomize overlay into runs/k8s/<overlay>.yaml and runs the manifest, Grafana,
# Prometheus-config and yamllint checks (the same tests `make test` runs).
set -euo pipefail
cd "$(dirname "$0")/.."
KUSTOMIZE=.cursorprint/bin/kustomize
[ -x "$KUSTOMIZE" ] || { echo "validate_k8s: $KUSTOMIZE missing: run scripts/install.sh" >&2; exit 2; }
mkdir -p runs/k8s
for overlay in base overlays/dev overlays/prod; do
  out="runs/k8s/$(basename "$overlay").yaml"
  "$KUSTOMIZE" build "k8s/$overlay" > "$out"
  echo "validate_k8s: k8s/$overlay -> $out ($(grep -c '^kind:' "$out") resources)"
done
exec "${PYTHON:-python3}" -m pytest -q -p no:cacheprovider tests/ops
