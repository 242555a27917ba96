//! libFuzzer entry of `event_reducer`; the body and the properties it checks are in
//! `fuzz/harness/event_reducer.rs`, shared with the replay test `tests/fuzz_replay.rs`.
#![no_main]

#[path = "../harness/event_reducer.rs"]
mod event_reducer;

libfuzzer_sys::fuzz_target!(
    init: {
        // Look past crashes already reported (fuzz/regressions/event_reducer/).
        event_reducer::SKIP_KNOWN_CRASHES.store(true, std::sync::atomic::Ordering::Relaxed);
    },
    |data: &[u8]| event_reducer::run(data)
);
