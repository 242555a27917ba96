//! The detail pane: everything the model knows about the selected row (full ids, times,
//! labels, claims, failures, link values, the whole event summary), as `key  value` lines.
//!
//! Pure rendering of borrowed model data at the given `now`: no I/O, no clock.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use crate::lattice::protocol::{ClaimsMap, LinkDefinition};
use crate::state::{HostState, Lattice, LogEntry, Timestamp};

use super::format::{self, short_id};
use super::rows::{self, ActorRow, ProviderRow, Rows};
use super::theme::Theme;
use super::view_state::ViewState;
use super::{actors, events, hosts, pane, providers};

/// Width of the key column.
const KEY_WIDTH: usize = 12;

/// Instance ids listed before "… and N more".
const MAX_INSTANCES: usize = 8;

/// Lines of a detail pane or object view being built, wrapped to the pane's width.
pub(crate) struct Lines<'t> {
    pub(crate) theme: &'t Theme,
    /// Inner width of the pane, for wrapping.
    pub(crate) width: usize,
    pub(crate) lines: Vec<Line<'static>>,
}

impl Lines<'_> {
    /// `key  value`, the value wrapped under itself when it is too long.
    pub(crate) fn kv(&mut self, key: &str, value: impl Into<String>, style: Style) {
        let value = value.into();
        let indent = KEY_WIDTH + 1;
        let mut parts = format::wrap(&value, self.width.saturating_sub(indent)).into_iter();
        let first = parts.next().unwrap_or_default();
        self.lines.push(Line::from(vec![
            Span::styled(format!("{key:<KEY_WIDTH$} "), self.theme.label),
            Span::styled(first, style),
        ]));
        for part in parts {
            self.lines.push(Line::from(vec![
                Span::raw(" ".repeat(indent)),
                Span::styled(part, style),
            ]));
        }
    }

    pub(crate) fn plain(&mut self, key: &str, value: impl Into<String>) {
        self.kv(key, value, Style::new());
    }

    pub(crate) fn opt(&mut self, key: &str, value: Option<impl Into<String>>) {
        match value {
            Some(v) => self.plain(key, v),
            None => self.kv(key, "—", self.theme.dim),
        }
    }

    pub(crate) fn section(&mut self, title: &str) {
        self.lines
            .push(Line::styled(title.to_string(), self.theme.table_header));
    }

    /// A line indented by two columns, wrapped under itself.
    pub(crate) fn indented(&mut self, text: String, style: Style) {
        for part in format::wrap(&text, self.width.saturating_sub(2)) {
            self.lines.push(Line::styled(format!("  {part}"), style));
        }
    }

    /// A line indented by four columns (under an indented one), wrapped under itself.
    pub(crate) fn deeper(&mut self, text: String, style: Style) {
        for part in format::wrap(&text, self.width.saturating_sub(4)) {
            self.lines.push(Line::styled(format!("    {part}"), style));
        }
    }

    pub(crate) fn map<'a>(
        &mut self,
        title: &str,
        map: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) {
        let mut it = map.into_iter().peekable();
        if it.peek().is_none() {
            self.kv(title, "none", self.theme.dim);
            return;
        }
        self.section(title);
        for (k, v) in it {
            self.indented(format!("{k}={v}"), Style::new());
        }
    }

    pub(crate) fn claims(&mut self, claims: Option<&ClaimsMap>) {
        let Some(c) = claims else {
            return;
        };
        self.section("claims");
        for key in [
            "iss",
            "version",
            "rev",
            "call_alias",
            "caps",
            "tags",
            "contract_id",
        ] {
            if let Some(v) = c.get(key).filter(|v| !v.is_empty() && *v != "0") {
                self.indented(format!("{key}: {v}"), Style::new());
            }
        }
    }
}

/// Draws the detail of row `i` of `rows` into `area`, scrolled to the view's position.
pub(crate) fn render(
    frame: &mut Frame,
    area: Rect,
    model: &Lattice,
    view: &mut ViewState,
    rows: &Rows<'_>,
    i: usize,
    now: Timestamp,
) {
    let theme = *view.theme();
    let mut l = Lines {
        theme: &theme,
        width: usize::from(area.width.saturating_sub(2)),
        lines: Vec::new(),
    };
    let title = match rows {
        Rows::Hosts(v) => v.get(i).map(|h| {
            host(&mut l, h, now);
            format!("host {}", h.display_name())
        }),
        Rows::Actors(v) => v.get(i).map(|r| {
            actor(&mut l, model, r, now);
            format!("actor {}", rows::actor_name(model, r.actor))
        }),
        Rows::Providers(v) => v.get(i).map(|r| {
            provider(&mut l, model, r, now);
            format!("provider {}", rows::provider_name(model, r.provider))
        }),
        Rows::Links(v) => v.get(i).map(|link| {
            link_lines(&mut l, model, link);
            format!("link {}", link.link_name)
        }),
        Rows::Events(v) => v.get(i).map(|e| {
            event(&mut l, model, e);
            format!("event #{}", e.seq)
        }),
    }
    .unwrap_or_default();
    let block = Block::bordered()
        .border_style(theme.border)
        .title(Span::styled(format!(" {title} "), theme.title));
    let height = usize::from(block.inner(area).height);
    let offset = view.detail_scroll(l.lines.len(), height);
    pane::render(frame, area, block, l.lines, offset, &theme);
}

/// `39s ago (12:01:01)`.
pub(crate) fn when(t: Timestamp, now: Timestamp) -> String {
    format!("{} ({})", format::age(t, now), format::clock(t))
}

/// `1 instance`, `2 instances`.
pub(crate) fn count(n: impl Into<u64>, what: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

pub(crate) fn failure(l: &mut Lines<'_>, f: Option<&crate::state::Failure>, now: Timestamp) {
    match f {
        Some(f) => {
            l.kv(
                "failure",
                format!("{} {}", f.kind, format::age(f.at, now)),
                l.theme.error,
            );
            l.indented(f.reason.clone(), l.theme.error);
        }
        None => l.kv("failure", "none", l.theme.dim),
    }
}

fn host(l: &mut Lines<'_>, h: &HostState, now: Timestamp) {
    l.plain("name", h.display_name());
    l.kv(
        "status",
        format::host_status(h.status),
        hosts::status_style(l.theme, h.status),
    );
    l.opt("heartbeat", h.last_heartbeat.map(|t| when(t, now)));
    l.plain("last seen", when(h.last_seen, now));
    l.plain(
        "actors",
        format!(
            "{} ({})",
            h.actors.len(),
            count(h.actor_instances(), "instance")
        ),
    );
    l.plain("providers", h.providers.len().to_string());
    l.opt("version", h.version.as_deref());
    l.opt("uptime", h.uptime_at(now).map(format::duration));
    l.plain("first seen", when(h.first_seen, now));
    l.plain("id", h.id.as_str());
    l.opt("issuer", h.issuer.as_deref());
    l.map("labels", &h.labels);
}

fn actor(l: &mut Lines<'_>, model: &Lattice, r: &ActorRow<'_>, now: Timestamp) {
    let a = r.actor;
    l.plain("name", rows::actor_name(model, a));
    l.kv(
        "status",
        format::actor_status(a.status),
        actors::status_style(l.theme, a.status),
    );
    failure(l, a.last_failure.as_ref(), now);
    l.plain(
        "host",
        format!("{} ({})", r.host.display_name(), short_id(&r.host.id)),
    );
    let instances = if a.unidentified > 0 {
        format!("{} ({} not yet identified)", a.count(), a.unidentified)
    } else {
        a.count().to_string()
    };
    l.plain("instances", instances);
    l.plain("revision", a.revision.to_string());
    l.opt("updated", a.last_update.map(|t| when(t, now)));
    if let Some(local) = model.local_actor(&r.host.id, &a.id) {
        l.plain(
            "http calls",
            format!(
                "{} ({} errors, {} in flight)",
                local.calls, local.errors, local.in_flight
            ),
        );
        if let Some(note) = &local.note {
            l.kv("http", note.as_str(), l.theme.warn);
        }
        if local.watched {
            l.plain("watching", local.source.as_str());
        }
        if let Some(err) = &local.last_error {
            l.kv("last error", err.as_str(), l.theme.error);
        }
        if let Some(err) = &local.last_call_failure {
            l.kv("last failed call", err.as_str(), l.theme.error);
        }
        if let Some(r) = &local.last_reload {
            l.plain(
                "reloaded",
                format!(
                    "rev {} {} · sha {}",
                    r.revision,
                    r.at.map(|t| when(t, now)).unwrap_or_default(),
                    r.digest.get(..8).unwrap_or(&r.digest)
                ),
            );
            l.plain(
                "  detected→",
                format!("stable {}", ms(r.detect_to_stable_us)),
            );
            l.plain(
                "  stable→",
                format!("compiled {}", ms(r.stable_to_compiled_us)),
            );
            l.plain("  compiled→", format!("swapped {}", ms(r.swap_us)));
            l.plain("  total", ms(r.total_us));
        }
        l.opt(
            "sha256",
            Some(local.digest.get(..16).unwrap_or(&local.digest)).filter(|d| !d.is_empty()),
        );
    }
    let rates = super::rates::detail_lines(model, l.theme, &r.host.id, &a.id, l.width);
    l.lines.extend(rates);
    l.opt("image", a.image_ref.as_deref());
    l.plain("id", a.id.as_str());
    l.claims(model.claims.get(&a.id));
    if !a.instances.is_empty() {
        l.section("instances");
        for (id, inst) in a.instances.iter().take(MAX_INSTANCES) {
            l.indented(format!("{id} rev {}", inst.revision), Style::new());
        }
        if a.instances.len() > MAX_INSTANCES {
            l.indented(
                format!("… and {} more", a.instances.len() - MAX_INSTANCES),
                l.theme.dim,
            );
        }
    }
}

/// Microseconds as milliseconds: `0.2 ms`, `45 ms`.
pub(crate) fn ms(us: u64) -> String {
    if us < 10_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{} ms", us / 1000)
    }
}

fn provider(l: &mut Lines<'_>, model: &Lattice, r: &ProviderRow<'_>, now: Timestamp) {
    let p = r.provider;
    l.plain("name", rows::provider_name(model, p));
    let since = p
        .health_at
        .map(|t| format!(" since {}", format::age(t, now)))
        .unwrap_or_default();
    l.kv(
        "health",
        format!("{}{since}", format::provider_health(p.health)),
        providers::health_style(l.theme, p.health),
    );
    failure(l, p.last_failure.as_ref(), now);
    l.plain(
        "host",
        format!("{} ({})", r.host.display_name(), short_id(&r.host.id)),
    );
    l.plain("link", p.link_name.as_str());
    l.opt(
        "contract",
        Some(p.contract_id.as_str()).filter(|c| !c.is_empty()),
    );
    l.opt("image", p.image_ref.as_deref());
    l.opt("instance", p.instance_id.as_deref());
    l.plain("key", p.public_key.as_str());
    l.map("annotations", &p.annotations);
    l.claims(model.claims.get(&p.public_key));
}

fn link_lines(l: &mut Lines<'_>, model: &Lattice, link: &LinkDefinition) {
    l.plain("link name", link.link_name.as_str());
    l.plain("contract", link.contract_id.as_str());
    l.plain("actor", rows::link_party(model, &link.actor_id));
    l.plain("actor id", link.actor_id.as_str());
    l.plain("provider", rows::link_party(model, &link.provider_id));
    l.plain("provider id", link.provider_id.as_str());
    l.plain("id", link.id.as_str());
    l.map("values", &link.values);
}

fn event(l: &mut Lines<'_>, model: &Lattice, e: &LogEntry) {
    let style = events::level_style(l.theme, e.level);
    l.plain("seq", e.seq.to_string());
    l.kv("level", format::level(e.level), style);
    l.plain("kind", rows::event_kind(e));
    if let Some(ty) = e.ty() {
        l.plain("type", ty);
    }
    l.plain("received", format::datetime(e.received));
    l.opt("event time", e.time().map(format::datetime));
    let source = e.source();
    l.plain("source", rows::source_name(model, source));
    if !source.is_empty() && rows::source_name(model, source) != source {
        l.plain("source id", source);
    }
    l.opt("event id", Some(e.id()).filter(|i| !i.is_empty()));
    l.section("summary");
    l.indented(e.summary(Some(model)), style);
    // The data as it arrived, for everything the summary leaves out.
    if let Some(data) = e.event().and_then(|ev| ev.data.to_value().ok())
        && let Ok(text) = serde_json::to_string_pretty(&data)
    {
        l.section("data");
        for line in text.lines() {
            l.indented(line.to_string(), Style::new());
        }
    }
}
