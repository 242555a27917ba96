//! libFuzzer entry of `ctl_request`; the body and the properties it checks are in
//! `fuzz/harness/ctl_request.rs`, shared with the replay test `tests/fuzz_replay.rs`.
#![no_main]

#[path = "../harness/ctl_request.rs"]
mod ctl_request;

libfuzzer_sys::fuzz_target!(|data: &[u8]| ctl_request::run(data));
