//! The rates reducer (`state::reduce::rates`): per-second rates from the deltas of cumulative
//! samples, resets on a restart, refusal of repeats and reordering, aging of silent and
//! stopped hosts, bounds, saturation of counts from the network, and malformed samples.

use chrono::{Duration, TimeZone, Utc};
use lattice_tui::ingest::ingest;
use lattice_tui::lattice::monitor::MonitorMsg;
use lattice_tui::lattice::protocol::{
    ActorCounters, EventData, HostStopped, LatticeEvent, RatesSample, StringMap,
};
use lattice_tui::state::rates::{BUCKET_SECS, BUCKETS, MAX_RATE_HOSTS, STALE_AFTER_SECS};
use lattice_tui::state::{self, Lattice, ModelConfig, RatesApplied, Timestamp};

fn t(secs: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(secs)
}

fn model() -> Lattice {
    Lattice::new("default", ModelConfig::default())
}

fn sample(host: &str, secs: i64, actors: &[(&str, u64, u64)]) -> RatesSample {
    RatesSample {
        host_id: host.into(),
        at: t(secs),
        actors: actors
            .iter()
            .map(|(k, r, e)| ActorCounters {
                public_key: (*k).into(),
                requests: *r,
                errors: *e,
            })
            .collect(),
    }
}

/// Applies a sample received (console clock) at the same second it was taken.
fn feed(m: &mut Lattice, s: RatesSample) -> RatesApplied {
    let now = s.at;
    state::apply_rates(m, &s, now)
}

#[test]
fn rates_come_from_the_delta_over_the_host_clock_interval() {
    let mut m = model();
    assert_eq!(
        feed(&mut m, sample("NH", 10, &[("MA", 100, 5)])),
        RatesApplied::Applied
    );
    let first = m.rates.view("NH", "MA").unwrap();
    assert_eq!(first.requests_milli, None, "one sample is only a baseline");
    feed(&mut m, sample("NH", 12, &[("MA", 130, 9)]));
    let v = m.rates.view("NH", "MA").unwrap();
    assert_eq!(v.requests_milli, Some(15_000), "30 requests in 2 s");
    assert_eq!(v.errors_milli, Some(2_000), "4 errors in 2 s");
    assert_eq!(v.buckets.len(), BUCKETS);
    let last = v.buckets.last().unwrap();
    assert_eq!(
        last.index,
        12 / BUCKET_SECS + t(0).timestamp() / BUCKET_SECS
    );
    assert_eq!((last.requests, last.errors), (30, 4));
    assert_eq!(v.buckets.iter().map(|b| b.requests).sum::<u64>(), 30);
}

#[test]
fn lost_samples_cost_resolution_not_counts() {
    let mut m = model();
    feed(&mut m, sample("NH", 0, &[("MA", 0, 0)]));
    // Samples of seconds 1–3 were lost.
    feed(&mut m, sample("NH", 4, &[("MA", 40, 0)]));
    let v = m.rates.view("NH", "MA").unwrap();
    assert_eq!(v.requests_milli, Some(10_000));
    assert_eq!(v.buckets.iter().map(|b| b.requests).sum::<u64>(), 40);
}

#[test]
fn a_counter_going_down_is_a_reset_not_a_negative_rate() {
    let mut m = model();
    feed(&mut m, sample("NH", 0, &[("MA", 500, 50)]));
    feed(&mut m, sample("NH", 1, &[("MA", 510, 50)]));
    assert_eq!(
        m.rates.view("NH", "MA").unwrap().requests_milli,
        Some(10_000)
    );
    // The actor (or host) restarted: its counters start again from zero.
    feed(&mut m, sample("NH", 2, &[("MA", 3, 0)]));
    let v = m.rates.view("NH", "MA").unwrap();
    assert_eq!(v.requests_milli, None);
    assert_eq!(v.errors_milli, None);
    assert_eq!(m.rates.resets, 1);
    assert_eq!(v.buckets.iter().map(|b| b.requests).sum::<u64>(), 10);
    feed(&mut m, sample("NH", 3, &[("MA", 8, 1)]));
    let v = m.rates.view("NH", "MA").unwrap();
    assert_eq!(
        v.requests_milli,
        Some(5_000),
        "rates resume from the new baseline"
    );
    assert_eq!(v.errors_milli, Some(1_000));
}

#[test]
fn repeated_and_reordered_samples_are_refused() {
    let mut m = model();
    feed(&mut m, sample("NH", 0, &[("MA", 0, 0)]));
    feed(&mut m, sample("NH", 2, &[("MA", 20, 0)]));
    let before = m.rates.clone();
    assert_eq!(
        feed(&mut m, sample("NH", 2, &[("MA", 20, 0)])),
        RatesApplied::Refused
    );
    assert_eq!(
        feed(&mut m, sample("NH", 1, &[("MA", 10, 0)])),
        RatesApplied::Refused
    );
    assert_eq!(m.rates.refused, 2);
    assert_eq!(m.rates.hosts, before.hosts, "nothing counted twice");
}

#[test]
fn samples_far_apart_give_no_rate() {
    let mut m = model();
    feed(&mut m, sample("NH", 0, &[("MA", 0, 0)]));
    feed(&mut m, sample("NH", 120, &[("MA", 1200, 0)]));
    let v = m.rates.view("NH", "MA").unwrap();
    assert_eq!(v.requests_milli, None);
    feed(&mut m, sample("NH", 121, &[("MA", 1201, 0)]));
    assert_eq!(
        m.rates.view("NH", "MA").unwrap().requests_milli,
        Some(1_000)
    );
}

#[test]
fn an_actor_missing_from_a_sample_is_gone_from_that_host() {
    let mut m = model();
    feed(&mut m, sample("NH", 0, &[("MA", 1, 0), ("MB", 1, 0)]));
    feed(&mut m, sample("NH", 1, &[("MB", 2, 0)]));
    assert!(m.rates.view("NH", "MA").is_none());
    assert!(m.rates.view("NH", "MB").is_some());
}

#[test]
fn the_ring_keeps_five_minutes_and_moves_with_the_host_clock() {
    let mut m = model();
    for s in 0..=600 {
        let n = u64::try_from(s).unwrap();
        feed(&mut m, sample("NH", s, &[("MA", n * 2, 0)]));
    }
    let a = m.rates.on_host("NH", "MA").unwrap();
    assert_eq!(a.buckets.len(), BUCKETS);
    let v = m.rates.view("NH", "MA").unwrap();
    assert_eq!(v.requests_milli, Some(2_000));
    // Every full bucket holds BUCKET_SECS seconds of 2 requests/s.
    let full = u64::try_from(BUCKET_SECS).unwrap() * 2;
    assert!(
        v.buckets[..BUCKETS - 1].iter().all(|b| b.requests == full),
        "{v:?}"
    );
    // Idle seconds move the ring too: ten silent samples leave two empty buckets.
    for s in 601..=610 {
        feed(&mut m, sample("NH", s, &[("MA", 1200, 0)]));
    }
    let v = m.rates.view("NH", "MA").unwrap();
    assert_eq!(v.requests_milli, Some(0));
    assert_eq!(v.buckets.last().unwrap().requests, 0);
}

#[test]
fn lattice_wide_rates_sum_the_hosts() {
    let mut m = model();
    for (host, per_s) in [("NH1", 3), ("NH2", 7)] {
        feed(&mut m, sample(host, 0, &[("MA", 0, 0)]));
        feed(&mut m, sample(host, 1, &[("MA", per_s, 1)]));
    }
    let all = m.rates.lattice_wide("MA").unwrap();
    assert_eq!(all.hosts, 2);
    assert_eq!(all.requests_milli, Some(10_000));
    assert_eq!(all.errors_milli, Some(2_000));
    assert_eq!(all.buckets.iter().map(|b| b.requests).sum::<u64>(), 10);
    assert!(m.rates.lattice_wide("MNONE").is_none());
}

#[test]
fn lattice_wide_buckets_align_on_the_host_clock() {
    let mut m = model();
    // NH1 reports up to second 100, NH2 only up to second 50 (then nothing yet).
    for s in 0..=100 {
        let n = u64::try_from(s).unwrap();
        feed(&mut m, sample("NH1", s, &[("MA", n, 0)]));
        if s <= 50 {
            feed(&mut m, sample("NH2", s, &[("MA", n * 10, 0)]));
        }
    }
    let all = m.rates.lattice_wide("MA").unwrap();
    let last = all.buckets.last().unwrap();
    assert_eq!(
        last.index,
        t(100).timestamp() / BUCKET_SECS,
        "the newest host sets the end"
    );
    let at = |secs: i64| {
        all.buckets
            .iter()
            .find(|b| b.index == t(secs).timestamp() / BUCKET_SECS)
            .unwrap()
    };
    assert_eq!(
        at(30).requests_milli,
        11_000,
        "1/s + 10/s while both report"
    );
    assert_eq!(
        at(80).requests_milli,
        1_000,
        "NH1 alone after NH2's last sample"
    );
}

#[test]
fn silent_hosts_age_out_at_the_tick() {
    let mut m = model();
    feed(&mut m, sample("NH", 0, &[("MA", 0, 0)]));
    assert!(!state::tick(&mut m, t(STALE_AFTER_SECS - 1)));
    assert!(m.rates.hosts.contains_key("NH"), "not yet stale");
    assert!(state::tick(&mut m, t(STALE_AFTER_SECS)));
    assert!(m.rates.hosts.is_empty());
}

#[test]
fn a_stopped_host_ages_out_and_its_late_samples_are_refused() {
    let mut m = model();
    let host = "NSTOPPING";
    feed(&mut m, sample(host, 0, &[("MA", 0, 0)]));
    feed(&mut m, sample(host, 1, &[("MA", 5, 0)]));
    let stopped = LatticeEvent::new(
        "ev-stop",
        host,
        t(2),
        EventData::HostStopped(HostStopped {
            labels: StringMap::new(),
        }),
    );
    state::apply(&mut m, &stopped, t(2));
    state::tick(&mut m, t(2));
    assert!(m.rates.hosts.is_empty(), "gone with the host");
    // A sample taken before the stop, delivered late.
    assert_eq!(
        feed(&mut m, sample(host, 2, &[("MA", 6, 0)])),
        RatesApplied::Refused
    );
    assert!(m.rates.hosts.is_empty());
}

#[test]
fn counts_from_the_network_saturate() {
    let mut m = model();
    for host in ["NH1", "NH2"] {
        feed(&mut m, sample(host, 0, &[("MA", 0, 0)]));
        feed(&mut m, sample(host, 1, &[("MA", u64::MAX, u64::MAX)]));
    }
    let v = m.rates.view("NH1", "MA").unwrap();
    assert_eq!(v.requests_milli, Some(u64::MAX));
    let all = m.rates.lattice_wide("MA").unwrap();
    assert_eq!(all.requests_milli, Some(u64::MAX));
    assert_eq!(all.buckets.last().unwrap().requests, u64::MAX);
    // Errors larger than requests, duplicated actors: accepted as they are, no panic.
    feed(&mut m, sample("NH3", 0, &[("MA", 0, 9), ("MA", 1, 1)]));
    assert_eq!(m.rates.on_host("NH3", "MA").unwrap().errors, 9);
}

#[test]
fn hosts_beyond_the_bound_are_refused() {
    let mut m = model();
    for i in 0..MAX_RATE_HOSTS {
        feed(&mut m, sample(&format!("NH{i}"), 0, &[]));
    }
    assert_eq!(feed(&mut m, sample("NLAST", 0, &[])), RatesApplied::Refused);
    assert_eq!(m.rates.hosts.len(), MAX_RATE_HOSTS);
    assert_eq!(
        feed(&mut m, sample("NH0", 1, &[])),
        RatesApplied::Applied,
        "known hosts go on"
    );
}

#[test]
fn malformed_samples_are_counted_never_a_panic() {
    let mut m = model();
    let bad: [&[u8]; 5] = [
        b"",
        b"\xff\xfe",
        b"{\"host_id\":\"NH\",\"at\":0}",
        b"{\"host_id\":\"\",\"at\":\"2026-01-01T00:00:00Z\"}",
        b"{\"host_id\":\"NH\",\"at\":\"2026-01-01T00:00:00Z\",\"actors\":[{\"public_key\":1}]}",
    ];
    for bytes in bad {
        let err = RatesSample::from_json(bytes).unwrap_err();
        ingest(&mut m, MonitorMsg::RatesMalformed(err), t(0));
    }
    assert_eq!(m.rates.malformed, 5);
    assert!(
        m.rates
            .last_malformed
            .as_deref()
            .unwrap()
            .contains("invalid rates sample")
    );
    assert!(m.rates.hosts.is_empty());
    // Good samples still go through the same door.
    assert!(ingest(
        &mut m,
        MonitorMsg::Rates(Box::new(sample("NH", 0, &[("MA", 1, 0)]))),
        t(0)
    ));
    assert!(m.rates.view("NH", "MA").is_some());
}
