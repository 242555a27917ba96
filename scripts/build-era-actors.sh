#!/usr/bin/env bash
# Builds every actor-era test actor under assets/actors-era/ (waPC core modules on
# wasmbus-rpc 0.15) for wasm32-unknown-unknown (release: opt-level "s", LTO, stripped) and
# copies the **unsigned** modules to one well-known directory:
#
#     target/era-actors/<name>.wasm        (override with ERA_ACTORS_OUT=/some/dir)
#
# Each actor is its own small crate with its own lockfile; they share one target dir,
# assets/actors-era/target
# (gitignored), so it never joins the lattice-tui build. Installs the wasm32-unknown-unknown
# target when it is missing. Builds are `--locked` and use the local crates.io cache when it
# has everything (`--offline` is tried first, then a normal build).
#
# Usage: scripts/build-era-actors.sh [name ...]     (default: every actor, e.g. era-hello)
# Prints the output directory on stdout as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
out="${ERA_ACTORS_OUT:-$root/target/era-actors}"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "==> installing the wasm32-unknown-unknown target" >&2
  rustup target add wasm32-unknown-unknown >&2
fi

if [ "$#" -gt 0 ]; then
  names=("$@")
else
  names=()
  for dir in assets/actors-era/*/; do
    [ -f "$dir/Cargo.toml" ] && names+=("$(basename "$dir")")
  done
fi

mkdir -p "$out"
era_target="$root/assets/actors-era/target"
for name in "${names[@]}"; do
  manifest="$root/assets/actors-era/$name/Cargo.toml"
  [ -f "$manifest" ] || { echo "no actor-era actor named '$name' ($manifest missing)" >&2; exit 1; }
  build=(cargo build --quiet --release --locked --target wasm32-unknown-unknown --manifest-path "$manifest")
  # One target dir for all of them (their dependencies are the same crates, built once), apart
  # from lattice-tui's even if the caller exports CARGO_TARGET_DIR.
  if ! CARGO_TARGET_DIR="$era_target" "${build[@]}" --offline 2>/dev/null; then
    CARGO_TARGET_DIR="$era_target" "${build[@]}" >&2
  fi
  artifact="$era_target/wasm32-unknown-unknown/release/${name//-/_}.wasm"
  # Copy through a temporary name unique to this process and rename, so concurrent builds
  # (parallel test binaries) and readers never see a torn file.
  tmp="$out/.$name.wasm.$$"
  cp "$artifact" "$tmp"
  mv -f "$tmp" "$out/$name.wasm"
  echo "built $name: $(wc -c <"$out/$name.wasm") bytes" >&2
done
echo "$out"
