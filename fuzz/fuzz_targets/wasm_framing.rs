//! libFuzzer entry of `wasm_framing`; the body and the properties it checks are in
//! `fuzz/harness/wasm_framing.rs`, shared with the replay test `tests/fuzz_replay.rs`.
#![no_main]

#[path = "../harness/wasm_framing.rs"]
mod wasm_framing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasm_framing::run(data));
