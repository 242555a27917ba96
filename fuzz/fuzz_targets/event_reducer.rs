//! libFuzzer entry of `event_reducer`; the body and the properties it checks are in
//! `fuzz/harness/event_reducer.rs`, shared with the replay test `tests/fuzz_replay.rs`.
#![no_main]

#[path = "../harness/event_reducer.rs"]
mod event_reducer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| event_reducer::run(data));
