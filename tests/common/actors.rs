//! The example and test actors under `assets/actors/`, built for tests.
//!
//! The first call in a test process runs `scripts/build-actors.sh` (which builds every actor
//! and copies them to `target/actors/`); later calls reuse its result. Parallel test
//! binaries may run the script at the same time: cargo locks each actor's build directory
//! and the script installs each `.wasm` by an atomic rename, so they never see a torn file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

fn build() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("target").join("actors");
    let output = Command::new("bash")
        .arg(root.join("scripts").join("build-actors.sh"))
        .env("ACTORS_OUT", &out)
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run scripts/build-actors.sh: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "scripts/build-actors.sh failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(out)
}

/// The path of the built actor `name` (e.g. `"hello"`), building every actor on first use.
///
/// Panics with the build's output if the build fails or `name` is not an actor.
pub fn actor_wasm(name: &str) -> PathBuf {
    let dir = match BUILT.get_or_init(build) {
        Ok(dir) => dir,
        Err(e) => panic!("{e}"),
    };
    let path = dir.join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "no built actor {name} at {}",
        path.display()
    );
    path
}
