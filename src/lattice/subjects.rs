//! Subject names of the OTP-era lattice protocol (PROTOCOL.md §1, §2.1, §3.1, §4.1, §5).
//!
//! Owns every string that names a NATS subject, queue group or JetStream KV key, and the pure
//! routing of an incoming control subject to a [`CtlRoute`]. Pure: no I/O, no async, no clock.
//! Nothing else in the crate formats a `wasmbus.*` subject by hand.

use std::fmt;

/// Default control topic prefix (`ctl_topic_prefix` in the OTP host, `DEFAULT_TOPIC_PREFIX` in
/// `wasmcloud-control-interface`).
pub const DEFAULT_CTL_PREFIX: &str = "wasmbus.ctl";

/// Default lattice prefix when neither `--lattice` nor `WASMCLOUD_LATTICE_PREFIX` is given.
pub const DEFAULT_LATTICE: &str = "default";

/// Prefix of lattice-tui's own rates subjects (`{RATES_PREFIX}.{lattice}.{host}`): outside
/// `wasmbus.`, so no wasmCloud client subscribes to them (PROTOCOL.md §12).
pub const RATES_PREFIX: &str = "lattice-tui.rates";

/// Key prefix of link definitions in the `LATTICEDATA_{lattice}` bucket.
pub const KV_LINKDEF_PREFIX: &str = "LINKDEF_";
/// Key prefix of claims in the `LATTICEDATA_{lattice}` bucket.
pub const KV_CLAIMS_PREFIX: &str = "CLAIMS_";
/// Key prefix of OCI reference maps in the `LATTICEDATA_{lattice}` bucket.
pub const KV_REFMAP_PREFIX: &str = "REFMAP_";

/// `--lattice` value that follows every lattice on the server.
pub const ALL_LATTICES: &str = "*";

/// `wasmbus.evt.*`: the event subjects of every lattice (each lattice prefix is one token).
pub const ALL_EVENTS: &str = "wasmbus.evt.*";

/// The lattice an event subject belongs to: `wasmbus.evt.{lattice}` → `{lattice}`. `None` for
/// any other subject (or an empty or multi-token lattice).
#[must_use]
pub fn lattice_of_event_subject(subject: &str) -> Option<&str> {
    subject
        .strip_prefix("wasmbus.evt.")
        .filter(|l| !l.is_empty() && !l.contains('.'))
}

/// Every lattice's rates samples: `lattice-tui.rates.*.*`.
pub const ALL_RATES: &str = "lattice-tui.rates.*.*";

/// The lattice a rates subject belongs to: `lattice-tui.rates.{lattice}.{host}` → `{lattice}`.
#[must_use]
pub fn lattice_of_rates_subject(subject: &str) -> Option<&str> {
    let rest = subject.strip_prefix(RATES_PREFIX)?.strip_prefix('.')?;
    let (lattice, host) = rest.split_once('.')?;
    (!lattice.is_empty() && !host.is_empty() && !host.contains('.')).then_some(lattice)
}

/// A host-targeted command verb (`wasmbus.ctl.{lattice}.cmd.{host}.{verb}`, PROTOCOL.md §2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmdVerb {
    /// `la`: launch actor.
    LaunchActor,
    /// `sa`: stop actor.
    StopActor,
    /// `scale`: scale an actor to a total count.
    Scale,
    /// `upd`: live update of an actor.
    Update,
    /// `lp`: launch provider.
    LaunchProvider,
    /// `sp`: stop provider.
    StopProvider,
    /// `stop`: stop the host.
    StopHost,
}

impl CmdVerb {
    /// Every verb, in protocol order.
    pub const ALL: [CmdVerb; 7] = [
        CmdVerb::LaunchActor,
        CmdVerb::StopActor,
        CmdVerb::Scale,
        CmdVerb::Update,
        CmdVerb::LaunchProvider,
        CmdVerb::StopProvider,
        CmdVerb::StopHost,
    ];

    /// The verb token as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            CmdVerb::LaunchActor => "la",
            CmdVerb::StopActor => "sa",
            CmdVerb::Scale => "scale",
            CmdVerb::Update => "upd",
            CmdVerb::LaunchProvider => "lp",
            CmdVerb::StopProvider => "sp",
            CmdVerb::StopHost => "stop",
        }
    }

    /// Parses a wire token.
    pub fn parse(token: &str) -> Option<CmdVerb> {
        CmdVerb::ALL.into_iter().find(|v| v.as_str() == token)
    }
}

impl fmt::Display for CmdVerb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an incoming control-interface subject is routed (PROTOCOL.md §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtlRoute<'a> {
    /// `ping.hosts`: every host replies.
    PingHosts,
    /// `auction.actor`: eligible hosts reply.
    AuctionActor,
    /// `auction.provider`: eligible hosts reply.
    AuctionProvider,
    /// `registries.put`: every host applies it.
    RegistriesPut,
    /// `get.links`: one host answers (queue group).
    GetLinks,
    /// `get.claims`: one host answers (queue group).
    GetClaims,
    /// `linkdefs.put`: one host answers (queue group).
    LinkdefsPut,
    /// `linkdefs.del`: one host answers (queue group).
    LinkdefsDel,
    /// `get.{host}.inv`.
    Inventory(&'a str),
    /// `cmd.{host}.{verb}`.
    Command(&'a str, CmdVerb),
    /// A subject under the control prefix that this protocol version does not define.
    Unknown,
}

/// Subject builder for one lattice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    lattice: String,
    /// `{ctl_prefix}.{lattice}`, also the queue group of the lattice-wide handlers.
    ctl: String,
}

impl Subjects {
    /// Subjects of `lattice` under the default control prefix `wasmbus.ctl`.
    pub fn new(lattice: &str) -> Self {
        Self {
            lattice: lattice.to_string(),
            ctl: format!("{DEFAULT_CTL_PREFIX}.{lattice}"),
        }
    }

    /// The lattice prefix.
    pub fn lattice(&self) -> &str {
        &self.lattice
    }

    /// `wasmbus.evt.{lattice}`: every lattice CloudEvent (no suffix).
    pub fn events(&self) -> String {
        format!("wasmbus.evt.{}", self.lattice)
    }

    /// `wasmbus.rpcevt.{lattice}`: invocation result events.
    pub fn rpc_events(&self) -> String {
        format!("wasmbus.rpcevt.{}", self.lattice)
    }

    /// `lattice-tui.rates.{lattice}.{host_id}`: the host's cumulative call counters
    /// ([`crate::lattice::protocol::RatesSample`]), once a second. Not a wasmCloud subject.
    pub fn rates(&self, host_id: &str) -> String {
        format!("{RATES_PREFIX}.{}.{host_id}", self.lattice)
    }

    /// `lattice-tui.rates.{lattice}.*`: every host's rates samples (the console subscribes).
    pub fn rates_all(&self) -> String {
        format!("{RATES_PREFIX}.{}.*", self.lattice)
    }

    /// Queue group of the lattice-wide control handlers (`get.*`, `linkdefs.*`):
    /// `wasmbus.ctl.{lattice}`.
    pub fn ctl_queue_group(&self) -> &str {
        &self.ctl
    }

    fn ctl(&self, rest: &str) -> String {
        format!("{}.{rest}", self.ctl)
    }

    /// `…ping.hosts`.
    pub fn ping_hosts(&self) -> String {
        self.ctl("ping.hosts")
    }
    /// `…auction.actor`.
    pub fn auction_actor(&self) -> String {
        self.ctl("auction.actor")
    }
    /// `…auction.provider`.
    pub fn auction_provider(&self) -> String {
        self.ctl("auction.provider")
    }
    /// `…registries.put`.
    pub fn registries_put(&self) -> String {
        self.ctl("registries.put")
    }
    /// `…get.links`.
    pub fn get_links(&self) -> String {
        self.ctl("get.links")
    }
    /// `…get.claims`.
    pub fn get_claims(&self) -> String {
        self.ctl("get.claims")
    }
    /// `…linkdefs.put`.
    pub fn linkdefs_put(&self) -> String {
        self.ctl("linkdefs.put")
    }
    /// `…linkdefs.del`.
    pub fn linkdefs_del(&self) -> String {
        self.ctl("linkdefs.del")
    }
    /// `…get.{host}.inv`.
    pub fn host_inventory(&self, host_id: &str) -> String {
        self.ctl(&format!("get.{host_id}.inv"))
    }
    /// `…cmd.{host}.{verb}`.
    pub fn host_command(&self, host_id: &str, verb: CmdVerb) -> String {
        self.ctl(&format!("cmd.{host_id}.{verb}"))
    }

    /// The subscriptions a host makes, with their queue groups (PROTOCOL.md §2.1):
    /// `(subject, queue group)`.
    pub fn host_subscriptions(&self, host_id: &str) -> Vec<(String, Option<String>)> {
        let q = Some(self.ctl.clone());
        vec![
            (self.ping_hosts(), None),
            (self.ctl("auction.>"), None),
            (self.registries_put(), None),
            (self.ctl("get.*"), q.clone()),
            (self.ctl("linkdefs.*"), q),
            (self.host_inventory(host_id), None),
            (self.ctl(&format!("cmd.{host_id}.*")), None),
        ]
    }

    /// Routes a control subject of this lattice. `None` if the subject is not under
    /// `{ctl_prefix}.{lattice}.`.
    pub fn route<'a>(&self, subject: &'a str) -> Option<CtlRoute<'a>> {
        let rest = subject.strip_prefix(self.ctl.as_str())?.strip_prefix('.')?;
        let mut parts = rest.split('.');
        let route = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("ping"), Some("hosts"), None, None) => CtlRoute::PingHosts,
            (Some("auction"), Some("actor"), None, None) => CtlRoute::AuctionActor,
            (Some("auction"), Some("provider"), None, None) => CtlRoute::AuctionProvider,
            (Some("registries"), Some("put"), None, None) => CtlRoute::RegistriesPut,
            (Some("get"), Some("links"), None, None) => CtlRoute::GetLinks,
            (Some("get"), Some("claims"), None, None) => CtlRoute::GetClaims,
            (Some("linkdefs"), Some("put"), None, None) => CtlRoute::LinkdefsPut,
            (Some("linkdefs"), Some("del"), None, None) => CtlRoute::LinkdefsDel,
            (Some("get"), Some(host), Some("inv"), None) if !host.is_empty() => {
                CtlRoute::Inventory(host)
            }
            (Some("cmd"), Some(host), Some(verb), None) if !host.is_empty() => {
                match CmdVerb::parse(verb) {
                    Some(verb) => CtlRoute::Command(host, verb),
                    None => CtlRoute::Unknown,
                }
            }
            _ => CtlRoute::Unknown,
        };
        Some(route)
    }

    /// Name of the JetStream KV bucket holding lattice metadata: `LATTICEDATA_{lattice}`.
    pub fn kv_bucket(&self) -> String {
        format!("LATTICEDATA_{}", self.lattice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_otp_subjects() {
        let s = Subjects::new("default");
        assert_eq!(s.events(), "wasmbus.evt.default");
        assert_eq!(s.ping_hosts(), "wasmbus.ctl.default.ping.hosts");
        assert_eq!(s.host_inventory("NB1"), "wasmbus.ctl.default.get.NB1.inv");
        assert_eq!(
            s.host_command("NB1", CmdVerb::Scale),
            "wasmbus.ctl.default.cmd.NB1.scale"
        );
        assert_eq!(s.ctl_queue_group(), "wasmbus.ctl.default");
        assert_eq!(s.kv_bucket(), "LATTICEDATA_default");
        assert_eq!(s.rpc_events(), "wasmbus.rpcevt.default");
        assert_eq!(s.rates("NB1"), "lattice-tui.rates.default.NB1");
        assert_eq!(s.rates_all(), "lattice-tui.rates.default.*");
        assert!(!s.rates("NB1").starts_with("wasmbus."));
    }

    #[test]
    fn queue_groups_follow_the_protocol_table() {
        let s = Subjects::new("lat");
        let subs = s.host_subscriptions("NB1");
        let grouped: Vec<_> = subs.iter().filter(|(_, q)| q.is_some()).collect();
        assert_eq!(grouped.len(), 2);
        assert!(
            grouped
                .iter()
                .all(|(_, q)| q.as_deref() == Some("wasmbus.ctl.lat"))
        );
        assert!(subs.contains(&(
            "wasmbus.ctl.lat.get.*".into(),
            Some("wasmbus.ctl.lat".into())
        )));
        assert!(subs.contains(&("wasmbus.ctl.lat.ping.hosts".into(), None)));
        assert!(subs.contains(&("wasmbus.ctl.lat.cmd.NB1.*".into(), None)));
    }

    #[test]
    fn routes_every_control_subject() {
        let s = Subjects::new("default");
        let cases = [
            ("wasmbus.ctl.default.ping.hosts", CtlRoute::PingHosts),
            ("wasmbus.ctl.default.auction.actor", CtlRoute::AuctionActor),
            (
                "wasmbus.ctl.default.auction.provider",
                CtlRoute::AuctionProvider,
            ),
            (
                "wasmbus.ctl.default.registries.put",
                CtlRoute::RegistriesPut,
            ),
            ("wasmbus.ctl.default.get.links", CtlRoute::GetLinks),
            ("wasmbus.ctl.default.get.claims", CtlRoute::GetClaims),
            ("wasmbus.ctl.default.linkdefs.put", CtlRoute::LinkdefsPut),
            ("wasmbus.ctl.default.linkdefs.del", CtlRoute::LinkdefsDel),
            (
                "wasmbus.ctl.default.get.NB1.inv",
                CtlRoute::Inventory("NB1"),
            ),
            (
                "wasmbus.ctl.default.cmd.NB1.upd",
                CtlRoute::Command("NB1", CmdVerb::Update),
            ),
            ("wasmbus.ctl.default.cmd.NB1.nope", CtlRoute::Unknown),
            ("wasmbus.ctl.default.get.NB1.inv.extra", CtlRoute::Unknown),
            ("wasmbus.ctl.default", CtlRoute::Unknown),
        ];
        for (subject, want) in cases {
            if subject == "wasmbus.ctl.default" {
                assert_eq!(s.route(subject), None, "{subject}");
            } else {
                assert_eq!(s.route(subject), Some(want), "{subject}");
            }
        }
        assert_eq!(s.route("wasmbus.ctl.other.ping.hosts"), None);
        assert_eq!(s.route("wasmbus.ctl.defaultx.ping.hosts"), None);
    }

    #[test]
    fn verbs_round_trip() {
        for v in CmdVerb::ALL {
            assert_eq!(CmdVerb::parse(v.as_str()), Some(v));
        }
        assert_eq!(CmdVerb::parse("LA"), None);
    }
}
