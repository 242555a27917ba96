//! The live call rates the console knows: per host, per actor, the last cumulative counters a
//! lattice-tui host published (`lattice-tui.rates.*`), the rate over the last interval and a
//! bounded ring of [`BUCKETS`] buckets of [`BUCKET_SECS`] seconds (five minutes), plus views
//! that sum an actor's series across hosts. Filled by `reduce::rates`.
//!
//! Pure data: every time in here is a host's `at` or a `now` passed in by the caller.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use super::model::Timestamp;

/// Seconds per sparkline bucket.
pub const BUCKET_SECS: i64 = 5;
/// Buckets kept per series: 60 × 5 s = the last five minutes.
pub const BUCKETS: usize = 60;
/// Samples further apart than this (host clock) give no rate: the counters are kept as the
/// new baseline and the ring skips the gap.
pub const MAX_GAP_SECS: i64 = 60;
/// A host with no sample for this long (console clock) is dropped from the rates.
pub const STALE_AFTER_SECS: i64 = 10;
/// Hosts whose rates are kept; samples of further hosts are refused (counted).
pub const MAX_RATE_HOSTS: usize = 1024;
/// Series (host × actor) kept in all; actors beyond are refused (counted). About 1.5 KB each.
pub const MAX_SERIES: usize = 16_384;

/// Rates of every host that publishes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rates {
    /// By host id.
    pub hosts: BTreeMap<String, HostRates>,
    /// Samples that could not be decoded.
    pub malformed: u64,
    /// Why the last one could not be.
    pub last_malformed: Option<String>,
    /// Samples refused: out of order, from a stopped host, or over the bounds.
    pub refused: u64,
    /// Counters that went down (a host or actor restart), taken as a new baseline.
    pub resets: u64,
}

impl Rates {
    /// Nothing known and nothing counted.
    pub fn is_empty(&self) -> bool {
        self == &Rates::default()
    }

    /// Series kept in all.
    pub fn series(&self) -> usize {
        self.hosts.values().map(|h| h.actors.len()).sum()
    }

    /// One actor's series on one host.
    pub fn on_host(&self, host_id: &str, public_key: &str) -> Option<&ActorRates> {
        self.hosts.get(host_id)?.actors.get(public_key)
    }

    /// One actor on one host, as a [`RateView`].
    pub fn view(&self, host_id: &str, public_key: &str) -> Option<RateView> {
        self.on_host(host_id, public_key).map(|a| {
            let end = a.buckets.back().map_or(0, |b| b.index);
            RateView {
                requests_milli: a.requests_milli,
                errors_milli: a.errors_milli,
                buckets: aligned(std::iter::once(a), end),
                hosts: 1,
            }
        })
    }

    /// One actor summed over every host that reports it (saturating), buckets aligned on
    /// the newest bucket any of them has.
    pub fn lattice_wide(&self, public_key: &str) -> Option<RateView> {
        let series: Vec<&ActorRates> = self
            .hosts
            .values()
            .filter_map(|h| h.actors.get(public_key))
            .collect();
        if series.is_empty() {
            return None;
        }
        let end = series
            .iter()
            .filter_map(|a| a.buckets.back().map(|b| b.index))
            .max()
            .unwrap_or(0);
        let sum = |f: fn(&ActorRates) -> Option<u64>| {
            series
                .iter()
                .filter_map(|a| f(a))
                .reduce(u64::saturating_add)
        };
        Some(RateView {
            requests_milli: sum(|a| a.requests_milli),
            errors_milli: sum(|a| a.errors_milli),
            buckets: aligned(series.iter().copied(), end),
            hosts: series.len(),
        })
    }
}

/// The [`BUCKETS`] buckets ending at index `end`, oldest first, summed over `series`.
fn aligned<'a>(series: impl Iterator<Item = &'a ActorRates>, end: i64) -> Vec<BucketView> {
    let start = end.saturating_sub(BUCKETS as i64 - 1);
    let mut out: Vec<BucketView> = (start..=end)
        .map(|index| BucketView {
            index,
            ..BucketView::default()
        })
        .collect();
    for a in series {
        for b in &a.buckets {
            if let Some(slot) = b
                .index
                .checked_sub(start)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| out.get_mut(i))
            {
                slot.requests = slot.requests.saturating_add(b.requests);
                slot.errors = slot.errors.saturating_add(b.errors);
                slot.requests_milli = slot.requests_milli.saturating_add(b.requests_milli());
                slot.errors_milli = slot.errors_milli.saturating_add(b.errors_milli());
            }
        }
    }
    out
}

/// What one host last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostRates {
    /// Host clock time of its last sample.
    pub at: Timestamp,
    /// Console clock time that sample arrived.
    pub received: Timestamp,
    /// By actor public key.
    pub actors: BTreeMap<String, ActorRates>,
}

/// One actor's series on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActorRates {
    /// Last cumulative request count.
    pub requests: u64,
    /// Last cumulative error count.
    pub errors: u64,
    /// Requests per second × 1000 over the last interval; `None` until two samples (or after
    /// a reset or a gap).
    pub requests_milli: Option<u64>,
    /// Errors per second × 1000 over the last interval.
    pub errors_milli: Option<u64>,
    /// Contiguous buckets, oldest first, at most [`BUCKETS`].
    pub buckets: VecDeque<Bucket>,
}

/// Calls counted in one [`BUCKET_SECS`] bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// `host time in seconds / BUCKET_SECS`.
    pub index: i64,
    /// Requests in the bucket.
    pub requests: u64,
    /// Errors in the bucket.
    pub errors: u64,
    /// Milliseconds of sample intervals the counts cover (the newest bucket is still
    /// filling; a baseline covers none), so a partial bucket shows its true rate.
    pub covered_ms: u64,
}

impl Bucket {
    /// Requests per second × 1000 over the time covered (0 when none is).
    pub fn requests_milli(&self) -> u64 {
        per_second_milli(self.requests, self.covered_ms)
    }

    /// Errors per second × 1000 over the time covered.
    pub fn errors_milli(&self) -> u64 {
        per_second_milli(self.errors, self.covered_ms)
    }
}

/// `count` over `ms` milliseconds, per second × 1000 (saturating; 0 over no time).
pub fn per_second_milli(count: u64, ms: u64) -> u64 {
    if ms == 0 {
        return 0;
    }
    let v = u128::from(count).saturating_mul(1_000_000) / u128::from(ms);
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// One bucket of a [`RateView`]: counts, and per-second rates (× 1000) summed over hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketView {
    /// `host time in seconds / BUCKET_SECS`.
    pub index: i64,
    /// Requests counted.
    pub requests: u64,
    /// Errors counted.
    pub errors: u64,
    /// Requests per second × 1000.
    pub requests_milli: u64,
    /// Errors per second × 1000.
    pub errors_milli: u64,
}

/// Rates ready to show: current rates and [`BUCKETS`] aligned buckets, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateView {
    /// Requests per second × 1000.
    pub requests_milli: Option<u64>,
    /// Errors per second × 1000.
    pub errors_milli: Option<u64>,
    /// Exactly [`BUCKETS`] buckets.
    pub buckets: Vec<BucketView>,
    /// How many hosts were summed.
    pub hosts: usize,
}
