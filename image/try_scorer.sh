#!/usr/bin/env bash
# `make image-try-scorer`: runs the built image's entrypoint against the local stack and waits for
# `cursorprint worker scorer` to report ready. No container daemon: the OCI archive
# (dist/cursorprint-$VERSION-$FLAVOUR.oci.tar, from `make image`) is unpacked with umoci, and its
# entrypoint runs from the root filesystem with chroot as user 10001, in a mount namespace of its
# own (unshare) that gets /proc and /dev as a container runtime would give them; the network is
# the host's, so 127.0.0.1 reaches the stack.
#   1. a private local stack (`cursorprint stack up` from the checkout: its own CURSORPRINT_HOME
#      and free ports, so a stack or test run already on this machine is not touched);
#   2. `cursorprint train --synthetic` inside the image (the demo model, into the image's home);
#   3. `cursorprint worker scorer` inside the image, pointed at the stack through CURSORPRINT_*;
#      its /readyz (Faust web) is polled until it answers 200, and the answer is printed.
# Everything is stopped and removed on exit. Root (umoci unpack, chroot, mounts).
set -euo pipefail
cd "$(dirname "$0")/.."
FLAVOUR=${FLAVOUR:-cpu}
PY=${PY:-.venv/bin/python}
READY_TIMEOUT_S=${READY_TIMEOUT_S:-600}
VERSION=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
ARCHIVE=dist/cursorprint-$VERSION-$FLAVOUR.oci.tar
[ "$(id -u)" -eq 0 ] || { echo "try-scorer: run as root (umoci unpack, chroot, mounts)" >&2; exit 2; }
[ -f "$ARCHIVE" ] || { echo "try-scorer: no $ARCHIVE (build it with \`make image\`)" >&2; exit 2; }

work=$(mktemp -d /tmp/cursorprint-try.XXXXXX)
stack_env=()
worker_pid=""
cleanup() {
  if [ -n "$worker_pid" ] && kill -0 "$worker_pid" 2>/dev/null; then
    kill -TERM "$worker_pid" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$worker_pid" 2>/dev/null || break; sleep 1; done
    kill -KILL "$worker_pid" 2>/dev/null || true
    wait "$worker_pid" 2>/dev/null || true
  fi
  if [ ${#stack_env[@]} -gt 0 ]; then
    env "${stack_env[@]}" "$PY" -m cursorprint.stream.cli stack down >/dev/null 2>&1 || true
  fi
  # the mounts live only in the namespaces of the processes above, so this removes plain files
  rm -rf "$work"
}
trap cleanup EXIT

echo "try-scorer: unpacking $ARCHIVE"
mkdir -p "$work/oci"
tar -xf "$ARCHIVE" -C "$work/oci"
umoci unpack --image "$work/oci:$VERSION" "$work/bundle" >/dev/null
rootfs=$work/bundle/rootfs
# the image's own config (user, entrypoint, environment): what Kubernetes would run
"$PY" -c 'import json, sys
p = json.load(open(sys.argv[1]))["process"]
print("try-scorer: image config: user %(uid)s:%(gid)s," % p["user"],
      "command", " ".join(p["args"]) + ", cwd", p["cwd"])' "$work/bundle/config.json"
mapfile -t image_env < <("$PY" -c 'import json, sys
print("\n".join(json.load(open(sys.argv[1]))["process"]["env"]))' "$work/bundle/config.json")

read -r kafka_port controller_port redis_port web_port < <("$PY" -c '
from cursorprint.stream.devtools.processes import free_port
print(*(free_port() for _ in range(4)))')
stack_env=(
  CURSORPRINT_HOME="$work/stack"
  CURSORPRINT_KAFKA_JARS="$PWD/.cursorprint/kafka-jars"
  CURSORPRINT_KAFKA_PORT="$kafka_port" CURSORPRINT_KAFKA_CONTROLLER_PORT="$controller_port"
  CURSORPRINT_REDIS_PORT="$redis_port"
  CURSORPRINT_KAFKA_BOOTSTRAP="127.0.0.1:$kafka_port"
  CURSORPRINT_REDIS_URL="redis://127.0.0.1:$redis_port/0"
)
echo "try-scorer: local stack (Kafka 127.0.0.1:$kafka_port, Redis 127.0.0.1:$redis_port)"
env "${stack_env[@]}" "$PY" -m cursorprint.stream.cli stack up

model_dir=/var/lib/cursorprint/models/current   # inside the image, in the user's home
# The image's entrypoint as user 10001 with the image's environment plus the stack's addresses;
# unshare, sh, chroot, env and sh each exec the next, so a background run's $! is the worker.
in_image=(
  unshare --mount --propagation private -- sh -c '
    rootfs=$1; shift
    mount -t proc proc "$rootfs/proc"
    mount --rbind /dev "$rootfs/dev"
    exec chroot --userspec=10001:10001 "$rootfs" "$@"' sh "$rootfs"
  /usr/bin/env -i "${image_env[@]}" HOME=/var/lib/cursorprint
  CURSORPRINT_KAFKA_BOOTSTRAP="127.0.0.1:$kafka_port"
  CURSORPRINT_REDIS_URL="redis://127.0.0.1:$redis_port/0"
  CURSORPRINT_WORKER_WEB_PORT="$web_port" CURSORPRINT_MODEL_DIR="$model_dir"
  TF_CPP_MIN_LOG_LEVEL=2
  sh -c 'cd /var/lib/cursorprint && exec cursorprint "$@"' cursorprint
)

echo "try-scorer: cursorprint train --synthetic (in the image)"
start=$(date +%s)
"${in_image[@]}" train --synthetic --out "$model_dir" | tail -1
echo "try-scorer: trained in $(( $(date +%s) - start )) s"

echo "try-scorer: cursorprint worker scorer (in the image), waiting for /readyz"
start=$(date +%s)
"${in_image[@]}" worker scorer >"$work/worker.log" 2>&1 &
worker_pid=$!
url=http://127.0.0.1:$web_port/readyz
until answer=$(curl -fsS --max-time 5 "$url" 2>/dev/null); do
  if ! kill -0 "$worker_pid" 2>/dev/null; then
    echo "try-scorer: the worker exited before it was ready; its log:" >&2
    tail -40 "$work/worker.log" >&2
    exit 1
  fi
  if [ $(( $(date +%s) - start )) -ge "$READY_TIMEOUT_S" ]; then
    echo "try-scorer: not ready after $READY_TIMEOUT_S s; last answer of $url:" >&2
    curl -sS --max-time 5 "$url" >&2 || true
    tail -40 "$work/worker.log" >&2
    exit 1
  fi
  sleep 1   # poll interval; the deadline above bounds the wait
done
echo "try-scorer: READY after $(( $(date +%s) - start )) s: GET $url -> $answer"
echo "try-scorer: worker process as the host sees it: $(ps -o uid=,args= -p "$worker_pid")"
# the collector bundle is package data of the image's wheel; the worker's demo page serves it
size=$(curl -fsS --max-time 10 "http://127.0.0.1:$web_port/demo/cursorprint.min.js" | wc -c)
echo "try-scorer: GET /demo/cursorprint.min.js -> $size bytes (the packaged collector)"
