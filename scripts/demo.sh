#!/usr/bin/env bash
# The main job: the console with the embedded host, on the in-process lattice, running the
# bundled example actor `hello` and serving it over HTTP (default http://127.0.0.1:8080/).
#
#   scripts/demo.sh [more lattice-tui flags]        HTTP_ADDR=127.0.0.1:9000 scripts/demo.sh
#
# Builds what it needs first: the example actors (installing the wasm32-wasip2 target if
# missing) and lattice-tui itself (release).
set -euo pipefail
cd "$(dirname "$0")/.."
addr="${HTTP_ADDR:-127.0.0.1:8080}"
out="$(scripts/build-actors.sh hello | tail -n 1)"
echo "==> building lattice-tui (release; the first build takes several minutes)" >&2
cargo build --release --quiet
echo "==> serving $out/hello.wasm on http://$addr/ (try: curl http://$addr/); q quits" >&2
exec cargo run --release --quiet -- --actor "$out/hello.wasm" --http "$addr" "$@"
