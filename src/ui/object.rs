//! The views `Enter` opens on an actor or a provider: the object across the lattice, in the
//! whole body, scrollable. An actor: its instances per host (ids, revision, annotations), its
//! claims, its links, and its revision history (live updates and failed updates from the
//! event log, newest first, plus the embedded host's last reload and error). A provider: where
//! it runs (health, instance, annotations, failure), its claims and links.
//!
//! Pure rendering of borrowed model data at the given `now`: no I/O, no clock.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::Block;

use crate::lattice::protocol::{ClaimsMap, EventData};
use crate::state::{Lattice, Timestamp};

use super::detail::{Lines, count, failure, ms, when};
use super::format::{self, short_id};
use super::pane;
use super::rows;
use super::view_state::{Target, ViewState};
use super::{actors, providers};

/// Instances listed per host before "… and N more" (the view scrolls, the model may hold
/// thousands).
const MAX_INSTANCES: usize = 200;

/// History entries listed.
const MAX_HISTORY: usize = 20;

/// Draws the open actor or provider view (`target`) into `area`.
pub(crate) fn render(
    frame: &mut Frame,
    area: Rect,
    model: &Lattice,
    view: &mut ViewState,
    target: &Target,
    now: Timestamp,
) {
    let theme = *view.theme();
    let mut l = Lines {
        theme: &theme,
        width: usize::from(area.width.saturating_sub(2)),
        lines: Vec::new(),
    };
    let title = match target {
        Target::Actor(a) => {
            actor(&mut l, model, a, now);
            format!("actor {}", rows::actor_name_by_id(model, a))
        }
        Target::Provider {
            public_key,
            link_name,
        } => {
            provider(&mut l, model, public_key, link_name, now);
            format!(
                "provider {}",
                rows::claims_name(model, public_key).unwrap_or_else(|| short_id(public_key))
            )
        }
        Target::Host(_) => String::new(),
    };
    let block = Block::bordered()
        .border_style(theme.border)
        .title(Span::styled(format!(" {title} "), theme.title));
    let height = usize::from(block.inner(area).height);
    let offset = view.object_scroll(l.lines.len(), height);
    pane::render(frame, area, block, l.lines, offset, &theme);
}

/// Every non-empty claim, the well-known ones named.
fn all_claims(l: &mut Lines<'_>, claims: Option<&ClaimsMap>) {
    let Some(c) = claims.filter(|c| !c.is_empty()) else {
        l.kv("claims", "none known", l.theme.dim);
        return;
    };
    l.section("claims");
    for (k, v) in c.iter().filter(|(_, v)| !v.is_empty()) {
        let label = match k.as_str() {
            "iss" => "issuer",
            "sub" => "subject",
            "exp" => "expires",
            "nbf" => "not before",
            "rev" => "revision",
            other => other,
        };
        l.indented(format!("{label}: {v}"), Style::new());
    }
}

fn actor(l: &mut Lines<'_>, model: &Lattice, id: &str, now: Timestamp) {
    let on: Vec<_> = model
        .hosts
        .values()
        .filter_map(|h| h.actors.get(id).map(|a| (h, a)))
        .collect();
    l.plain("name", rows::actor_name_by_id(model, id));
    l.plain("id", id);
    l.opt("image", on.iter().find_map(|(_, a)| a.image_ref.as_deref()));
    l.opt(
        "revision",
        on.iter()
            .map(|(_, a)| a.revision)
            .max()
            .map(|r| r.to_string()),
    );
    let instances = crate::state::saturating_sum(on.iter().map(|(_, a)| a.count()));
    l.plain(
        "hosts",
        format!("{} ({})", on.len(), count(instances, "instance")),
    );
    l.section("instances");
    if on.is_empty() {
        l.indented("runs on no host".into(), l.theme.dim);
    }
    for (h, a) in &on {
        l.indented(
            format!(
                "{} ({}) · {} · rev {} · {}",
                h.display_name(),
                short_id(&h.id),
                count(a.count(), "instance"),
                a.revision,
                format::actor_status(a.status)
            ),
            actors::status_style(l.theme, a.status),
        );
        for (iid, inst) in a.instances.iter().take(MAX_INSTANCES) {
            let ann = if inst.annotations.is_empty() {
                String::new()
            } else {
                format!("  {}", format::pairs(&inst.annotations))
            };
            l.deeper(format!("{iid} rev {}{ann}", inst.revision), Style::new());
        }
        if a.instances.len() > MAX_INSTANCES {
            l.deeper(
                format!("… and {} more", a.instances.len() - MAX_INSTANCES),
                l.theme.dim,
            );
        }
        if a.unidentified > 0 {
            l.deeper(
                format!("{} not yet identified", a.unidentified),
                l.theme.dim,
            );
        }
        if a.last_failure.is_some() {
            failure(l, a.last_failure.as_ref(), now);
        }
    }
    all_claims(l, model.claims.get(id));
    let links: Vec<_> = model.links.values().filter(|k| k.actor_id == id).collect();
    if links.is_empty() {
        l.kv("links", "none", l.theme.dim);
    } else {
        l.section("links");
        for k in links {
            l.indented(
                format!(
                    "{} {} → {} {}",
                    k.contract_id,
                    k.link_name,
                    rows::link_party(model, &k.provider_id),
                    format::pairs(&k.values)
                ),
                Style::new(),
            );
        }
    }
    history(l, model, id, now);
}

/// Live updates of `id` from the event log (newest first) and the embedded host's reloads.
fn history(l: &mut Lines<'_>, model: &Lattice, id: &str, now: Timestamp) {
    l.section("revision history");
    let mut any = false;
    for (h, a) in model
        .hosts
        .values()
        .filter_map(|h| h.actors.get(id).map(|a| (h, a)))
    {
        if let Some(local) = model.local_actor(&h.id, &a.id) {
            if let Some(r) = &local.last_reload {
                any = true;
                l.indented(
                    format!(
                        "reloaded to rev {} {} · sha {} · {} total",
                        r.revision,
                        r.at.map(|t| when(t, now)).unwrap_or_default(),
                        r.digest.get(..8).unwrap_or(&r.digest),
                        ms(r.total_us)
                    ),
                    Style::new(),
                );
            }
            if let Some(err) = &local.last_error {
                any = true;
                l.indented(format!("last reload error: {err}"), l.theme.error);
            }
        }
    }
    let updates = model.events.entries.iter().rev().filter_map(|e| {
        let ev = e.event()?;
        let (rev, failed) = match &ev.data {
            EventData::ActorUpdated(u) if u.public_key == id => (u.revision, None),
            EventData::ActorUpdateFailed(u) if u.public_key == id => {
                (u.revision, Some(u.reason.as_str()))
            }
            _ => return None,
        };
        Some((e, rev, failed))
    });
    for (e, rev, failed) in updates.take(MAX_HISTORY) {
        any = true;
        let on = rows::source_name(model, e.source());
        match failed {
            None => l.indented(
                format!("{} {on}: updated to rev {rev}", format::clock(e.received)),
                Style::new(),
            ),
            Some(why) => l.indented(
                format!(
                    "{} {on}: update to rev {rev} failed: {why}",
                    format::clock(e.received)
                ),
                l.theme.error,
            ),
        }
    }
    if !any {
        l.indented("no updates seen".into(), l.theme.dim);
    }
}

fn provider(l: &mut Lines<'_>, model: &Lattice, key: &str, link_name: &str, now: Timestamp) {
    let on: Vec<_> = model
        .hosts
        .values()
        .filter_map(|h| {
            h.providers
                .values()
                .find(|p| p.public_key == key && p.link_name == link_name)
                .map(|p| (h, p))
        })
        .collect();
    let name = on
        .first()
        .map(|(_, p)| rows::provider_name(model, p))
        .or_else(|| rows::claims_name(model, key))
        .unwrap_or(key);
    l.plain("name", name);
    l.plain("key", key);
    l.plain("link", link_name);
    l.opt(
        "contract",
        on.iter()
            .map(|(_, p)| p.contract_id.as_str())
            .find(|c| !c.is_empty()),
    );
    l.opt("image", on.iter().find_map(|(_, p)| p.image_ref.as_deref()));
    l.section("hosts");
    if on.is_empty() {
        l.indented("runs on no host".into(), l.theme.dim);
    }
    for (h, p) in &on {
        let since = p
            .health_at
            .map(|t| format!(" since {}", format::age(t, now)))
            .unwrap_or_default();
        l.indented(
            format!(
                "{} ({}) · {}{since} · instance {}",
                h.display_name(),
                short_id(&h.id),
                format::provider_health(p.health),
                p.instance_id.as_deref().unwrap_or("—")
            ),
            providers::health_style(l.theme, p.health),
        );
        if !p.annotations.is_empty() {
            l.deeper(format::pairs(&p.annotations), Style::new());
        }
        if p.last_failure.is_some() {
            failure(l, p.last_failure.as_ref(), now);
        }
    }
    all_claims(l, model.claims.get(key));
    let links: Vec<_> = model
        .links
        .values()
        .filter(|k| k.provider_id == key && k.link_name == link_name)
        .collect();
    if links.is_empty() {
        l.kv("links", "none", l.theme.dim);
    } else {
        l.section("links");
        for k in links {
            l.indented(
                format!(
                    "{} ← {} {}",
                    k.contract_id,
                    rows::link_party(model, &k.actor_id),
                    format::pairs(&k.values)
                ),
                Style::new(),
            );
        }
    }
}
