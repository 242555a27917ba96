#!/usr/bin/env bash
# Builds the actor-era capability provider(s) under assets/providers/ for this machine's target
# (release, --locked) and packs each into a provider archive:
#
#     target/era-providers/<name>            the executable      (override the dir with
#     target/era-providers/<name>.par.gz     the provider archive  ERA_PROVIDERS_OUT=/some/dir)
#
# The archive is written by scripts/era-par (provider-archive 0.8.0, the version wash 0.20.1
# uses; wascap 0.11 claims): name <name>, vendor lattice-tui, contract wasmcloud:keyvalue, the
# binary under the target `{arch}-{os}` (x86_64-linux here). The issuer (account) and subject
# (service) keys are new every build unless ERA_PAR_SEEDS=FILE names a JSON file
# {"issuer":"SA…","subject":"SV…"}; the provider's public key (V…) is printed on stderr.
#
# Every crate here has its own lockfile and target dir (gitignored) so nothing joins the
# lattice-tui build. Builds try `--offline` first (the local crates.io cache), then a normal build.
#
# Usage: scripts/build-era-provider.sh [name ...]   (default: every provider; only kv-memory today)
# Prints the output directory on stdout as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
out="${ERA_PROVIDERS_OUT:-$root/target/era-providers}"

arch="$(uname -m)"
case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=macos ;;
  *) os="$(uname -s | tr '[:upper:]' '[:lower:]')" ;;
esac
[ "$arch" = arm64 ] && arch=aarch64
par_target="$arch-$os"

# Cargo builds with a fixed target dir, offline first.
cargo_build() { # manifest target_dir
  local build=(cargo build --quiet --release --locked --manifest-path "$1")
  # Not niced: on a machine busy with other work a niced build gets a few per cent of the CPU.
  if ! CARGO_TARGET_DIR="$2" "${build[@]}" --offline 2>/dev/null; then
    CARGO_TARGET_DIR="$2" "${build[@]}" >&2
  fi
}

if [ "$#" -gt 0 ]; then
  names=("$@")
else
  names=()
  for dir in assets/providers/*/; do
    [ -f "$dir/Cargo.toml" ] && names+=("$(basename "$dir")")
  done
fi

echo "==> building the packer (scripts/era-par)" >&2
cargo_build "$root/scripts/era-par/Cargo.toml" "$root/scripts/era-par/target"
packer="$root/scripts/era-par/target/release/era-par"

mkdir -p "$out"
for name in "${names[@]}"; do
  dir="$root/assets/providers/$name"
  [ -f "$dir/Cargo.toml" ] || { echo "no provider named '$name' ($dir/Cargo.toml missing)" >&2; exit 1; }
  echo "==> building provider $name" >&2
  cargo_build "$dir/Cargo.toml" "$dir/target"
  artifact="$dir/target/release/$name"
  # Through temporary names unique to this process, then rename: concurrent builds and readers
  # never see a torn file.
  tmp="$out/.$name.$$"
  cp "$artifact" "$tmp"
  mv -f "$tmp" "$out/$name"
  seeds=()
  [ -n "${ERA_PAR_SEEDS:-}" ] && seeds=(--seeds "$ERA_PAR_SEEDS")
  key="$("$packer" --binary "$out/$name" --out "$out/.$name.$$.par.gz" --target "$par_target" \
    --name "$name" --vendor lattice-tui --contract wasmcloud:keyvalue "${seeds[@]}" | tail -n 1)"
  mv -f "$out/.$name.$$.par.gz" "$out/$name.par.gz"
  echo "built $name: $(wc -c <"$out/$name") bytes, $name.par.gz $(wc -c <"$out/$name.par.gz") bytes, target $par_target, provider key $key" >&2
done
echo "$out"
