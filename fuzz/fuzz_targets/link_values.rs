//! libFuzzer entry of `link_values`; the body and the properties it checks are in
//! `fuzz/harness/link_values.rs`, shared with the replay test `tests/fuzz_replay.rs`.
#![no_main]

#[path = "../harness/link_values.rs"]
mod link_values;

libfuzzer_sys::fuzz_target!(|data: &[u8]| link_values::run(data));
