#!/usr/bin/env bash
# Records one session of a real actor-era client driving lattice-tui's host, on the wire.
# See README.md beside this file for what it needs. Not part of CI.
#
# Usage: scripts/record-peers/record.sh TOOL [OUTDIR]
#   TOOL    wash-0.20.1 | wash-0.21.1 | cic-0.28.1
#   OUTDIR  default: tests/fixtures/peers/TOOL  (capture.jsonl and commands.md are rewritten)
#
# Environment:
#   LATTICE_TUI  the lattice-tui binary (required)
#   ACTORS       directory with hello.wasm, echo.wasm and count.wasm from scripts/build-actors.sh
#                (required)
#   WASH         the wash binary of TOOL (default /work/peers/target-wash-0.2x/release/wash)
#   CIC          the cic-028 binary (default /work/peers/target-cic/release/cic-028)
#   NATS_PORT    default 4391;  HTTP_ADDR  default 127.0.0.1:8391;  SETTLE  seconds, default 1.5
#                (tests/protocol_fixtures.rs expects the link address NATS_PORT + 4100 = 8491)
#
# One nats-server (JetStream on, 127.0.0.1 only, fresh store), one recorder subscribed to `>`,
# one headless lattice-tui host with hello.wasm and the built-in HTTP server; then the tool's
# commands one by one. Between two commands the recorder's line count is read, so each command
# gets the seq range of what was on the wire while it ran plus SETTLE seconds after it (late
# events can still spill into the next range; heartbeats and JetStream advisories are in the
# ranges too).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tool="${1:?usage: record.sh TOOL [OUTDIR]}"
out="${2:-$repo/tests/fixtures/peers/$tool}"
: "${LATTICE_TUI:?set LATTICE_TUI to the lattice-tui binary}"
: "${ACTORS:?set ACTORS to the directory of hello.wasm, echo.wasm, count.wasm}"
port="${NATS_PORT:-4391}"
http="${HTTP_ADDR:-127.0.0.1:8391}"
settle="${SETTLE:-1.5}"
url="nats://127.0.0.1:$port"
case "$tool" in
  wash-0.20.1) WASH="${WASH:-/work/peers/target-wash-0.20/release/wash}" ;;
  wash-0.21.1) WASH="${WASH:-/work/peers/target-wash-0.21/release/wash}" ;;
  cic-0.28.1) CIC="${CIC:-/work/peers/target-cic/release/cic-028}" ;;
  *) echo "unknown tool $tool" >&2; exit 2 ;;
esac
for f in hello echo count; do
  [ -f "$ACTORS/$f.wasm" ] || { echo "missing $ACTORS/$f.wasm" >&2; exit 2; }
done

mkdir -p "$out"
work="$(mktemp -d /tmp/record-peers.XXXXXX)"
capture="$out/capture.jsonl"
md="$out/commands.md"
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

nats-server -js -a 127.0.0.1 -p "$port" -sd "$work/js" >"$work/nats-server.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

python3 "$here/record.py" "$url" "$capture" >"$work/recorder.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q recording "$work/recorder.log" 2>/dev/null && break; sleep 0.1; done

seq_now() { wc -l <"$capture" | tr -d ' '; }

now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
{
  echo "# $tool session recorded $now"
  echo
  echo "Every message on the NATS server during the session is in \`capture.jsonl\` (one JSON"
  echo "line each, \`seq\` in order of arrival at the recorder). Each step below gives the seq range"
  echo "of the messages seen while the command ran and ${settle} s after it; asynchronous events"
  echo "and heartbeats of the host fall in whichever range was open. Outputs are the tool's own"
  echo "(stdout and stderr, at most 40 lines)."
  echo
} >"$md"

n=0
prev_end=0
# step TITLE CMD... : runs CMD, notes its command line, seq range, exit status and output.
step() {
  local title="$1"
  shift
  n=$((n + 1))
  local s e rc output
  # Ranges are contiguous: whatever arrived since the last step's range closed belongs here.
  s=$((prev_end + 1))
  set +e
  output="$(timeout 90 "$@" 2>&1)"
  rc=$?
  set -e
  sleep "$settle"
  e=$(seq_now)
  prev_end=$e
  LAST_OUTPUT="$output"
  {
    echo "## $n. $title"
    echo
    echo '```'
    # The tool's binary is shown by its name (paths: see README.md).
    printf '$ %s' "$(display "$1")"
    shift_args=("${@:2}")
    printf ' %q' "${shift_args[@]}"
    echo
    echo '```'
    echo
    echo "- seq: $s–$e"
    echo "- exit status: $rc"
    echo "- output:"
    echo
    echo '```'
    # Strip terminal escapes (spinners, colours).
    printf '%s\n' "$output" | sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r/\n/g' | grep -v '^\s*$' | head -40
    echo '```'
    echo
  } >>"$md"
  echo "step $n ($title): rc=$rc seq $s-$e" >&2
}

display() {
  case "$1" in
    "${WASH:-}") echo wash ;;
    "${CIC:-}") echo cic-028 ;;
    python3) echo python3 ;;
    *) echo "$1" ;;
  esac
}

key() { # key PREFIX TEXT : the first nkey with that prefix letter in TEXT
  printf '%s' "$2" | grep -oE "\b$1[A-Z2-7]{55}\b" | head -1
}

# -- our host ---------------------------------------------------------------------------------
s0=$(($(seq_now) + 1))
"$LATTICE_TUI" --no-ui --nats "$url" --lattice default --actor "$ACTORS/hello.wasm" \
  --http "$http" --log-file "$work/host.log" >"$work/host.stderr" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  grep -q 'com.wasmcloud.lattice.host_started' "$capture" && break
  sleep 0.1
done
sleep "$settle"
{
  echo "## 0. our host starts (not a client command)"
  echo
  echo '```'
  printf '$'
  printf ' %q' "$LATTICE_TUI" --no-ui --nats "$url" --lattice default --actor "$ACTORS/hello.wasm" --http "$http"
  echo
  echo '```'
  echo
  prev_end=$(seq_now)
  echo "- seq: $s0–$prev_end"
  echo
} >>"$md"

A="$ACTORS"
case "$tool" in
wash-*)
  export HOME="$work/home" # wash keeps contexts and caches under ~/.wash
  mkdir -p "$HOME"
  C=(--ctl-host 127.0.0.1 --ctl-port "$port" --lattice-prefix default)
  W=("$WASH" ctl)
  step "get hosts" "${W[@]}" get hosts "${C[@]}" -o json
  HOST="$(key N "$LAST_OUTPUT")"
  step "get inventory" "${W[@]}" get inventory "$HOST" "${C[@]}" -o json
  HELLO="$(key M "$LAST_OUTPUT")"
  HTTP="$(key V "$LAST_OUTPUT")"
  step "get claims" "${W[@]}" get claims "${C[@]}" -o json
  step "link query" "${W[@]}" link query "${C[@]}" -o json
  if [ "$tool" = wash-0.20.1 ]; then
    step "start actor on a given host, 2 instances" \
      "${W[@]}" start actor "$A/echo.wasm" --host-id "$HOST" --count 2 "${C[@]}"
  else # 0.21 has no --count here
    step "start actor on a given host, max concurrent 2" \
      "${W[@]}" start actor "$A/echo.wasm" --host-id "$HOST" --max-concurrent 2 "${C[@]}"
  fi
  step "start actor without a host (auction, with a constraint)" \
    "${W[@]}" start actor "$A/count.wasm" --constraint hostcore.os=linux --auction-timeout-ms 1500 "${C[@]}"
  step "get inventory" "${W[@]}" get inventory "$HOST" "${C[@]}" -o json
  ECHO="$(printf '%s' "$LAST_OUTPUT" | python3 -c '
import json, sys
text = sys.stdin.read()
inv = json.loads(text[text.index("{"):])  # wash prints a deprecation warning first
inv = inv.get("inventory") or (inv.get("inventories") or [inv])[0]  # 0.20 / 0.21 / cic
print(next(a["id"] for a in inv["actors"] if (a.get("image_ref") or "").endswith("echo.wasm")))')"
  if [ "$tool" = wash-0.20.1 ]; then
    step "scale actor to 3, with an annotation" \
      "${W[@]}" scale actor "$HOST" "$ECHO" "$A/echo.wasm" --count 3 --annotations app=demo "${C[@]}"
  else
    step "scale actor to 3, with an annotation" \
      "${W[@]}" scale actor "$HOST" "$A/echo.wasm" --max-concurrent 3 --annotations app=demo "${C[@]}"
  fi
  step "update actor (same module: same key)" "${W[@]}" update actor "$HOST" "$HELLO" "$A/hello.wasm" "${C[@]}"
  step "update actor to a module with another key" \
    "${W[@]}" update actor "$HOST" "$HELLO" "$A/echo.wasm" "${C[@]}"
  step "start provider on a given host, link name second" \
    "${W[@]}" start provider builtin:httpserver --host-id "$HOST" --link-name second "${C[@]}"
  step "start provider without a host (auction), link name third" \
    "${W[@]}" start provider builtin:httpserver --link-name third --auction-timeout-ms 1500 "${C[@]}"
  step "start provider that is already running (link name default)" \
    "${W[@]}" start provider builtin:httpserver --host-id "$HOST" "${C[@]}"
  step "link put" "${W[@]}" link put "$ECHO" "$HTTP" wasmcloud:httpserver --link-name second \
    "address=127.0.0.1:$((port + 4100))" "${C[@]}"
  step "link query" "${W[@]}" link query "${C[@]}" -o json
  step "link del" "${W[@]}" link del "$ECHO" wasmcloud:httpserver --link-name second "${C[@]}"
  step "stop actor, 2 instances" "${W[@]}" stop actor "$HOST" "$ECHO" --count 2 "${C[@]}"
  step "stop provider" "${W[@]}" stop provider "$HOST" "$HTTP" second wasmcloud:httpserver "${C[@]}"
  step "get claims" "${W[@]}" get claims "${C[@]}" -o json
  step "get inventory" "${W[@]}" get inventory "$HOST" "${C[@]}" -o json
  step "stop host, 3000 ms" "${W[@]}" stop host "$HOST" --host-timeout 3000 "${C[@]}"
  ;;
cic-0.28.1)
  X=("$CIC" "$url" default)
  step "get_hosts" "${X[@]}" get-hosts
  HOST="$(key N "$LAST_OUTPUT")"
  step "get_host_inventory" "${X[@]}" inventory "$HOST"
  HELLO="$(key M "$LAST_OUTPUT")"
  HTTP="$(key V "$LAST_OUTPUT")"
  step "get_claims" "${X[@]}" claims
  step "query_links" "${X[@]}" links
  step "start_actor 2 instances with annotations" "${X[@]}" start-actor "$HOST" "$A/echo.wasm" 2 app=demo
  step "perform_actor_auction with a constraint" "${X[@]}" actor-auction "$A/count.wasm" hostcore.os=linux
  step "perform_actor_auction nobody matches" "${X[@]}" actor-auction "$A/count.wasm" region=mars
  step "get_host_inventory" "${X[@]}" inventory "$HOST"
  ECHO="$(printf '%s' "${LAST_OUTPUT#OK }" | python3 -c '
import json, sys
inv = json.load(sys.stdin)
print(next(a["id"] for a in inv["actors"] if (a.get("image_ref") or "").endswith("echo.wasm")))')"
  step "scale_actor to 3" "${X[@]}" scale-actor "$HOST" "$A/echo.wasm" "$ECHO" 3
  step "update_actor (same module: same key)" "${X[@]}" update-actor "$HOST" "$HELLO" "$A/hello.wasm"
  step "update_actor to a module with another key" "${X[@]}" update-actor "$HOST" "$HELLO" "$A/echo.wasm"
  step "perform_provider_auction link name second" "${X[@]}" provider-auction builtin:httpserver second
  step "start_provider on a given host, link name second, with configuration" \
    "${X[@]}" start-provider "$HOST" builtin:httpserver second '{"address":"127.0.0.1:9999"}'
  step "start_provider without a host, link name third" "${X[@]}" start-provider "" builtin:httpserver third
  step "start_provider already running (link name default)" "${X[@]}" start-provider "$HOST" builtin:httpserver default
  step "advertise_link" "${X[@]}" link-put "$ECHO" "$HTTP" wasmcloud:httpserver second "address=127.0.0.1:$((port + 4100))"
  step "query_links" "${X[@]}" links
  step "remove_link" "${X[@]}" link-del "$ECHO" wasmcloud:httpserver second
  step "stop_actor 1 instance" "${X[@]}" stop-actor "$HOST" "$ECHO" 1
  step "stop_actor 0 (= all)" "${X[@]}" stop-actor "$HOST" "$ECHO" 0
  step "stop_provider" "${X[@]}" stop-provider "$HOST" "$HTTP" second wasmcloud:httpserver
  step "put_registries" "${X[@]}" put-registries ghcr.io user secret
  step "get_claims" "${X[@]}" claims
  # Without the bucket 0.28 uses its legacy subjects: what it sends there is recorded too.
  step "(not a client) delete the bucket's stream KV_LATTICEDATA_default" \
    python3 "$here/drop-bucket.py" "$url" default
  step "advertise_link without the bucket" "${X[@]}" link-put "$ECHO" "$HTTP" wasmcloud:httpserver second "address=127.0.0.1:$((port + 4100))"
  step "query_links without the bucket" "${X[@]}" links
  step "remove_link without the bucket" "${X[@]}" link-del "$ECHO" wasmcloud:httpserver second
  step "get_claims without the bucket" "${X[@]}" claims
  step "stop_host with timeout 2000 ms" "${X[@]}" stop-host "$HOST" 2000
  ;;
esac

# Let the host's last events (host_stopped) arrive, then stop the recorder.
sleep 2
{
  echo "## end"
  echo
  last=$(seq_now)
  if [ "$last" -gt "$prev_end" ]; then
    echo "- seq after the last step: $((prev_end + 1))–$last"
  else
    echo "- nothing arrived after the last step's range (last seq: $last)"
  fi
  echo "- host: \`$HOST\`; hello: \`$HELLO\`; echo: \`${ECHO:-}\`; built-in HTTP provider: \`$HTTP\`"
} >>"$md"
echo "host log, nats-server log: $work" >&2
echo "recorded $(seq_now) messages into $capture" >&2
