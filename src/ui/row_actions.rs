//! Keys that act on the selected row: each one writes the `:` command the same action takes
//! (so the command line is the one form every action goes through, with its completion,
//! history, confirmation and outcome). A command that needs nothing more (a stop, an unlink)
//! runs at once — and asks for confirmation like the typed command; one that needs more (a
//! count, a file, a provider to link to) opens the command line with what the row already
//! says filled in, and the footer's usage hint shows what is left to type.
//!
//! Pure: a function of the verb, the tab, the selected row and the model. Rows are per host,
//! so every command for an actor or provider row carries `--host` of that row: a key never
//! acts on a host other than the one the user is looking at. Actors and hosts are written by
//! name where the name names exactly them (the line stays readable), else by id.

use crate::state::Lattice;
use crate::state::command::{quote, resolve};

use super::rows::RowKey;
use super::view_state::Tab;

/// What a row key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowVerb {
    /// Start something new: an actor (Hosts: on the selected host; Actors), a provider
    /// (Providers), a link (Links).
    New,
    /// Scale the selected actor on its host.
    Scale,
    /// Update the selected actor from a file or reference.
    Update,
    /// Stop the selected actor, provider or host; delete the selected link.
    Stop,
    /// Link the selected actor to a provider.
    Link,
}

/// The command a row key produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefill {
    /// The command line's text (without the `:`).
    pub line: String,
    /// Run it now (it is complete) instead of opening the command line.
    pub run: bool,
}

impl Prefill {
    fn run(line: String) -> Self {
        Self { line, run: true }
    }

    fn ask(line: String) -> Self {
        Self { line, run: false }
    }
}

/// The command for `verb` on the `selected` row of `tab`, or why there is none.
pub fn prefill(
    verb: RowVerb,
    tab: Tab,
    selected: Option<&RowKey>,
    model: &Lattice,
) -> Result<Prefill, String> {
    use RowVerb::{Link, New, Scale, Stop, Update};
    match (verb, tab, selected) {
        (New, Tab::Hosts, Some(RowKey::Host(h))) => Ok(Prefill::ask(format!(
            "start-actor --host {} ",
            host_word(model, h)
        ))),
        (New, Tab::Hosts | Tab::Actors, _) => Ok(Prefill::ask("start-actor ".into())),
        (New, Tab::Providers, _) => Ok(Prefill::ask("start-provider ".into())),
        (New, Tab::Links, _) => Ok(Prefill::ask("link ".into())),
        (Scale, _, Some(RowKey::Actor { host, actor })) => Ok(Prefill::ask(format!(
            "scale {} --host {} ",
            actor_word(model, actor),
            host_word(model, host)
        ))),
        (Update, _, Some(RowKey::Actor { host, actor })) => Ok(Prefill::ask(format!(
            "update-actor {} --host {} ",
            actor_word(model, actor),
            host_word(model, host)
        ))),
        (Link, _, Some(RowKey::Actor { actor, .. })) => {
            Ok(Prefill::ask(format!("link {} ", actor_word(model, actor))))
        }
        (Stop, _, Some(RowKey::Actor { host, actor })) => Ok(Prefill::run(format!(
            "stop-actor {} --host {}",
            actor_word(model, actor),
            host_word(model, host)
        ))),
        (Stop, _, Some(RowKey::Provider { host, provider })) => {
            let p = model
                .hosts
                .get(host)
                .and_then(|h| h.providers.get(provider))
                .ok_or_else(|| "that provider is gone".to_owned())?;
            Ok(Prefill::run(format!(
                "stop-provider {} --link-name {} --host {}",
                quote(&p.public_key),
                quote(&p.link_name),
                host_word(model, host)
            )))
        }
        (Stop, _, Some(RowKey::Host(h))) => {
            Ok(Prefill::run(format!("stop-host {}", host_word(model, h))))
        }
        (Stop, _, Some(RowKey::Link(id))) => {
            let l = model
                .links
                .get(id)
                .ok_or_else(|| "that link is gone".to_owned())?;
            Ok(Prefill::run(format!(
                "unlink {} {} --link-name {}",
                quote(&l.actor_id),
                quote(&l.contract_id),
                quote(&l.link_name)
            )))
        }
        (_, _, None) => Err("select a row first".into()),
        (verb, tab, Some(_)) => Err(format!("{} does not apply on {}", word(verb), tab.title())),
    }
}

/// The actor as the line names it: its name when that resolves to exactly it, else its id.
fn actor_word(m: &Lattice, id: &str) -> String {
    let by_name = resolve::actors(m)
        .into_iter()
        .find(|a| a.id == id)
        .and_then(|a| a.name)
        .filter(|n| resolve::actor(m, n).is_ok_and(|a| a.id == id));
    quote(by_name.as_deref().unwrap_or(id)).into_owned()
}

/// The host as the line names it: its friendly name when that resolves to exactly it, else
/// its id.
fn host_word(m: &Lattice, id: &str) -> String {
    let by_name = m
        .hosts
        .get(id)
        .map(|h| h.friendly_name.as_str())
        .filter(|n| !n.is_empty() && resolve::host(m, n).is_ok_and(|h| h == id));
    quote(by_name.unwrap_or(id)).into_owned()
}

/// The verb as the status line names it.
pub fn word(verb: RowVerb) -> &'static str {
    match verb {
        RowVerb::New => "new",
        RowVerb::Scale => "scale",
        RowVerb::Update => "update",
        RowVerb::Stop => "stop",
        RowVerb::Link => "link",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lattice::protocol::LinkDefinition;
    use crate::state::command::tests::{ECHO, H1, model};
    use crate::state::command::{Command, parse};

    fn actor_row() -> RowKey {
        RowKey::Actor {
            host: H1.into(),
            actor: ECHO.into(),
        }
    }

    #[test]
    fn a_stop_is_a_complete_command_for_the_rows_host() {
        let m = model();
        let p = prefill(RowVerb::Stop, Tab::Actors, Some(&actor_row()), &m).expect("stop");
        assert!(p.run);
        // echo is a unique name; so is host one.
        assert_eq!(p.line, "stop-actor echo --host one");
        assert!(parse(&p.line).is_ok(), "{}", p.line);
        let p = prefill(
            RowVerb::Stop,
            Tab::Hosts,
            Some(&RowKey::Host(H1.into())),
            &m,
        )
        .expect("stop host");
        assert_eq!(p.line, "stop-host one");
    }

    #[test]
    fn a_stop_on_a_provider_or_link_row_names_it_fully() {
        let m = model();
        let (host, key) = m
            .hosts
            .iter()
            .find_map(|(h, hs)| hs.providers.keys().next().map(|k| (h.clone(), k.clone())))
            .expect("the test model has a provider");
        let p = prefill(
            RowVerb::Stop,
            Tab::Providers,
            Some(&RowKey::Provider {
                host: host.clone(),
                provider: key.clone(),
            }),
            &m,
        )
        .expect("stop provider");
        let prov = m.hosts[&host].providers[&key].clone();
        assert_eq!(
            p.line,
            format!(
                "stop-provider {} --link-name {} --host two",
                prov.public_key, prov.link_name
            )
        );
        assert!(parse(&p.line).is_ok(), "{}", p.line);
        let mut m = m;
        let link = LinkDefinition {
            id: "l1".into(),
            actor_id: ECHO.into(),
            provider_id: prov.public_key.clone(),
            link_name: "my web".into(),
            contract_id: "wasmcloud:httpserver".into(),
            values: Default::default(),
        };
        m.links.insert("l1".into(), link);
        let p = prefill(
            RowVerb::Stop,
            Tab::Links,
            Some(&RowKey::Link("l1".into())),
            &m,
        )
        .expect("unlink");
        assert_eq!(
            p.line,
            format!("unlink {ECHO} wasmcloud:httpserver --link-name \"my web\"")
        );
        assert!(
            matches!(parse(&p.line), Ok(Command::Unlink { ref link_name, .. }) if link_name == "my web"),
            "{}",
            p.line
        );
    }

    #[test]
    fn a_scale_waits_for_the_count_and_keeps_the_rows_host() {
        let m = model();
        let p = prefill(RowVerb::Scale, Tab::Actors, Some(&actor_row()), &m).expect("scale");
        assert!(!p.run);
        assert_eq!(p.line, "scale echo --host one ");
        // Typing the count makes it a complete command.
        assert!(parse(&format!("{}3", p.line)).is_ok());
    }

    #[test]
    fn new_on_a_host_starts_an_actor_there() {
        let m = model();
        let p = prefill(RowVerb::New, Tab::Hosts, Some(&RowKey::Host(H1.into())), &m).expect("new");
        assert_eq!(p.line, "start-actor --host one ");
        assert!(parse(&format!("{}./a.wasm", p.line)).is_ok());
        assert_eq!(
            prefill(RowVerb::New, Tab::Links, None, &m).map(|p| p.line),
            Ok("link ".to_owned())
        );
    }

    #[test]
    fn a_name_that_is_not_unique_is_written_as_the_id() {
        let mut m = model();
        // A second host called `one`, and a second actor called `echo`.
        let mut h = m.hosts[H1].clone();
        h.id = "NAOTHERAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into();
        m.hosts.insert(h.id.clone(), h);
        m.claims.insert(
            "MZZZZ".into(),
            [
                ("sub".to_string(), "MZZZZ".to_string()),
                ("name".to_string(), "echo".to_string()),
            ]
            .into_iter()
            .collect(),
        );
        let p = prefill(RowVerb::Scale, Tab::Actors, Some(&actor_row()), &m).expect("scale");
        assert_eq!(p.line, format!("scale {ECHO} --host {H1} "));
    }

    #[test]
    fn a_verb_that_does_not_fit_the_row_says_so() {
        let m = model();
        assert_eq!(
            prefill(
                RowVerb::Scale,
                Tab::Hosts,
                Some(&RowKey::Host(H1.into())),
                &m
            ),
            Err("scale does not apply on Hosts".to_owned())
        );
        assert_eq!(
            prefill(RowVerb::Stop, Tab::Actors, None, &m),
            Err("select a row first".to_owned())
        );
        assert_eq!(
            prefill(
                RowVerb::Stop,
                Tab::Links,
                Some(&RowKey::Link("gone".into())),
                &m
            ),
            Err("that link is gone".to_owned())
        );
    }
}
