#!/usr/bin/env bash
# Records the actor-era RPC wire as wasmbus-rpc 0.15 writes it: the kv-memory provider (built on
# the SDK's provider_main) driven by rpc-015 (the SDK's RpcClient, HostData, LinkDefinition,
# ProviderTransport), every NATS message captured by ../record.py. Not part of CI.
#
# Usage: scripts/record-peers/rpc-0.15/record.sh [OUTDIR]      (default tests/fixtures/rpc)
#
# Environment:
#   NATS_PORT     default 4392; MONITOR_PORT default 8222 (both on 127.0.0.1 only)
#   PROVIDER_BIN  default: built by scripts/build-era-provider.sh (target/era-providers/kv-memory)
#   KEYS          default OUTDIR/keys.json (made once with `rpc-015 keygen`; kept fixed so tests
#                 can re-derive every signature)
#
# Writes OUTDIR/capture.jsonl and what rpc-015 writes (host_data.b64, host_data.json,
# subsz.json, connz.json, results.json, provider-stderr.log), then runs extract.py, which cuts
# the capture into one file per message plus manifest.json.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out="${1:-$repo/tests/fixtures/rpc}"
port="${NATS_PORT:-4392}"
mport="${MONITOR_PORT:-8222}"
url="nats://127.0.0.1:$port"
keys="${KEYS:-$out/keys.json}"

echo "==> building rpc-015" >&2
build=(cargo build --quiet --release --locked --manifest-path "$here/Cargo.toml")
if ! CARGO_TARGET_DIR="$here/target" nice -n 10 "${build[@]}" --offline 2>/dev/null; then
  CARGO_TARGET_DIR="$here/target" nice -n 10 "${build[@]}" >&2
fi
rec="$here/target/release/rpc-015"
if [ -z "${PROVIDER_BIN:-}" ]; then
  PROVIDER_BIN="$("$repo/scripts/build-era-provider.sh" kv-memory | tail -n 1)/kv-memory"
fi

mkdir -p "$out"
[ -f "$keys" ] || "$rec" keygen "$keys"
work="$(mktemp -d /tmp/record-rpc.XXXXXX)"
pids=()
cleanup() {
  # Only the processes this script started, by pid, in reverse order.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[$i]}" 2>/dev/null || true
    sleep 0.5
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT

cat >"$work/nats.conf" <<CONF
host: 127.0.0.1
port: $port
http: 127.0.0.1:$mport
jetstream { store_dir: "$work/js" }
CONF
nats-server -c "$work/nats.conf" >"$work/nats-server.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

python3 "$here/../record.py" "$url" "$out/capture.jsonl" >"$work/recorder.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q recording "$work/recorder.log" 2>/dev/null && break; sleep 0.1; done

"$rec" record "$url" "127.0.0.1:$mport" "$keys" "$PROVIDER_BIN" "$out"
sleep 1
python3 "$here/extract.py" "$out"
echo "recorded $(wc -l <"$out/capture.jsonl") messages into $out" >&2
