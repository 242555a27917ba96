//! libFuzzer entry of `cli_parse`; the body and the properties it checks are in
//! `fuzz/harness/cli_parse.rs`, shared with the replay test `tests/fuzz_replay.rs`.
#![no_main]

#[path = "../harness/cli_parse.rs"]
mod cli_parse;

libfuzzer_sys::fuzz_target!(|data: &[u8]| cli_parse::run(data));
