#!/usr/bin/env bash
# Publishes the PROTOCOL.md §3.3 example events (a heartbeat with two actors and a provider,
# a linkdef_set, a health_check_failed) on a NATS lattice, so a console shows a lattice.
#
#   scripts/publish-example.sh nats://127.0.0.1:4222 [lattice-prefix]
#
# Uses the lattice-tui binary from $LATTICE_TUI, else target/release, else target/debug.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
url="${1:?usage: $0 NATS_URL [LATTICE]}"
lattice="${2:-default}"
bin="${LATTICE_TUI:-}"
if [ -z "$bin" ]; then
  for b in "$here/target/release/lattice-tui" "$here/target/debug/lattice-tui"; do
    if [ -x "$b" ]; then bin="$b"; break; fi
  done
fi
[ -n "$bin" ] || { echo "build lattice-tui first (cargo build) or set LATTICE_TUI" >&2; exit 1; }
exec "$bin" emit --nats "$url" --lattice "$lattice" "$here/assets/scenarios/example-lattice.jsonl"
