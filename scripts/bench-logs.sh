#!/usr/bin/env bash
# HTTP throughput of the console's embedded host with the logs view open vs closed, while the
# actor prints a line on every request (the `echo` actor prints `echo: GET /`).
#
# Runs the release `lattice-tui --actor echo.wasm --http ADDR` (console + embedded host, on
# the in-process lattice) in a tmux pane of its own, waits for it to serve, then ALTERNATES
# runs, round by round: wrk with the console on its tables (logs view closed), then wrk with
# the logs view open (`l` on the Hosts tab: every line, following, redrawn every frame). Prints
# the median req/s of each and the ratio open / closed (target ≥ 0.95), plus the view's line
# and dropped counters as the view's title showed them after the last open run.
#
# What reaches the log: guest_io.rs lets an actor log at most GUEST_LINES_PER_SEC (200) lines
# a second (bursts of 2,000); the rest are dropped before tracing and summed in one warning
# per interval. So this measures the view's cost on the host under the real per-actor budget;
# the ring and the frame at 100,000 lines/s are `cargo bench --bench logs`.
#
# Environment: ROUNDS (3), DURATION (10s), CONNS (32), THREADS (2, wrk threads), PORT (8093),
# BIN (a lattice-tui binary to use instead of building the release one).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
CONNS="${CONNS:-32}"
THREADS="${THREADS:-2}"
PORT="${PORT:-8093}"

log() { printf '==> %s\n' "$*" >&2; }

for tool in tmux wrk curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench-logs.sh needs $tool" >&2; exit 1; }
done

actors="$(scripts/build-actors.sh echo | tail -n1)"
wasm="$actors/echo.wasm"
if [ -n "${BIN:-}" ]; then
  bin="$BIN"
else
  log "building lattice-tui (release)"
  cargo build --release --locked --quiet
  target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  bin="$target_dir/release/lattice-tui"
fi
tmp="$(mktemp -d)"
sock="lattice-tui-bench-logs-$$"
url="http://127.0.0.1:$PORT/"

tmux -L "$sock" new-session -d -s b -x 200 -y 50 \
  "env NO_COLOR=1 $bin --actor $wasm --http 127.0.0.1:$PORT --log-file $tmp/console.log"
cleanup() {
  tmux -L "$sock" send-keys -t b Escape q 2>/dev/null || true
  sleep 2
  tmux -L "$sock" kill-server 2>/dev/null || true
}
trap cleanup EXIT
screen() { tmux -L "$sock" capture-pane -p -t b; }
wait_screen() { # text
  for _ in $(seq 1 300); do
    if screen | grep -qF -- "$1"; then return 0; fi
    sleep 0.1
  done
  echo "the console never showed '$1':" >&2
  screen >&2
  return 1
}

wait_screen "links 1"
for _ in $(seq 1 200); do
  if curl -fsS -o /dev/null "$url" 2>/dev/null; then break; fi
  sleep 0.05
done

run_wrk() { # → req/s
  local out
  out="$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" "$url")"
  if grep -q "Non-2xx" <<<"$out"; then
    echo "non-2xx responses during the run:" >&2
    echo "$out" >&2
    return 1
  fi
  sed -n 's/^Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p' <<<"$out"
}

closed=()
open=()
for round in $(seq 1 "$ROUNDS"); do
  tmux -L "$sock" send-keys -t b Escape
  sleep 1
  r="$(run_wrk)"; closed+=("$r")
  log "round $round closed: $r req/s"
  tmux -L "$sock" send-keys -t b l
  wait_screen "all actors"
  sleep 1
  r="$(run_wrk)"; open+=("$r")
  title="$(screen | grep -m1 -F " logs " || true)"
  log "round $round open:   $r req/s   (view: $(sed 's/[─┌┐]//g; s/^ *//' <<<"$title"))"
done

python3 - "${closed[*]}" "${open[*]}" <<'PY'
import statistics, sys
closed = [float(x) for x in sys.argv[1].split()]
opened = [float(x) for x in sys.argv[2].split()]
c, o = statistics.median(closed), statistics.median(opened)
print(f"logs view closed: {c:.0f} req/s (median of {len(closed)})")
print(f"logs view open:   {o:.0f} req/s (median of {len(opened)})")
print(f"ratio open/closed: {o / c:.3f} (target >= 0.95)")
PY
