#!/usr/bin/env bash
# Shows that lattice-tui's live-rates samples change nothing `wash` reads (PROTOCOL.md §12).
# Not part of CI: wash 0.20.1 / 0.21.1 are not built there.
#
# For rates on and then off (`--no-rates`), one run each: a fresh nats-server (JetStream,
# 127.0.0.1), a headless lattice-tui host serving hello.wasm over HTTP with 5 requests of
# traffic, then for each wash: `ctl get hosts`, `ctl get inventory HOST`, `ctl get claims`,
# `ctl link query` (-o json). Outputs are masked (host and cluster keys, uptimes, instance ids)
# and the two runs diffed. With rates on, the script first checks through
# `lattice-tui snapshot --json` that samples counting the traffic were flowing.
#
# Usage: scripts/compat-wash.sh
# Environment:
#   LATTICE_TUI  the lattice-tui binary (default $CARGO_TARGET_DIR/debug/lattice-tui, else
#                target/debug/lattice-tui; build it first)
#   ACTORS       directory with hello.wasm (default target/actors; scripts/build-actors.sh)
#   WASH_020     default /work/peers/target-wash-0.20/release/wash
#   WASH_021     default /work/peers/target-wash-0.21/release/wash
#   NATS_PORT    default 4395;  HTTP_PORT  default 8395
# Exit status: 0 when every output is the same with rates on and off, 1 otherwise.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
LATTICE_TUI="${LATTICE_TUI:-${CARGO_TARGET_DIR:-$repo/target}/debug/lattice-tui}"
ACTORS="${ACTORS:-$repo/target/actors}"
WASH_020="${WASH_020:-/work/peers/target-wash-0.20/release/wash}"
WASH_021="${WASH_021:-/work/peers/target-wash-0.21/release/wash}"
port="${NATS_PORT:-4395}"
http_port="${HTTP_PORT:-8395}"
url="nats://127.0.0.1:$port"
for f in "$LATTICE_TUI" "$ACTORS/hello.wasm" "$WASH_020" "$WASH_021"; do
  [ -e "$f" ] || { echo "missing $f" >&2; exit 2; }
done
command -v nats-server >/dev/null || { echo "nats-server not on PATH" >&2; exit 2; }

work="$(mktemp -d /tmp/compat-wash.XXXXXX)"
pids=()
cleanup() {
  # Only the processes this script started, by pid, newest first.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  pids=()
}
trap cleanup EXIT

# wash prints a deprecation line, then JSON whose object keys come in hash-map order (it
# differs between two runs of the same wash); objects are compared with sorted keys.
sorted_json() {
  python3 -c '
import json, sys
lines = sys.stdin.read().splitlines(keepends=True)
i = next((n for n, l in enumerate(lines) if l.rstrip() in ("{", "[")), len(lines))
head, body = "".join(lines[:i]), "".join(lines[i:])
sys.stdout.write(head)
try:
    sys.stdout.write(json.dumps(json.loads(body), sort_keys=True, indent=2) + "\n")
except ValueError:
    sys.stdout.write(body)
'
}

mask() {
  sorted_json | sed -E \
    -e 's/\bN[A-Z2-7]{55}\b/HOST_ID/g' \
    -e 's/\bC[A-Z2-7]{55}\b/CLUSTER_KEY/g' \
    -e 's/"uptime_seconds": *[0-9]+/"uptime_seconds": 0/g' \
    -e 's/"uptime_human": *"[^"]*"/"uptime_human": "-"/g' \
    -e 's/"instance_id": *"[^"]*"/"instance_id": "-"/g' \
    -e 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/UUID/g'
}

wait_for() { # what, command...
  local what="$1"; shift
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "timed out waiting for $what" >&2
  exit 1
}

run() { # mode: on | off
  local mode="$1"
  local out="$work/$mode"
  mkdir -p "$out"
  nats-server -a 127.0.0.1 -p "$port" -js -sd "$work/js-$mode" >"$work/nats-$mode.log" 2>&1 &
  pids+=($!)
  wait_for "nats-server" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
  local extra=()
  [ "$mode" = off ] && extra=(--no-rates)
  "$LATTICE_TUI" --no-ui --nats "$url" --lattice default --friendly-name compat-host \
    --actor "$ACTORS/hello.wasm" --http "127.0.0.1:$http_port" \
    --log-dir "$work/logs-$mode" "${extra[@]}" >"$work/host-$mode.log" 2>&1 &
  pids+=($!)
  wait_for "HTTP from the actor" curl -sf "http://127.0.0.1:$http_port/"
  for _ in 1 2 3 4; do curl -sf "http://127.0.0.1:$http_port/" >/dev/null; done
  # Five requests counted; with rates on, a console sees them (through the samples).
  sleep 1.5
  "$LATTICE_TUI" snapshot --nats "$url" --lattice default --json --wait 2 >"$work/snapshot-$mode.json"
  local counted
  counted="$(jq '[.rates.hosts[]?.actors[]?.requests] | add // 0' "$work/snapshot-$mode.json")"
  echo "rates $mode: requests counted in the console's rates: $counted"
  if [ "$mode" = on ] && [ "$counted" != 5 ]; then
    echo "rates on, but the console did not see the 5 requests in the samples" >&2
    exit 1
  fi
  if [ "$mode" = off ] && [ "$counted" != 0 ]; then
    echo "rates off, but samples arrived" >&2
    exit 1
  fi
  local host
  host="$("$WASH_021" ctl get hosts --ctl-host 127.0.0.1 --ctl-port "$port" --lattice-prefix default -o json 2>/dev/null | jq -r '.hosts[0].id')"
  for v in 020 021; do
    local wash="WASH_$v"
    wash="${!wash}"
    local ctl=(--ctl-host 127.0.0.1 --ctl-port "$port" --lattice-prefix default -o json)
    "$wash" ctl get hosts "${ctl[@]}" 2>&1 | mask >"$out/$v-get-hosts.json"
    "$wash" ctl get inventory "$host" "${ctl[@]}" 2>&1 | mask >"$out/$v-get-inventory.json"
    "$wash" ctl get claims "${ctl[@]}" 2>&1 | mask >"$out/$v-get-claims.json"
    "$wash" ctl link query "${ctl[@]}" 2>&1 | mask >"$out/$v-link-query.json"
  done
  cleanup
}

run on
run off
echo "outputs in $work/on and $work/off:"
(cd "$work/on" && wc -c -- *.json | sed 's/^/  /')
if diff -ru "$work/on" "$work/off"; then
  echo "compat-wash: wash 0.20.1 and 0.21.1 read the same with rates on and off (4 commands each): no difference"
else
  echo "compat-wash: DIFFERENCES (above)"
  exit 1
fi
