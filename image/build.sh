#!/usr/bin/env bash
# `make image`: builds the cursorprint OCI image without a container daemon, from Debian packages
# only: mmdebstrap makes a minimal Debian 12 root filesystem (python3, no apt, no compilers), the
# locked wheels (requirements/runtime-$FLAVOUR.txt, hash-checked, downloaded on the host) and
# cursorprint's own wheel go into a venv at /opt/cursorprint, pip and every cache are removed, and
# umoci packs it as an OCI image (non-root user 10001, entrypoint `cursorprint`, OCI labels with
# version and source). Output: dist/cursorprint-$VERSION-$FLAVOUR.oci.tar (an OCI layout archive:
# `podman load -i`, `skopeo copy oci-archive:...`). It then runs the entrypoint from the unpacked
# root filesystem as user 10001 (`cursorprint --help`) and prints the image size.
# FLAVOUR=gpu uses requirements/runtime-gpu.txt (tensorflow[and-cuda]); image/Containerfile is the
# same recipe for Docker/Podman.
set -euo pipefail
cd "$(dirname "$0")/.."
FLAVOUR=${FLAVOUR:-cpu}
PY=${PY:-.venv/bin/python}
LOCK=requirements/runtime-$FLAVOUR.txt
[ -f "$LOCK" ] || { echo "image: no $LOCK (FLAVOUR is cpu or gpu)" >&2; exit 2; }
VERSION=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
NAME=ghcr.io/cursorprint/cursorprint$([ "$FLAVOUR" = gpu ] && echo -gpu || true)
SOURCE=https://github.com/cursorprint/cursorprint
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
SUITE=bookworm   # Debian 12: python3 3.11, the Python the locks are compiled for
[ "$(id -u)" -eq 0 ] || { echo "image: run as root (mmdebstrap and umoci unpack/repack in root mode)" >&2; exit 2; }

need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v umoci >/dev/null || need+=(umoci)
if [ ${#need[@]} -gt 0 ]; then
  echo "image: apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/cursorprint-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p dist "$work/wheels"

echo "image: wheels for $LOCK (hash-checked, Linux x86_64, CPython 3.11) and cursorprint $VERSION"
# the host's interpreter picks the wheels: it must be what the image runs, CPython 3.11 on x86_64
"$PY" -c 'import platform, sys; assert sys.version_info[:2] == (3, 11) and platform.machine() == "x86_64", "image: needs CPython 3.11 on x86_64 to pick the wheels"'
"$PY" -m pip download -q --no-deps --require-hashes --only-binary=:all: \
  -r "$LOCK" -d "$work/wheels"
# cursorprint's wheel from the committed tree (HEAD: what the revision label names), not from
# whatever is uncommitted in the working tree
mkdir -p "$work/src"
git archive HEAD | tar -x -C "$work/src"
# the collector bundle the wheel carries as package data (setup.py), built from HEAD's
# collector_js sources with the checkout's esbuild (collector_js/node_modules, from install.sh)
ln -s "$PWD/collector_js/node_modules" "$work/src/collector_js/node_modules"
(cd "$work/src/collector_js" && npm run --silent build)
"$PY" -m pip wheel -q --no-deps --no-cache-dir -w "$work/wheels" "$work/src"
cp "$LOCK" "$work/wheels/requirements.txt"

echo "image: Debian $SUITE root filesystem (mmdebstrap, variant essential + python3)"
umoci init --layout "$work/oci"
umoci new --image "$work/oci:$VERSION"
umoci unpack --image "$work/oci:$VERSION" "$work/bundle" >/dev/null
rootfs="$work/bundle/rootfs"
rmdir "$rootfs" 2>/dev/null || rm -rf "$rootfs"
mmdebstrap --quiet --variant=essential --include=python3,python3-venv,libstdc++6,libgomp1,ca-certificates,tzdata \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook='mkdir -p "$1/tmp/wheels"' \
  --customize-hook="sync-in $work/wheels /tmp/wheels" \
  --customize-hook='chroot "$1" env -i PATH=/usr/bin:/bin python3 -m venv /opt/cursorprint' \
  --customize-hook='chroot "$1" env -i PATH=/usr/bin:/bin /opt/cursorprint/bin/pip install -q --no-index --no-cache-dir --disable-pip-version-check --find-links /tmp/wheels --require-hashes --no-deps -r /tmp/wheels/requirements.txt' \
  --customize-hook='chroot "$1" env -i PATH=/usr/bin:/bin sh -c "/opt/cursorprint/bin/pip install -q --no-index --no-cache-dir --disable-pip-version-check --no-deps /tmp/wheels/cursorprint-*.whl"' \
  --customize-hook='chroot "$1" env -i PATH=/usr/bin:/bin /opt/cursorprint/bin/python -m pip uninstall -q -y pip' \
  --customize-hook='chroot "$1" dpkg --purge python3-venv python3.11-venv python3-pip-whl python3-setuptools-whl >/dev/null' \
  --customize-hook='rm -rf "$1"/tmp/wheels "$1"/root/.cache "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
  --customize-hook='echo "cursorprint:x:10001:10001:cursorprint:/var/lib/cursorprint:/usr/sbin/nologin" >> "$1/etc/passwd"' \
  --customize-hook='echo "cursorprint:x:10001:" >> "$1/etc/group"' \
  --customize-hook='install -d -o 10001 -g 10001 "$1/var/lib/cursorprint"' \
  "$SUITE" "$rootfs"

echo "image: smoke test: the entrypoint from the root filesystem as user 10001"
chroot --userspec=10001:10001 "$rootfs" /usr/bin/env -i HOME=/var/lib/cursorprint \
  PATH=/opt/cursorprint/bin:/usr/bin:/bin /opt/cursorprint/bin/cursorprint --help | head -5
chroot --userspec=10001:10001 "$rootfs" /usr/bin/env -i HOME=/var/lib/cursorprint \
  TF_CPP_MIN_LOG_LEVEL=2 /opt/cursorprint/bin/python -c \
  'import keras, tensorflow as tf; print("image: tensorflow", tf.__version__, "keras", keras.__version__)'

umoci repack --image "$work/oci:$VERSION" "$work/bundle" >/dev/null
created=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}" +%Y-%m-%dT%H:%M:%SZ)
umoci config --image "$work/oci:$VERSION" \
  --config.user 10001:10001 --config.workingdir /var/lib/cursorprint \
  --config.entrypoint cursorprint --config.cmd --help \
  --config.env PATH=/opt/cursorprint/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.env CURSORPRINT_HOME=/var/lib/cursorprint --config.env PYTHONUNBUFFERED=1 \
  --config.exposedports 8080/tcp --config.exposedports 6066/tcp \
  --created "$created" --author "cursorprint" \
  --config.label org.opencontainers.image.title=cursorprint \
  --config.label org.opencontainers.image.version="$VERSION" \
  --config.label org.opencontainers.image.revision="$REVISION" \
  --config.label org.opencontainers.image.source="$SOURCE" \
  --config.label org.opencontainers.image.licenses=Apache-2.0 \
  --config.label org.opencontainers.image.ref.name="$NAME:$VERSION" \
  --config.label io.cursorprint.flavour="$FLAVOUR" \
  --manifest.annotation org.opencontainers.image.version="$VERSION" \
  --manifest.annotation org.opencontainers.image.source="$SOURCE" \
  --manifest.annotation org.opencontainers.image.ref.name="$VERSION"
umoci gc --layout "$work/oci"
out="dist/cursorprint-$VERSION-$FLAVOUR.oci.tar"
tar -C "$work/oci" --sort=name --owner=0 --group=0 --numeric-owner -cf "$out" .
echo "image: $out ($NAME:$VERSION): archive $(du -h "$out" | cut -f1)," \
     "root filesystem $(du -sh "$rootfs" | cut -f1) unpacked"
