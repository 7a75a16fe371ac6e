#!/usr/bin/env bash
# Puts a real Kubernetes control plane for the manifest tests into .cursorprint/bin:
#   kube-apiserver + kubectl, built from this folder's module through the Go module proxy
#     (k8s.io/kubernetes with its staging modules pinned by replace lines; ~10 min on 2 cores),
#   etcd from Debian's etcd-server package, unpacked with dpkg-deb (no system service started).
# The binaries are cached outside the clone (CURSORPRINT_TOOLS_CACHE, default
# ~/.cache/cursorprint), keyed by the Kubernetes version and go.sum, so fresh clones and CI on the
# same machine reuse them; .cursorprint/bin gets symlinks.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
version=$(grep -oE 'k8s\.io/kubernetes v[0-9]+\.[0-9]+\.[0-9]+' "$here/go.mod" | head -1 | cut -d' ' -f2)
minor=$(echo "$version" | cut -d. -f2)
key=$(cat "$here/go.mod" "$here/go.sum" "$here"/*/main.go "$0" | sha256sum | cut -c1-12)
cache="${CURSORPRINT_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cursorprint}/kubernetes-$version-$key"
bin="$repo/.cursorprint/bin"
mkdir -p "$cache" "$bin"

if [ ! -x "$cache/kube-apiserver" ] || [ ! -x "$cache/kubectl" ]; then
  GO=$(command -v go || echo /usr/local/go/bin/go)
  [ -x "$GO" ] || { echo "build-apiserver: no Go toolchain (scripts/install.sh installs golang-go)" >&2; exit 2; }
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$version -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  echo "install: go build kube-apiserver + kubectl $version (once per machine, ~10 min) -> $cache"
  tmp="$cache/.build-$$"
  mkdir -p "$tmp"
  (cd "$here" && GOTOOLCHAIN=auto GOFLAGS="-mod=readonly -buildvcs=false" "$GO" build -trimpath -ldflags "$ld" \
      -o "$tmp/" ./kube-apiserver ./kubectl)
  mv "$tmp/kube-apiserver" "$tmp/kubectl" "$cache/"
  rmdir "$tmp"
fi

if [ ! -x "$cache/etcd" ]; then
  echo "install: etcd from Debian's etcd-server package (unpacked, no service) -> $cache"
  tmp=$(mktemp -d)
  chmod 777 "$tmp"   # apt-get download runs as _apt where it can
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  (cd "$tmp" && { apt-get download -qq etcd-server 2>/dev/null \
      || { $SUDO apt-get update -qq && apt-get download -qq etcd-server; }; })
  dpkg-deb -x "$tmp"/etcd-server_*.deb "$tmp/root"
  cp "$tmp/root/usr/bin/etcd" "$cache/etcd"
  rm -rf "$tmp"
fi

for tool in kube-apiserver kubectl etcd; do
  ln -sfn "$cache/$tool" "$bin/$tool"
done
"$bin/kube-apiserver" --version
