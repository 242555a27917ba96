//! Property test: the in-process bus and a real nats-server deliver the same.
//!
//! Random sequences of bus operations (subscribe with `*` / `>` patterns, queue-subscribe in a
//! few groups, echo responders, publish, request, unsubscribe by dropping) run against
//! [`Bus::local`] and against one nats-server (a fresh connection per case). What every
//! subscriber received, and what every request returned, must agree:
//! - a plain subscriber (responders included) gets the same ordered list of
//!   (subject, payload, has-reply) on both backends;
//! - a queue group: which member gets a message differs by design, so per group the multiset
//!   of messages its members got must agree, and no message may reach two members of a group;
//! - a request ends in the same class: the echoed payload, "no responders", or a timeout.
//!
//! Subjects come from a small alphabet (tokens `a`, `b`, `c`; patterns of `a`, `b`, `*`, `>`)
//! so patterns overlap. Every subject of a case lives under a case prefix (`cN.`), as do
//! its queue group names: a connection of an earlier case that the server has not closed yet
//! can then neither steal queue-group messages nor turn a "no responders" into a timeout.
//! (So a bare top-level `>` is never generated; `cN.>` plays its part.)
//!
//! NATS ordering: everything of one backend goes over one connection. After each subscribe
//! or unsubscribe the test flushes, so the server knows before the next publish. `flush` only
//! empties the client's write buffer, it is no round trip; so before reading what a
//! subscription got, the test publishes a fence message to a subject of its own and waits for
//! it: the server delivers to one connection in the order it processed the publishes, so once
//! the fence is back every earlier delivery is in its subscription's queue. Collection then
//! also reads until the subscriptions stay quiet for a short window (bounded by a deadline).

mod common;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::{NatsServer, connect_bus, scaled};
use futures::FutureExt;
use lattice_tui::lattice::bus::{Bus, BusError, Subscription};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Cases per run unless `PROPTEST_CASES` says otherwise; each takes a few ms plus the request
/// timeouts it hits, so the whole test stays well under a minute on 2 cores.
const CASES: u32 = 96;

/// Most operations in one sequence.
const MAX_OPS: usize = 24;

/// How long a request waits for a reply. A local echo answers in well under a millisecond;
/// this only has to be long enough that a loaded machine's reply is not taken for a timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(300);

/// Quiet time after which a subscription is taken as drained (after a flush made sure every
/// delivery is queued, this only catches stragglers such as duplicates).
const QUIET: Duration = Duration::from_millis(25);

/// Bound of one collection round, and of every single bus call.
const STEP: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------
// operations

/// A subscription pattern or subject, tokens joined with `.` (without the case prefix).
#[derive(Clone, PartialEq, Eq)]
struct Subj(String);

impl fmt::Debug for Subj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// A plain subscriber.
    Sub(Subj),
    /// A member of queue group `g{group}` (members never answer requests).
    QueueSub(Subj, u8),
    /// A subscriber that echoes each request's payload; with `Some(g)` a member of the
    /// responder-only queue group `r{g}`.
    Responder(Subj, Option<u8>),
    /// Drops one of the subscriptions made so far (a no-op if it is already gone).
    Unsub(Index),
    /// Publishes a payload unique to this operation.
    Pub(Subj),
    /// Requests with a payload unique to this operation.
    Request(Subj),
}

fn pattern() -> impl Strategy<Value = Subj> {
    let token = prop_oneof![3 => Just("a"), 1 => Just("b"), 2 => Just("*")];
    (prop::collection::vec(token, 1..=3), any::<bool>()).prop_map(|(mut tokens, tail)| {
        if tail {
            *tokens.last_mut().expect("at least one token") = ">";
        }
        Subj(tokens.join("."))
    })
}

fn subject() -> impl Strategy<Value = Subj> {
    // Mostly `a` and short, so that most messages match some pattern; `c` only ever matches a
    // wildcard.
    let token = prop_oneof![4 => Just("a"), 2 => Just("b"), 1 => Just("c")];
    let tokens = prop_oneof![
        3 => prop::collection::vec(token.clone(), 1..=1),
        3 => prop::collection::vec(token.clone(), 2..=2),
        1 => prop::collection::vec(token, 3..=3),
    ];
    tokens.prop_map(|tokens| Subj(tokens.join(".")))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => pattern().prop_map(Op::Sub),
        3 => (pattern(), 0..2u8).prop_map(|(p, g)| Op::QueueSub(p, g)),
        3 => (pattern(), prop::option::of(0..1u8)).prop_map(|(p, g)| Op::Responder(p, g)),
        2 => any::<Index>().prop_map(Op::Unsub),
        8 => subject().prop_map(Op::Pub),
        3 => subject().prop_map(Op::Request),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..=MAX_OPS)
}

// ---------------------------------------------------------------------------------------
// what a backend observed

/// One message as a subscriber saw it. Reply subjects are inboxes that differ between the
/// backends, so only their presence is compared.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    subject: String,
    payload: String,
    has_reply: bool,
}

/// How a request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Reply(String),
    NoResponders,
    Timeout,
    Other(String),
}

/// Everything one backend observed for one sequence.
#[derive(Debug, PartialEq, Eq, Default)]
struct Observed {
    /// Ordered deliveries per plain subscriber (and plain responder), by operation index.
    plain: BTreeMap<usize, Vec<Delivery>>,
    /// Sorted deliveries per queue group, all members together.
    groups: BTreeMap<String, Vec<Delivery>>,
    /// Outcome per request, by operation index.
    requests: BTreeMap<usize, Outcome>,
}

enum Member {
    /// A subscription read by the test.
    Read {
        sub: Subscription,
        group: Option<String>,
        got: Vec<Delivery>,
    },
    /// A responder task; `stop` makes it drain its queue, drop the subscription and return
    /// what it saw.
    Responder {
        group: Option<String>,
        stop: oneshot::Sender<()>,
        task: JoinHandle<Vec<Delivery>>,
    },
    /// Unsubscribed.
    Gone,
}

fn delivery(msg: &lattice_tui::lattice::bus::Message, prefix: &str) -> Delivery {
    Delivery {
        subject: msg
            .subject
            .strip_prefix(prefix)
            .unwrap_or(&msg.subject)
            .to_string(),
        payload: String::from_utf8_lossy(&msg.payload).into_owned(),
        has_reply: msg.reply.is_some(),
    }
}

fn spawn_responder(
    bus: Bus,
    mut sub: Subscription,
    prefix: String,
) -> (oneshot::Sender<()>, JoinHandle<Vec<Delivery>>) {
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut got = Vec::new();
        loop {
            let msg = tokio::select! {
                biased;
                msg = sub.next() => msg,
                _ = &mut stopped => {
                    // Whatever is queued was delivered before the stop.
                    while let Some(Some(msg)) = sub.next().now_or_never() {
                        got.push(delivery(&msg, &prefix));
                    }
                    return got;
                }
            };
            let Some(msg) = msg else { return got };
            got.push(delivery(&msg, &prefix));
            if let Some(to) = msg.reply {
                bus.publish(&to, msg.payload).await.expect("echo reply");
            }
        }
    });
    (stop, task)
}

async fn step<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(scaled(STEP), fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {:?}: {what}", scaled(STEP)),
    }
}

async fn flush(bus: &Bus) {
    step("flush", bus.flush()).await.expect("flush");
}

/// A round trip through the server: publishes on a subject no pattern of the case matches and
/// waits for that message on the test's own subscription. Every delivery of a message
/// published before it is then queued at its subscriber.
struct Fence {
    subject: String,
    sub: Subscription,
    sent: u64,
}

impl Fence {
    async fn new(bus: &Bus) -> Fence {
        let subject = format!("fence.{}", uuid::Uuid::new_v4().simple());
        let sub = step("subscribe", bus.subscribe(&subject))
            .await
            .expect("subscribe fence");
        flush(bus).await;
        Fence {
            subject,
            sub,
            sent: 0,
        }
    }

    async fn pass(&mut self, bus: &Bus) {
        self.sent += 1;
        let token = self.sent.to_string();
        step(
            "publish fence",
            bus.publish(&self.subject, token.clone().into()),
        )
        .await
        .expect("publish fence");
        step("fence comes back", async {
            loop {
                let msg = self.sub.next().await.expect("fence subscription open");
                if msg.payload == token.as_bytes() {
                    return;
                }
            }
        })
        .await;
    }
}

/// Reads `subs` until none of them delivered anything for [`QUIET`]; panics if that does
/// not happen within [`STEP`].
async fn drain_until_quiet(members: &mut [Member], prefix: &str) {
    let deadline = tokio::time::Instant::now() + scaled(STEP);
    loop {
        let mut any = false;
        for m in members.iter_mut() {
            if let Member::Read { sub, got, .. } = m {
                while let Some(Some(msg)) = sub.next().now_or_never() {
                    got.push(delivery(&msg, prefix));
                    any = true;
                }
            }
        }
        if any {
            continue;
        }
        let reads = members.iter_mut().filter_map(|m| match m {
            Member::Read { sub, .. } => Some(sub.next().boxed()),
            _ => None,
        });
        let reads: Vec<_> = reads.collect();
        if reads.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscriptions never went quiet within {:?}",
            scaled(STEP)
        );
        // A message that arrives here is taken by `select_all`; it is recorded below.
        let woke = tokio::time::timeout(scaled(QUIET), futures::future::select_all(reads))
            .await
            .map(|(msg, idx, rest)| {
                drop(rest);
                (msg, idx)
            });
        let Ok((msg, idx)) = woke else { return };
        let mut readers = members
            .iter_mut()
            .filter(|m| matches!(m, Member::Read { .. }));
        let Some(Member::Read { got, .. }) = readers.nth(idx) else {
            unreachable!("select_all index is in range")
        };
        if let Some(msg) = msg {
            got.push(delivery(&msg, prefix));
        }
    }
}

/// Runs `ops` on `bus` with every subject under `prefix` (e.g. `c7.`).
async fn run_ops(bus: Bus, ops: &[Op], prefix: &str) -> Observed {
    let full = |s: &Subj| format!("{prefix}{}", s.0);
    let mut members: Vec<Member> = Vec::new();
    // Operation index of each member, for the report.
    let mut member_op: Vec<usize> = Vec::new();
    let mut obs = Observed::default();
    let mut fence = Fence::new(&bus).await;
    for (i, op) in ops.iter().enumerate() {
        let payload = Bytes::from(format!("m{i}"));
        match op {
            Op::Sub(p) => {
                let sub = step("subscribe", bus.subscribe(&full(p)))
                    .await
                    .expect("subscribe");
                flush(&bus).await;
                members.push(Member::Read {
                    sub,
                    group: None,
                    got: Vec::new(),
                });
                member_op.push(i);
            }
            Op::QueueSub(p, g) => {
                let group = format!("{prefix}g{g}");
                let sub = step("queue_subscribe", bus.queue_subscribe(&full(p), &group))
                    .await
                    .expect("queue_subscribe");
                flush(&bus).await;
                members.push(Member::Read {
                    sub,
                    group: Some(format!("g{g}")),
                    got: Vec::new(),
                });
                member_op.push(i);
            }
            Op::Responder(p, g) => {
                let sub = match g {
                    Some(g) => step(
                        "queue_subscribe",
                        bus.queue_subscribe(&full(p), &format!("{prefix}r{g}")),
                    )
                    .await
                    .expect("queue_subscribe"),
                    None => step("subscribe", bus.subscribe(&full(p)))
                        .await
                        .expect("subscribe"),
                };
                flush(&bus).await;
                let (stop, task) = spawn_responder(bus.clone(), sub, prefix.to_string());
                members.push(Member::Responder {
                    group: g.map(|g| format!("r{g}")),
                    stop,
                    task,
                });
                member_op.push(i);
            }
            Op::Unsub(which) => {
                if members.is_empty() {
                    continue;
                }
                let k = which.index(members.len());
                // Everything published so far must be in the queue before it is read.
                fence.pass(&bus).await;
                let m = std::mem::replace(&mut members[k], Member::Gone);
                match m {
                    Member::Read {
                        mut sub,
                        group,
                        mut got,
                    } => {
                        while let Some(Some(msg)) = sub.next().now_or_never() {
                            got.push(delivery(&msg, prefix));
                        }
                        drop(sub);
                        record(&mut obs, member_op[k], group, got);
                    }
                    Member::Responder { group, stop, task } => {
                        let _ = stop.send(());
                        let got = step("responder stop", task).await.expect("responder task");
                        record(&mut obs, member_op[k], group, got);
                    }
                    Member::Gone => {}
                }
                flush(&bus).await;
            }
            Op::Pub(s) => {
                step("publish", bus.publish(&full(s), payload))
                    .await
                    .expect("publish");
            }
            Op::Request(s) => {
                let timeout = scaled(REQUEST_TIMEOUT);
                let outcome = match step("request", bus.request(&full(s), payload, timeout)).await {
                    Ok(reply) => Outcome::Reply(String::from_utf8_lossy(&reply.payload).into()),
                    Err(BusError::NoResponders { .. }) => Outcome::NoResponders,
                    Err(BusError::Timeout { .. }) => Outcome::Timeout,
                    Err(e) => Outcome::Other(e.to_string()),
                };
                obs.requests.insert(i, outcome);
            }
        }
    }
    fence.pass(&bus).await;
    drain_until_quiet(&mut members, prefix).await;
    for (k, m) in members.into_iter().enumerate() {
        match m {
            Member::Read { sub, group, got } => {
                drop(sub);
                record(&mut obs, member_op[k], group, got);
            }
            Member::Responder { group, stop, task } => {
                let _ = stop.send(());
                let got = step("responder stop", task).await.expect("responder task");
                record(&mut obs, member_op[k], group, got);
            }
            Member::Gone => {}
        }
    }
    for list in obs.groups.values_mut() {
        list.sort();
    }
    obs
}

fn record(obs: &mut Observed, op: usize, group: Option<String>, got: Vec<Delivery>) {
    match group {
        None => {
            obs.plain.insert(op, got);
        }
        Some(g) => obs.groups.entry(g).or_default().extend(got),
    }
}

/// A message may reach at most one member of a group.
fn duplicates_in_groups(obs: &Observed) -> Vec<(String, String)> {
    let mut dups = Vec::new();
    for (g, list) in &obs.groups {
        for w in list.windows(2) {
            if w[0].payload == w[1].payload {
                dups.push((g.clone(), w[0].payload.clone()));
            }
        }
    }
    dups
}

/// One case: the same sequence on both backends, side by side.
/// What the cases exercised (of the NATS side), printed at the end so a run shows that the
/// interesting outcomes occur: deliveries to plain subscribers and to groups, and requests
/// ending in each class.
#[derive(Default)]
struct Coverage {
    plain: AtomicU64,
    grouped: AtomicU64,
    replies: AtomicU64,
    no_responders: AtomicU64,
    timeouts: AtomicU64,
}

impl Coverage {
    fn add(&self, obs: &Observed) {
        let n = |c: usize| c as u64;
        self.plain
            .fetch_add(n(obs.plain.values().map(Vec::len).sum()), Ordering::Relaxed);
        self.grouped.fetch_add(
            n(obs.groups.values().map(Vec::len).sum()),
            Ordering::Relaxed,
        );
        for o in obs.requests.values() {
            let counter = match o {
                Outcome::Reply(_) => &self.replies,
                Outcome::NoResponders => &self.no_responders,
                Outcome::Timeout | Outcome::Other(_) => &self.timeouts,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn check(
    rt: &tokio::runtime::Runtime,
    url: &str,
    case: u64,
    ops: &[Op],
    coverage: &Coverage,
) -> Result<(), TestCaseError> {
    let prefix = format!("c{case}.");
    let (local, nats) = rt.block_on(async {
        let nats_bus = connect_bus(url).await;
        tokio::join!(
            run_ops(Bus::local(), ops, &prefix),
            run_ops(nats_bus, ops, &prefix)
        )
    });
    prop_assert!(
        duplicates_in_groups(&local).is_empty(),
        "in-process bus delivered a message to two members of a group: {:?}",
        duplicates_in_groups(&local)
    );
    prop_assert!(
        duplicates_in_groups(&nats).is_empty(),
        "NATS delivered a message to two members of a group: {:?}",
        duplicates_in_groups(&nats)
    );
    prop_assert_eq!(&local, &nats, "left: in-process bus, right: nats-server");
    coverage.add(&nats);
    Ok(())
}

#[test]
fn in_process_bus_and_nats_server_deliver_the_same() {
    let server = NatsServer::start();
    let url = server.url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = CASES;
    }
    // A failing case is reported with its minimal sequence here; nothing is written to the
    // source tree (keep a found case as a plain regression test instead).
    config.failure_persistence = None;
    config.max_shrink_iters = 512;
    let mut runner = TestRunner::new(config);
    let case = AtomicU64::new(0);
    let coverage = Coverage::default();
    let result = runner.run(&ops(), |ops| {
        check(
            &rt,
            &url,
            case.fetch_add(1, Ordering::Relaxed),
            &ops,
            &coverage,
        )
    });
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    eprintln!(
        "{} cases; deliveries: {} to plain subscribers, {} to queue groups; requests: {} \
         replied, {} no responders, {} timed out",
        c(&case),
        c(&coverage.plain),
        c(&coverage.grouped),
        c(&coverage.replies),
        c(&coverage.no_responders),
        c(&coverage.timeouts)
    );
    drop(rt);
    drop(server);
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, minimal)) => {
            panic!("backends differ: {reason}\nminimal sequence: {minimal:#?}")
        }
        Err(TestError::Abort(reason)) => panic!("property test aborted: {reason}"),
    }
}
