#!/usr/bin/env bash
# Installs everything cursorprint needs on a fresh Debian machine; fast when all is there already.
# `--test-tools` adds what only the tests use (the end of this file).
# OS packages (Java 17, Maven, redis-server, Chromium, Prometheus), the Python package with its
# dev extra, the collector's npm packages, and the Kafka jars (fetched once through Maven).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v node >/dev/null || need_apt+=(nodejs npm)
command -v prometheus >/dev/null || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install: apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# The Debian prometheus package starts a system service on port 9090; the project runs its own.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
fi

# One virtual environment per checkout (.venv): a system python that is externally managed
# (PEP 668, stock Debian) refuses pip, and a shared interpreter would mix two clones' installs.
BASE_PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! "$BASE_PY" -c "import ensurepip, venv" 2>/dev/null; then
    echo "install: apt-get install python3-venv"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  echo "install: $BASE_PY -m venv .venv"
  "$BASE_PY" -m venv .venv
fi
PY=.venv/bin/python
# Packages come from the hash-checked lock (requirements/ci.txt: the dev and cpu extras for Linux
# x86_64, `make lock` regenerates it from pyproject.toml); then cursorprint itself, editable.
# CURSORPRINT_LOCK picks another lock (requirements/runtime-gpu.txt in a GPU venv: the cpu and
# gpu extras are alternatives, never installed side by side).
stamp=.venv/.cursorprint-installed
LOCK=${CURSORPRINT_LOCK:-requirements/ci.txt}
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$LOCK" -nt "$stamp" ]; then
  echo "install: pip install $LOCK (hash-checked) + cursorprint (editable) into .venv"
  "$PY" -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r "$LOCK"
  "$PY" -m pip install -q --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi

if [ -f collector_js/package.json ]; then
  if [ ! -d collector_js/node_modules ] || [ collector_js/package-lock.json -nt collector_js/node_modules ]; then
    echo "install: npm ci (collector_js)"
    (cd collector_js && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
  # the collector bundles (dist/, ignored by git) served by `cursorprint ingest --demo`
  (cd collector_js && npm run --silent build)
fi
# What only the tests need (`make test`: scripts/install.sh --test-tools): the bot corpus's npm
# libraries, kustomize, the Gateway API CRDs and the manifest tests' control plane. `make run`
# does not wait ~10-15 minutes for a kube-apiserver it never starts.
# the Kafka broker jars (Maven Central, once, into .cursorprint/kafka-jars)
"$PY" -c "from cursorprint.stream.settings import load_settings; from cursorprint.stream.devtools.stack import Stack; Stack(load_settings()).ensure_jars()"
if [ "${1:-}" != "--test-tools" ]; then
  echo "install: done"
  exit 0
fi

# the humanizing libraries of the bot corpus (npm ghost-cursor: the scripted-moves browser test
# drives it), pinned by their own package-lock.json
BOTCORPUS=stream/devtools/botcorpus
if [ ! -d $BOTCORPUS/node_modules ] || [ $BOTCORPUS/package-lock.json -nt $BOTCORPUS/node_modules ]; then
  echo "install: npm ci ($BOTCORPUS)"
  (cd $BOTCORPUS && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

# kustomize (renders k8s/ overlays for the manifest tests): built once through the Go module
# proxy into .cursorprint/bin; without Go, apt's golang-go (GOTOOLCHAIN=auto fetches a newer Go
# toolchain through the same proxy when needed).
KUSTOMIZE_VERSION=v5.7.1
if [ ! -x .cursorprint/bin/kustomize ]; then
  if ! command -v go >/dev/null && [ ! -x /usr/local/go/bin/go ]; then
    echo "install: apt-get install golang-go (for kustomize)"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends golang-go >/dev/null
  fi
  GO=$(command -v go || echo /usr/local/go/bin/go)
  echo "install: go install kustomize $KUSTOMIZE_VERSION"
  mkdir -p .cursorprint/bin
  GOTOOLCHAIN=auto GOBIN="$PWD/.cursorprint/bin" "$GO" install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi

# Gateway API CRDs (Gateway, HTTPRoute) for the manifest tests: the sigs.k8s.io/gateway-api Go
# module ships them under config/crd/standard; fetched through the Go module proxy into
# .cursorprint/crds, never committed (Strimzi's and KEDA's come from ../shared/k8s-crds).
GATEWAY_API_VERSION=v1.5.1   # keep equal to GATEWAY_API_VERSION in tests/support/k8s.py
gw=.cursorprint/crds/gateway-api-$GATEWAY_API_VERSION
if [ ! -f "$gw/LICENSE" ]; then
  GO=$(command -v go || echo /usr/local/go/bin/go)
  echo "install: Gateway API $GATEWAY_API_VERSION CRDs -> $gw"
  src=$(GOTOOLCHAIN=auto GOFLAGS=-mod=mod "$GO" mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" \
        | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  mkdir -p "$gw"
  for kind in gatewayclasses gateways httproutes grpcroutes referencegrants backendtlspolicies; do
    install -m 0644 "$src/config/crd/standard/gateway.networking.k8s.io_$kind.yaml" "$gw/"
  done
  install -m 0644 "$src/LICENSE" "$gw/LICENSE"
fi

# A real control plane for the manifest tests (tests/ops/test_k8s_apiserver.py): kube-apiserver
# and kubectl built through the Go module proxy, etcd from Debian's etcd-server package, cached
# outside the clone and linked into .cursorprint/bin (tools/apiserver/build.sh).
if [ ! -x .cursorprint/bin/kube-apiserver ] || [ ! -x .cursorprint/bin/kubectl ] || [ ! -x .cursorprint/bin/etcd ]; then
  bash tools/apiserver/build.sh
fi

echo "install: done (with the test tools)"
