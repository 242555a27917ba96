//! What `y` and `c` show and copy: the selected object's raw JSON (serde's view of the model
//! object, pretty-printed) and its id, plus the scrollable overlay that shows the JSON.
//!
//! Hosts, links and events are their model objects (an event also carries its `data` as it
//! arrived); a row of the Actors or Providers tab is the model object on that host with the
//! host's id; an actor or provider view is the object across the lattice (every host's
//! record, its claims, its links). Pure: no I/O.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear};
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::lattice::protocol::{ClaimsMap, LinkDefinition};
use crate::state::{ActorState, Lattice, ProviderState};

use super::format::truncate;
use super::pane;
use super::rows::{self, Rows};
use super::theme::Theme;
use super::view_state::{Target, ViewState};

/// Margin around the overlay.
const MARGIN: u16 = 2;

/// A row of the Actors or Providers tab: the object on one host (fields in this order).
#[derive(Serialize)]
struct OnHost<'a, T> {
    host_id: &'a str,
    #[serde(flatten)]
    object: Named<'a, T>,
    claims: Option<&'a ClaimsMap>,
}

/// The object under its kind's name (`actor`, `provider`).
enum Named<'a, T> {
    Actor(&'a T),
    Provider(&'a T),
}

impl<T: Serialize> Serialize for Named<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        match self {
            Named::Actor(a) => m.serialize_entry("actor", a)?,
            Named::Provider(p) => m.serialize_entry("provider", p)?,
        }
        m.end()
    }
}

/// An actor view: the actor on every host, its claims and links, its key first.
#[derive(Serialize)]
struct ActorAcross<'a> {
    public_key: &'a str,
    claims: Option<&'a ClaimsMap>,
    hosts: BTreeMap<&'a str, &'a ActorState>,
    links: Vec<&'a LinkDefinition>,
}

/// A provider view: the provider on every host, its claims and links, its key first.
#[derive(Serialize)]
struct ProviderAcross<'a> {
    public_key: &'a str,
    link_name: &'a str,
    claims: Option<&'a ClaimsMap>,
    hosts: BTreeMap<&'a str, &'a ProviderState>,
    links: Vec<&'a LinkDefinition>,
}

fn pretty(v: &impl Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("cannot show as JSON: {e}"))
}

fn value(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_else(|e| Value::String(format!("not serialisable: {e}")))
}

/// `(title, JSON)` of row `i` of `rows`.
pub(crate) fn of_row(model: &Lattice, rows: &Rows<'_>, i: usize) -> Option<(String, String)> {
    Some(match rows {
        Rows::Hosts(v) => {
            let h = v.get(i)?;
            (format!("host {}", h.display_name()), pretty(h))
        }
        Rows::Actors(v) => {
            let r = v.get(i)?;
            let j = OnHost {
                host_id: &r.host.id,
                object: Named::Actor(r.actor),
                claims: model.claims.get(&r.actor.id),
            };
            (
                format!("actor {}", rows::actor_name(model, r.actor)),
                pretty(&j),
            )
        }
        Rows::Providers(v) => {
            let r = v.get(i)?;
            let j = OnHost {
                host_id: &r.host.id,
                object: Named::Provider(r.provider),
                claims: model.claims.get(&r.provider.public_key),
            };
            (
                format!("provider {}", rows::provider_name(model, r.provider)),
                pretty(&j),
            )
        }
        Rows::Links(v) => {
            let l = v.get(i)?;
            (format!("link {}", l.link_name), pretty(l))
        }
        Rows::Events(v) => {
            let e = v.get(i)?;
            let mut j = value(e);
            if let (Some(ev), Some(obj)) = (e.event(), j.as_object_mut()) {
                obj.insert(
                    "data".into(),
                    ev.data
                        .to_value()
                        .unwrap_or_else(|e| Value::String(e.to_string())),
                );
            }
            (format!("event #{}", e.seq), pretty(&j))
        }
    })
}

/// `(title, JSON)` of an actor or provider view: the object on every host that runs it.
pub(crate) fn of_target(model: &Lattice, t: &Target) -> Option<(String, String)> {
    Some(match t {
        Target::Host(h) => {
            let h = model.hosts.get(h)?;
            (format!("host {}", h.display_name()), pretty(h))
        }
        Target::Actor(a) => {
            let j = ActorAcross {
                public_key: a,
                claims: model.claims.get(a),
                hosts: model
                    .hosts
                    .values()
                    .filter_map(|h| h.actors.get(a).map(|s| (h.id.as_str(), s)))
                    .collect(),
                links: model.links.values().filter(|l| l.actor_id == *a).collect(),
            };
            (
                format!("actor {}", rows::actor_name_by_id(model, a)),
                pretty(&j),
            )
        }
        Target::Provider {
            public_key,
            link_name,
        } => {
            let j = ProviderAcross {
                public_key,
                link_name,
                claims: model.claims.get(public_key),
                hosts: model
                    .hosts
                    .values()
                    .filter_map(|h| {
                        h.providers
                            .values()
                            .find(|p| p.public_key == *public_key && p.link_name == *link_name)
                            .map(|p| (h.id.as_str(), p))
                    })
                    .collect(),
                links: model
                    .links
                    .values()
                    .filter(|l| l.provider_id == *public_key && l.link_name == *link_name)
                    .collect(),
            };
            let name = rows::claims_name(model, public_key).unwrap_or(public_key);
            (format!("provider {name}"), pretty(&j))
        }
    })
}

/// The id `c` copies for row `i`: a host's, actor's or provider's public key, a link's id, an
/// event's CloudEvent id.
pub(crate) fn id_of_row(_model: &Lattice, rows: &Rows<'_>, i: usize) -> Option<String> {
    match rows {
        Rows::Hosts(v) => v.get(i).map(|h| h.id.clone()),
        Rows::Actors(v) => v.get(i).map(|r| r.actor.id.clone()),
        Rows::Providers(v) => v.get(i).map(|r| r.provider.public_key.clone()),
        Rows::Links(v) => v.get(i).map(|l| l.id.clone()),
        Rows::Events(v) => v
            .get(i)
            .map(|e| e.id().to_string())
            .filter(|id| !id.is_empty()),
    }
}

/// The id `c` copies in an actor or provider view.
pub(crate) fn id_of_target(_model: &Lattice, t: &Target) -> Option<String> {
    Some(match t {
        Target::Host(h) => h.clone(),
        Target::Actor(a) => a.clone(),
        Target::Provider { public_key, .. } => public_key.clone(),
    })
}

/// Draws the JSON overlay over `area`, scrolled to the view's position, with a scroll
/// indicator. Long lines are cut with `…`.
pub(crate) fn render(frame: &mut Frame, area: Rect, view: &mut ViewState, theme: &Theme) {
    let inner = Rect {
        x: area.x.saturating_add(MARGIN),
        y: area.y.saturating_add(MARGIN / 2),
        width: area.width.saturating_sub(2 * MARGIN),
        height: area.height.saturating_sub(MARGIN),
    };
    if inner.width < 10 || inner.height < 3 {
        return;
    }
    frame.render_widget(Clear, inner);
    let Some(j) = view.json() else {
        return;
    };
    let width = usize::from(inner.width.saturating_sub(2));
    let block = Block::bordered()
        .border_style(theme.border)
        .title(Line::from(vec![
            Span::styled(" JSON ", theme.title),
            Span::raw(format!("{} ", truncate(&j.title, width / 2))),
        ]));
    let lines: Vec<Line<'static>> = j
        .lines
        .iter()
        .map(|l| Line::raw(truncate(l, width).into_owned()))
        .collect();
    let height = usize::from(inner.height.saturating_sub(2));
    let offset = view.json_scroll(height);
    pane::render(frame, inner, block, lines, offset, theme);
}
