#!/usr/bin/env bash
# HTTP throughput of lattice-tui's built-in HTTP server provider against `wasmtime serve`
# (fresh instance per request, the default of both), on the same hello.wasm.
#
# Builds what it needs: the actors (scripts/build-actors.sh), the release `lattice-tui`
# (run as `lattice-tui --no-ui --actor hello.wasm --http ADDR`), wasmtime-cli 48.0.8 (`cargo install --locked`, ~14 min, if missing) and
# wrk (apt, if missing). Then it ALTERNATES runs, round by round:
#     ours (each tokio worker count in WORKERS), wasmtime serve -S cli, ...
# and prints the median req/s and p99 of each, and the ratio ours / wasmtime.
#
# The load generator (wrk) and the server share this machine's CPUs (2 vCPUs on the project
# machine), so absolute numbers understate a dedicated server; compare ratios within one run.
#
# Environment: ROUNDS (3), DURATION (10s), CONNS (32), THREADS (2, wrk threads),
# WORKERS ("1 2": tokio worker threads of our server, each measured), REUSE (unset; set N to
# also measure our server with instance reuse N), PORT_OURS (8091), PORT_WASMTIME (8092).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
CONNS="${CONNS:-32}"
THREADS="${THREADS:-2}"
WORKERS="${WORKERS:-1 2}"
REUSE="${REUSE:-}"
PORT_OURS="${PORT_OURS:-8091}"
PORT_WASMTIME="${PORT_WASMTIME:-8092}"
WASMTIME_VERSION=48.0.8

log() { printf '==> %s\n' "$*" >&2; }

actors="$(scripts/build-actors.sh hello | tail -n1)"
wasm="$actors/hello.wasm"

log "building lattice-tui (release)"
cargo build --release --locked --quiet
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
ours_bin="$target_dir/release/lattice-tui"
logs="$(mktemp -d)"

if ! command -v wasmtime >/dev/null 2>&1 || ! wasmtime --version | grep -q " $WASMTIME_VERSION"; then
  log "installing wasmtime-cli $WASMTIME_VERSION (cargo install --locked; takes a while)"
  cargo install --locked --quiet wasmtime-cli --version "$WASMTIME_VERSION"
fi
if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk"
  apt-get update -qq && apt-get install -y -qq wrk
fi

pid=""
stop_server() {
  if [ -n "$pid" ]; then
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}
trap stop_server EXIT

wait_ready() { # url
  for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "server at $1 did not come up" >&2
  return 1
}

# wrk → "req_per_s p99_ms"
run_wrk() { # url
  local out
  out="$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$1")"
  if grep -q "Non-2xx" <<<"$out"; then
    echo "non-2xx responses during the run:" >&2
    echo "$out" >&2
    return 1
  fi
  python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
print(f"{rps:.0f} {float(m.group(1)) * scale:.2f}")
PY
}

# Server logs (e.g. guests failing to flush when wrk closes its connections at the end of a
# run) go here, not to the terminal.
server_log="$target_dir/bench-http-servers.log"
: >"$server_log"
log "server logs: $server_log"

others_busy() { # percent of all CPUs busy over one second
  python3 - <<'PY'
import time
def snap():
    with open("/proc/stat") as f:
        v = list(map(int, f.readline().split()[1:]))
    return sum(v), v[3] + v[4]
t0, i0 = snap(); time.sleep(1); t1, i1 = snap()
print(f"{100 * (1 - (i1 - i0) / max(1, t1 - t0)):.0f}%")
PY
}

declare -A results
configs=()
for w in $WORKERS; do configs+=("ours-w$w"); done
if [ -n "$REUSE" ]; then configs+=("ours-reuse$REUSE"); fi
configs+=("wasmtime")

for round in $(seq 1 "$ROUNDS"); do
  for cfg in "${configs[@]}"; do
    case "$cfg" in
      ours-w*)
        # The whole headless host (control interface, events, heartbeats) on the in-process
        # lattice, serving through its built-in HTTP provider.
        RUST_LOG=warn "$ours_bin" --no-ui --log-dir "$logs" --actor "$wasm" --http "127.0.0.1:$PORT_OURS" \
          --host-threads "${cfg#ours-w}" >/dev/null 2>>"$server_log" &
        pid=$!; url="http://127.0.0.1:$PORT_OURS/" ;;
      ours-reuse*)
        RUST_LOG=warn "$ours_bin" --no-ui --log-dir "$logs" --actor "$wasm" --http "127.0.0.1:$PORT_OURS" \
          --host-threads 1 --instance-reuse "$REUSE" >/dev/null 2>>"$server_log" &
        pid=$!; url="http://127.0.0.1:$PORT_OURS/" ;;
      wasmtime)
        wasmtime serve -S cli --addr "127.0.0.1:$PORT_WASMTIME" "$wasm" >/dev/null 2>>"$server_log" &
        pid=$!; url="http://127.0.0.1:$PORT_WASMTIME/" ;;
    esac
    wait_ready "$url"
    # CPU used by everything else over 1 s just before the run (the idle server uses ~0):
    # more than a few % means another process shares the CPUs and the round is noisier.
    load="$(others_busy)"
    r="$(run_wrk "$url")"
    stop_server
    results["$cfg"]+="$r;"
    log "round $round $cfg: $(cut -d' ' -f1 <<<"$r") req/s, p99 $(cut -d' ' -f2 <<<"$r") ms (others busy before: $load)"
  done
done

echo
echo "wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS alternating rounds, medians; wrk and the server share $(nproc) vCPUs"
python3 - "${configs[@]}" <<PY
import statistics, sys
raw = {$(for c in "${configs[@]}"; do printf '"%s": "%s", ' "$c" "${results[$c]}"; done)}
rows = {}
for cfg in sys.argv[1:]:
    runs = [tuple(map(float, r.split())) for r in raw[cfg].split(";") if r]
    rows[cfg] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), [int(r[0]) for r in runs])
base = rows["wasmtime"][0]
print(f"{'config':<16} {'req/s':>9} {'p99 ms':>8} {'vs wasmtime':>12}  runs")
for cfg, (rps, p99, runs) in rows.items():
    print(f"{cfg:<16} {rps:>9.0f} {p99:>8.2f} {rps / base:>11.2f}x  {runs}")
PY
