//! Rates from samples: each [`RatesSample`] (a host's cumulative per-actor counters at its
//! own time `at`) is folded against the previous one of that host into a per-second rate and
//! the ring of buckets ([`crate::state::rates`]). Pure: the host's `at` orders and spaces
//! samples; the console's `now` only ages hosts out.
//!
//! Rules:
//! - A sample not newer than the host's last one (host clock) is refused, so repeats and
//!   reordering never count twice.
//! - A counter lower than before is a restart: the new value is the baseline, the rate is
//!   unknown until the next sample, never negative.
//! - Samples more than [`MAX_GAP_SECS`] apart give no rate either (just a new baseline).
//! - An actor missing from a host's sample is gone from that host.
//! - A host with no sample for [`STALE_AFTER_SECS`], or whose `host_stopped` is newer than
//!   its last sample, is dropped at the next [`super::tick`].
//! - Bounded: at most [`MAX_RATE_HOSTS`] hosts and [`MAX_SERIES`] series; what is over is
//!   refused and counted. Counts from the network saturate.

use std::collections::{BTreeMap, VecDeque};

use crate::lattice::protocol::{RatesDecodeError, RatesSample};

use super::super::model::{Lattice, Timestamp};
use super::super::rates::{
    ActorRates, BUCKET_SECS, BUCKETS, Bucket, HostRates, MAX_GAP_SECS, MAX_RATE_HOSTS, MAX_SERIES,
    STALE_AFTER_SECS, per_second_milli,
};

/// What folding one sample did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatesApplied {
    /// Folded in.
    Applied,
    /// Refused (and counted): older than what the host sent, from a stopped host, or over
    /// the bounds.
    Refused,
}

/// Folds one sample received at `now`.
pub fn apply_rates(m: &mut Lattice, s: &RatesSample, now: Timestamp) -> RatesApplied {
    let refused = |m: &mut Lattice| {
        m.rates.refused = m.rates.refused.saturating_add(1);
        RatesApplied::Refused
    };
    if let Some(stopped) = m.stopped_hosts.get(&s.host_id)
        && stopped.is_none_or(|t| s.at <= t)
    {
        return refused(m);
    }
    if let Some(h) = m.rates.hosts.get(&s.host_id)
        && s.at <= h.at
    {
        return refused(m);
    }
    if !m.rates.hosts.contains_key(&s.host_id) && m.rates.hosts.len() >= MAX_RATE_HOSTS {
        return refused(m);
    }
    let others = m.rates.series() - m.rates.hosts.get(&s.host_id).map_or(0, |h| h.actors.len());
    let room = MAX_SERIES.saturating_sub(others);
    let mut resets = 0u64;
    let mut over = false;
    let host = m
        .rates
        .hosts
        .entry(s.host_id.clone())
        .or_insert_with(|| HostRates {
            at: s.at,
            received: now,
            actors: BTreeMap::new(),
        });
    let dt_ms = (s.at - host.at).num_milliseconds();
    let index = s.at.timestamp().div_euclid(BUCKET_SECS);
    let mut actors = BTreeMap::new();
    for c in &s.actors {
        if actors.contains_key(&c.public_key) {
            continue;
        }
        if actors.len() >= room {
            over = true;
            break;
        }
        let mut a = host
            .actors
            .remove(&c.public_key)
            .unwrap_or_else(|| ActorRates {
                requests: c.requests,
                errors: c.errors,
                requests_milli: None,
                errors_milli: None,
                buckets: VecDeque::new(),
            });
        // A series seen before (a new one only gives the baseline).
        let known = !a.buckets.is_empty();
        let reset = c.requests < a.requests || c.errors < a.errors;
        if reset {
            resets = resets.saturating_add(1);
        }
        let usable = known && !reset && dt_ms > 0 && dt_ms <= MAX_GAP_SECS * 1000;
        let (dr, de, covered) = if usable {
            (
                c.requests - a.requests,
                c.errors - a.errors,
                u64::try_from(dt_ms).unwrap_or(0),
            )
        } else {
            (0, 0, 0)
        };
        a.requests_milli = usable.then(|| per_second_milli(dr, covered));
        a.errors_milli = usable.then(|| per_second_milli(de, covered));
        a.requests = c.requests;
        a.errors = c.errors;
        record(
            &mut a.buckets,
            index,
            Bucket {
                index,
                requests: dr,
                errors: de,
                covered_ms: covered,
            },
        );
        actors.insert(c.public_key.clone(), a);
    }
    host.actors = actors;
    host.at = s.at;
    host.received = now;
    m.rates.resets = m.rates.resets.saturating_add(resets);
    if over {
        m.rates.refused = m.rates.refused.saturating_add(1);
    }
    RatesApplied::Applied
}

/// Records a sample that could not be decoded.
pub fn record_rates_malformed(m: &mut Lattice, err: &RatesDecodeError) {
    m.rates.malformed = m.rates.malformed.saturating_add(1);
    m.rates.last_malformed = Some(err.to_string());
}

/// Drops hosts silent for [`STALE_AFTER_SECS`] at `now`, and hosts whose `host_stopped` is
/// newer than their last sample. Returns whether any went.
pub fn age_rates(m: &mut Lattice, now: Timestamp) -> bool {
    let before = m.rates.hosts.len();
    let stopped = &m.stopped_hosts;
    m.rates.hosts.retain(|id, h| {
        let fresh = (now - h.received).num_seconds() < STALE_AFTER_SECS;
        let stopped = stopped.get(id).is_some_and(|t| t.is_none_or(|t| h.at <= t));
        fresh && !stopped
    });
    m.rates.hosts.len() != before
}

/// Adds `add`'s counts to the bucket `index`, moving the ring forward (empty buckets for the
/// seconds without samples) and keeping at most [`BUCKETS`].
fn record(ring: &mut VecDeque<Bucket>, index: i64, add: Bucket) {
    match ring.back().map(|b| b.index) {
        Some(last) if index < last => return,
        Some(last) if index - last >= BUCKETS as i64 => ring.clear(),
        Some(last) => {
            for i in last + 1..=index {
                ring.push_back(Bucket {
                    index: i,
                    ..Bucket::default()
                });
            }
        }
        None => {}
    }
    if ring.back().is_none() {
        ring.push_back(Bucket {
            index,
            ..Bucket::default()
        });
    }
    if let Some(b) = ring.back_mut() {
        b.requests = b.requests.saturating_add(add.requests);
        b.errors = b.errors.saturating_add(add.errors);
        b.covered_ms = b.covered_ms.saturating_add(add.covered_ms);
    }
    while ring.len() > BUCKETS {
        ring.pop_front();
    }
}
