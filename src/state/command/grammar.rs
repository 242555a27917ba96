//! The `:` command line's grammar: one table of commands ([`COMMANDS`]), a tokenizer and a
//! parser that turns a line into a [`Command`] naming things as the user typed them.
//!
//! Names are not looked up here (that is [`super::resolve`]), and nothing is sent.

use std::collections::BTreeMap;

use crate::state::logs::LogLevel;

/// A view the console can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The Hosts tab.
    Hosts,
    /// The Actors tab.
    Actors,
    /// The Providers tab.
    Providers,
    /// The Links tab.
    Links,
    /// The Events tab.
    Events,
}

/// A parsed command line. Actors, providers and hosts are as typed (an id, a unique id prefix,
/// a unique name or a reference); [`super::resolve`] turns them into ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Show a view.
    View(View),
    /// Quit the console.
    Quit,
    /// `lattice [NAME]`: focus one lattice (`None`, or `*`: every lattice again).
    Focus(Option<String>),
    /// `logs [ACTOR] [--level LEVEL]`: open the logs view.
    Logs {
        /// Only this actor's lines (as typed); `None`: every line.
        actor: Option<String>,
        /// Only lines at this level or above; `None`: keep the view's level filter.
        level: Option<LogLevel>,
    },
    /// `start-actor REF [--count N] [--host HOST] [--watch]`.
    StartActor {
        /// File path or registry reference.
        reference: String,
        /// Instances to start (≥ 1).
        count: u16,
        /// Target host; `None`: auction.
        host: Option<String>,
        /// Watch the file for hot reload (the `lattice-tui.dev/watch=true` annotation).
        watch: bool,
    },
    /// `scale ACTOR N [--host HOST]`.
    Scale {
        /// The actor.
        actor: String,
        /// Desired instance count (0 stops all).
        count: u16,
        /// Target host.
        host: Option<String>,
    },
    /// `update-actor ACTOR REF [--host HOST]`.
    UpdateActor {
        /// The actor.
        actor: String,
        /// The new module's file path or reference.
        reference: String,
        /// Target host.
        host: Option<String>,
    },
    /// `stop-actor ACTOR [--host HOST]`.
    StopActor {
        /// The actor.
        actor: String,
        /// Target host.
        host: Option<String>,
    },
    /// `start-provider REF [--link-name NAME] [--host HOST]`.
    StartProvider {
        /// `builtin:httpserver` or a reference.
        reference: String,
        /// Link name (default `default`).
        link_name: String,
        /// Target host; `None`: auction.
        host: Option<String>,
    },
    /// `stop-provider PROVIDER [--link-name NAME] [--host HOST]`.
    StopProvider {
        /// The provider.
        provider: String,
        /// Link name; `None`: the only one it runs under.
        link_name: Option<String>,
        /// Target host.
        host: Option<String>,
    },
    /// `link ACTOR PROVIDER CONTRACT [--link-name NAME] [KEY=VALUE ...]`.
    Link {
        /// The actor.
        actor: String,
        /// The provider.
        provider: String,
        /// Contract id, e.g. `wasmcloud:httpserver`.
        contract: String,
        /// Link name (default `default`).
        link_name: String,
        /// Link values.
        values: BTreeMap<String, String>,
    },
    /// `unlink ACTOR CONTRACT [--link-name NAME]`.
    Unlink {
        /// The actor.
        actor: String,
        /// Contract id.
        contract: String,
        /// Link name (default `default`).
        link_name: String,
    },
    /// `stop-host HOST`.
    StopHost {
        /// The host.
        host: String,
    },
}

impl Command {
    /// Whether the command changes the lattice (refused by a `--readonly` console).
    #[must_use]
    pub fn is_mutating(&self) -> bool {
        !matches!(
            self,
            Command::View(_) | Command::Quit | Command::Focus(_) | Command::Logs { .. }
        )
    }

    /// Whether the command destroys something and so asks for confirmation first.
    #[must_use]
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            Command::StopActor { .. }
                | Command::StopProvider { .. }
                | Command::StopHost { .. }
                | Command::Unlink { .. }
        )
    }
}

/// Which command a [`CommandSpec`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Show a view.
    View(View),
    /// Quit.
    Quit,
    /// `lattice`.
    Focus,
    /// `logs`.
    Logs,
    /// `start-actor`.
    StartActor,
    /// `scale`.
    Scale,
    /// `update-actor`.
    UpdateActor,
    /// `stop-actor`.
    StopActor,
    /// `start-provider`.
    StartProvider,
    /// `stop-provider`.
    StopProvider,
    /// `link`.
    Link,
    /// `unlink`.
    Unlink,
    /// `stop-host`.
    StopHost,
}

/// One command of the grammar: the single source of its name, aliases, usage and summary
/// for the parser, completion, `?` help and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// Which command.
    pub kind: Kind,
    /// The command's name (typed after `:`).
    pub name: &'static str,
    /// Other names that mean the same.
    pub aliases: &'static [&'static str],
    /// Arguments, as shown in help.
    pub usage: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// The `--` flags it takes, `(name, takes a value)`.
    pub flags: &'static [(&'static str, bool)],
}

const HOST: (&str, bool) = ("host", true);
const LINK_NAME: (&str, bool) = ("link-name", true);

/// Every command, in the order help lists them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        kind: Kind::View(View::Hosts),
        name: "hosts",
        aliases: &["host", "ho"],
        usage: "",
        summary: "show the hosts",
        flags: &[],
    },
    CommandSpec {
        kind: Kind::View(View::Actors),
        name: "actors",
        aliases: &["actor", "ac"],
        usage: "",
        summary: "show the actors",
        flags: &[],
    },
    CommandSpec {
        kind: Kind::View(View::Providers),
        name: "providers",
        aliases: &["provider", "pr"],
        usage: "",
        summary: "show the providers",
        flags: &[],
    },
    CommandSpec {
        kind: Kind::View(View::Links),
        name: "links",
        aliases: &["ln"],
        usage: "",
        summary: "show the link definitions",
        flags: &[],
    },
    CommandSpec {
        kind: Kind::View(View::Events),
        name: "events",
        aliases: &["event", "ev"],
        usage: "",
        summary: "show the event log",
        flags: &[],
    },
    CommandSpec {
        kind: Kind::Logs,
        name: "logs",
        aliases: &["log", "lo"],
        usage: "[ACTOR] [--level LEVEL]",
        summary: "the host's log and its actors' stdout/stderr (only ACTOR's; LEVEL and above)",
        flags: &[("level", true)],
    },
    CommandSpec {
        kind: Kind::Focus,
        name: "lattice",
        aliases: &["lat"],
        usage: "[NAME]",
        summary: "with --lattice '*': show and act on one lattice (no NAME or *: all)",
        flags: &[],
    },
    CommandSpec {
        kind: Kind::Quit,
        name: "q",
        aliases: &["quit", "q!"],
        usage: "",
        summary: "quit",
        flags: &[],
    },
    CommandSpec {
        kind: Kind::StartActor,
        name: "start-actor",
        aliases: &[],
        usage: "REF [--count N] [--host HOST] [--watch]",
        summary: "start an actor from a file or a reference (no --host: auction)",
        flags: &[("count", true), HOST, ("watch", false)],
    },
    CommandSpec {
        kind: Kind::Scale,
        name: "scale",
        aliases: &[],
        usage: "ACTOR N [--host HOST]",
        summary: "run N instances of an actor",
        flags: &[HOST],
    },
    CommandSpec {
        kind: Kind::UpdateActor,
        name: "update-actor",
        aliases: &[],
        usage: "ACTOR REF [--host HOST]",
        summary: "replace an actor's module (same key)",
        flags: &[HOST],
    },
    CommandSpec {
        kind: Kind::StopActor,
        name: "stop-actor",
        aliases: &[],
        usage: "ACTOR [--host HOST]",
        summary: "stop every instance of an actor",
        flags: &[HOST],
    },
    CommandSpec {
        kind: Kind::StartProvider,
        name: "start-provider",
        aliases: &[],
        usage: "REF [--link-name NAME] [--host HOST]",
        summary: "start a provider (no --host: auction)",
        flags: &[LINK_NAME, HOST],
    },
    CommandSpec {
        kind: Kind::StopProvider,
        name: "stop-provider",
        aliases: &[],
        usage: "PROVIDER [--link-name NAME] [--host HOST]",
        summary: "stop a provider",
        flags: &[LINK_NAME, HOST],
    },
    CommandSpec {
        kind: Kind::Link,
        name: "link",
        aliases: &[],
        usage: "ACTOR PROVIDER CONTRACT [--link-name NAME] [KEY=VALUE ...]",
        summary: "define a link",
        flags: &[LINK_NAME],
    },
    CommandSpec {
        kind: Kind::Unlink,
        name: "unlink",
        aliases: &[],
        usage: "ACTOR CONTRACT [--link-name NAME]",
        summary: "delete a link",
        flags: &[LINK_NAME],
    },
    CommandSpec {
        kind: Kind::StopHost,
        name: "stop-host",
        aliases: &[],
        usage: "HOST",
        summary: "stop a host",
        flags: &[],
    },
];

/// The spec named `word` (its name or an alias).
#[must_use]
pub fn spec(word: &str) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .find(|c| c.name == word || c.aliases.contains(&word))
}

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing typed.
    #[error("type a command (Tab completes, `:q` quits)")]
    Empty,
    /// A quote was opened and not closed.
    #[error("unterminated {0} quote")]
    Unterminated(char),
    /// The first word is no command.
    #[error("unknown command `{word}`{}", suggest(.near))]
    Unknown {
        /// What was typed.
        word: String,
        /// Commands that start like it.
        near: Vec<&'static str>,
    },
    /// A flag the command does not take.
    #[error("`{command}` takes no --{flag} (it takes {})", list_flags(.allowed))]
    UnknownFlag {
        /// The command.
        command: &'static str,
        /// The flag.
        flag: String,
        /// The flags it takes.
        allowed: Vec<&'static str>,
    },
    /// A flag given twice.
    #[error("--{0} given twice")]
    Repeated(String),
    /// A flag without its value.
    #[error("--{0} needs a value")]
    MissingValue(String),
    /// A switch given a value.
    #[error("--{0} takes no value")]
    UnexpectedValue(String),
    /// A required argument is missing.
    #[error("missing {what}: {command} {usage}")]
    Missing {
        /// The command.
        command: &'static str,
        /// Which argument.
        what: &'static str,
        /// Its usage line.
        usage: &'static str,
    },
    /// More arguments than the command takes.
    #[error("unexpected `{extra}`: {command} {usage}")]
    Extra {
        /// The command.
        command: &'static str,
        /// The first argument too many.
        extra: String,
        /// Its usage line.
        usage: &'static str,
    },
    /// A value of the wrong shape.
    #[error("{what} must be {expected}, not `{got}`")]
    Invalid {
        /// Which value.
        what: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What was typed.
        got: String,
    },
}

fn suggest(near: &[&str]) -> String {
    if near.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", near.join(", "))
    }
}

fn list_flags(flags: &[&str]) -> String {
    if flags.is_empty() {
        "no flags".to_owned()
    } else {
        flags
            .iter()
            .map(|f| format!("--{f}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `word` as one word of a command line: as is when [`tokenize`] would read it back
/// unchanged, else in double quotes with `"` and `\\` escaped.
#[must_use]
pub fn quote(word: &str) -> std::borrow::Cow<'_, str> {
    let plain = !word.is_empty()
        && !word
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\');
    if plain {
        return std::borrow::Cow::Borrowed(word);
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    std::borrow::Cow::Owned(out)
}

/// Splits a line into words: whitespace separates, `"…"` and `'…'` group (a backslash in
/// double quotes escapes the next character), a backslash outside quotes escapes one character.
///
/// # Errors
/// [`ParseError::Unterminated`] for an open quote.
pub fn tokenize(line: &str) -> Result<Vec<String>, ParseError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '"' | '\'' => {
                in_word = true;
                let quote = c;
                loop {
                    match chars.next() {
                        None => return Err(ParseError::Unterminated(quote)),
                        Some(q) if q == quote => break,
                        Some('\\') if quote == '"' => match chars.next() {
                            Some(e) => cur.push(e),
                            None => return Err(ParseError::Unterminated(quote)),
                        },
                        Some(other) => cur.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    cur.push(e);
                }
            }
            other => {
                in_word = true;
                cur.push(other);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// The words of a command after its name: positional arguments and `--flag [VALUE]`s.
struct Args {
    spec: &'static CommandSpec,
    positional: std::vec::IntoIter<String>,
    flags: BTreeMap<&'static str, Option<String>>,
}

impl Args {
    fn split(spec: &'static CommandSpec, words: Vec<String>) -> Result<Args, ParseError> {
        let mut positional = Vec::new();
        let mut flags = BTreeMap::new();
        let mut words = words.into_iter();
        while let Some(w) = words.next() {
            let Some(flag) = w.strip_prefix("--") else {
                positional.push(w);
                continue;
            };
            if flag.is_empty() {
                // `--` ends the flags: the rest is positional.
                positional.extend(words.by_ref());
                break;
            }
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (flag, None),
            };
            let Some(&(known, takes_value)) = spec.flags.iter().find(|(f, _)| *f == name) else {
                return Err(ParseError::UnknownFlag {
                    command: spec.name,
                    flag: name.to_owned(),
                    allowed: spec.flags.iter().map(|(f, _)| *f).collect(),
                });
            };
            let value = match (takes_value, inline) {
                (true, Some(v)) => Some(v),
                (true, None) => match words.next() {
                    Some(v) if !v.starts_with("--") => Some(v),
                    _ => return Err(ParseError::MissingValue(known.to_owned())),
                },
                (false, Some(_)) => return Err(ParseError::UnexpectedValue(known.to_owned())),
                (false, None) => None,
            };
            if flags.insert(known, value).is_some() {
                return Err(ParseError::Repeated(known.to_owned()));
            }
        }
        Ok(Args {
            spec,
            positional: positional.into_iter(),
            flags,
        })
    }

    fn required(&mut self, what: &'static str) -> Result<String, ParseError> {
        self.positional.next().ok_or(ParseError::Missing {
            command: self.spec.name,
            what,
            usage: self.spec.usage,
        })
    }

    fn value(&mut self, flag: &str) -> Option<String> {
        self.flags.remove(flag).flatten()
    }

    fn switch(&mut self, flag: &str) -> bool {
        self.flags.remove(flag).is_some()
    }

    /// Ends the parse: any positional argument left is an error.
    fn done(mut self) -> Result<(), ParseError> {
        match self.positional.next() {
            None => Ok(()),
            Some(extra) => Err(ParseError::Extra {
                command: self.spec.name,
                extra,
                usage: self.spec.usage,
            }),
        }
    }
}

fn count(what: &'static str, s: &str, min: u16) -> Result<u16, ParseError> {
    match s.parse::<u16>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(ParseError::Invalid {
            what,
            expected: if min == 0 {
                "a whole number from 0 to 65535"
            } else {
                "a whole number from 1 to 65535"
            },
            got: s.to_owned(),
        }),
    }
}

fn link_name(args: &mut Args) -> String {
    args.value("link-name")
        .unwrap_or_else(|| "default".to_owned())
}

/// Parses a command line (without the leading `:`).
///
/// # Errors
/// A [`ParseError`] that says what is wrong and shows the command's usage.
pub fn parse(line: &str) -> Result<Command, ParseError> {
    let mut words = tokenize(line)?.into_iter();
    let Some(word) = words.next() else {
        return Err(ParseError::Empty);
    };
    let Some(spec) = spec(&word) else {
        let near = COMMANDS
            .iter()
            .map(|c| c.name)
            .filter(|n| n.starts_with(word.as_str()) || word.starts_with(n))
            .collect();
        return Err(ParseError::Unknown { word, near });
    };
    let mut args = Args::split(spec, words.collect())?;
    let cmd = match spec.kind {
        Kind::View(v) => Command::View(v),
        Kind::Quit => Command::Quit,
        Kind::Focus => Command::Focus(args.positional.next().filter(|n| n != "*")),
        Kind::Logs => {
            let actor = args.positional.next();
            let level = match args.value("level") {
                None => None,
                Some(v) => Some(LogLevel::parse(&v).ok_or(ParseError::Invalid {
                    what: "--level",
                    expected: "trace, debug, info, warn or error",
                    got: v,
                })?),
            };
            Command::Logs { actor, level }
        }
        Kind::StartActor => {
            let reference = args.required("REF")?;
            let n = match args.value("count") {
                Some(v) => count("--count", &v, 1)?,
                None => 1,
            };
            Command::StartActor {
                reference,
                count: n,
                host: args.value("host"),
                watch: args.switch("watch"),
            }
        }
        Kind::Scale => {
            let actor = args.required("ACTOR")?;
            let n = args.required("N")?;
            Command::Scale {
                actor,
                count: count("N", &n, 0)?,
                host: args.value("host"),
            }
        }
        Kind::UpdateActor => Command::UpdateActor {
            actor: args.required("ACTOR")?,
            reference: args.required("REF")?,
            host: args.value("host"),
        },
        Kind::StopActor => Command::StopActor {
            actor: args.required("ACTOR")?,
            host: args.value("host"),
        },
        Kind::StartProvider => Command::StartProvider {
            reference: args.required("REF")?,
            link_name: link_name(&mut args),
            host: args.value("host"),
        },
        Kind::StopProvider => Command::StopProvider {
            provider: args.required("PROVIDER")?,
            link_name: args.value("link-name"),
            host: args.value("host"),
        },
        Kind::Link => {
            let actor = args.required("ACTOR")?;
            let provider = args.required("PROVIDER")?;
            let contract = args.required("CONTRACT")?;
            let link_name = link_name(&mut args);
            let mut values = BTreeMap::new();
            for kv in args.positional.by_ref() {
                let Some((k, v)) = kv.split_once('=').filter(|(k, _)| !k.is_empty()) else {
                    return Err(ParseError::Invalid {
                        what: "a link value",
                        expected: "KEY=VALUE",
                        got: kv,
                    });
                };
                values.insert(k.to_owned(), v.to_owned());
            }
            Command::Link {
                actor,
                provider,
                contract,
                link_name,
                values,
            }
        }
        Kind::Unlink => Command::Unlink {
            actor: args.required("ACTOR")?,
            contract: args.required("CONTRACT")?,
            link_name: link_name(&mut args),
        },
        Kind::StopHost => Command::StopHost {
            host: args.required("HOST")?,
        },
    };
    args.done()?;
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Command {
        parse(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn a_quoted_word_reads_back_as_itself() {
        for w in [
            "plain",
            "./my actor.wasm",
            "say \"hi\"",
            "back\\slash",
            "it's",
            "",
        ] {
            let q = quote(w);
            let line = format!("x {q} y");
            assert_eq!(tokenize(&line).expect("tokenizes"), ["x", w, "y"], "{line}");
        }
        assert_eq!(quote("plain"), "plain");
    }

    #[test]
    fn the_issue_grammar_parses_exactly_as_written() {
        assert_eq!(
            p("start-actor ./hello.wasm --count 3 --host NB1 --watch"),
            Command::StartActor {
                reference: "./hello.wasm".into(),
                count: 3,
                host: Some("NB1".into()),
                watch: true
            }
        );
        assert_eq!(
            p("start-actor wasmcloud.azurecr.io/echo:0.3.4"),
            Command::StartActor {
                reference: "wasmcloud.azurecr.io/echo:0.3.4".into(),
                count: 1,
                host: None,
                watch: false
            }
        );
        assert_eq!(
            p("scale echo 0"),
            Command::Scale {
                actor: "echo".into(),
                count: 0,
                host: None
            }
        );
        assert_eq!(
            p("update-actor MB v2.wasm --host=NB"),
            Command::UpdateActor {
                actor: "MB".into(),
                reference: "v2.wasm".into(),
                host: Some("NB".into())
            }
        );
        assert_eq!(
            p("stop-actor echo"),
            Command::StopActor {
                actor: "echo".into(),
                host: None
            }
        );
        assert_eq!(
            p("start-provider builtin:httpserver --link-name web"),
            Command::StartProvider {
                reference: "builtin:httpserver".into(),
                link_name: "web".into(),
                host: None
            }
        );
        assert_eq!(
            p("stop-provider VHTTP"),
            Command::StopProvider {
                provider: "VHTTP".into(),
                link_name: None,
                host: None
            }
        );
        assert_eq!(
            p("link echo VHTTP wasmcloud:httpserver PORT=8080 'greeting=hello world'"),
            Command::Link {
                actor: "echo".into(),
                provider: "VHTTP".into(),
                contract: "wasmcloud:httpserver".into(),
                link_name: "default".into(),
                values: [
                    ("PORT".to_string(), "8080".to_string()),
                    ("greeting".to_string(), "hello world".to_string())
                ]
                .into()
            }
        );
        assert_eq!(
            p("unlink echo wasmcloud:httpserver --link-name web"),
            Command::Unlink {
                actor: "echo".into(),
                contract: "wasmcloud:httpserver".into(),
                link_name: "web".into()
            }
        );
        assert_eq!(p("stop-host NB"), Command::StopHost { host: "NB".into() });
    }

    #[test]
    fn views_aliases_and_quit() {
        assert_eq!(p("hosts"), Command::View(View::Hosts));
        assert_eq!(p("ho"), Command::View(View::Hosts));
        assert_eq!(p("ac"), Command::View(View::Actors));
        assert_eq!(p("pr"), Command::View(View::Providers));
        assert_eq!(p("ln"), Command::View(View::Links));
        assert_eq!(p("ev"), Command::View(View::Events));
        assert_eq!(
            p("logs"),
            Command::Logs {
                actor: None,
                level: None
            }
        );
        assert_eq!(
            p("lo echo --level WARN"),
            Command::Logs {
                actor: Some("echo".into()),
                level: Some(LogLevel::Warn)
            }
        );
        assert!(matches!(
            parse("logs --level loud"),
            Err(ParseError::Invalid {
                what: "--level",
                ..
            })
        ));
        assert!(matches!(parse("logs a b"), Err(ParseError::Extra { .. })));
        assert_eq!(p("q"), Command::Quit);
        assert_eq!(p("quit"), Command::Quit);
        assert_eq!(p("  q!  "), Command::Quit);
    }

    #[test]
    fn every_command_parses() {
        // Fill each usage's placeholders with plain words, so a usage that does not parse as
        // written fails here.
        for c in COMMANDS {
            let mut depth = 0usize;
            let mut line = c.name.to_owned();
            for w in c.usage.split_whitespace() {
                let optional = depth > 0 || w.starts_with('[');
                depth = (depth + w.matches('[').count()).saturating_sub(w.matches(']').count());
                if !optional {
                    line.push_str(if w == "N" { " 2" } else { " x" });
                }
            }
            parse(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            for a in c.aliases {
                assert_eq!(spec(a).map(|s| s.name), Some(c.name));
            }
        }
    }

    #[test]
    fn mistakes_say_what_is_wrong_and_show_the_usage() {
        let e = |line: &str| parse(line).unwrap_err().to_string();
        assert_eq!(e(""), "type a command (Tab completes, `:q` quits)");
        assert_eq!(e("scale echo"), "missing N: scale ACTOR N [--host HOST]");
        assert_eq!(
            e("scale echo many"),
            "N must be a whole number from 0 to 65535, not `many`"
        );
        assert_eq!(
            e("start-actor a.wasm --count 0"),
            "--count must be a whole number from 1 to 65535, not `0`"
        );
        assert_eq!(
            e("start-actor a.wasm --count 65536"),
            "--count must be a whole number from 1 to 65535, not `65536`"
        );
        assert_eq!(
            e("stop-host NB extra"),
            "unexpected `extra`: stop-host HOST"
        );
        assert_eq!(
            e("stop-actor echo --count 2"),
            "`stop-actor` takes no --count (it takes --host)"
        );
        assert_eq!(e("start-actor a --host"), "--host needs a value");
        assert_eq!(e("start-actor a --watch=yes"), "--watch takes no value");
        assert_eq!(
            e("stop-host NB --bogus"),
            "`stop-host` takes no --bogus (it takes no flags)"
        );
        assert_eq!(e("start-actor a --host x --host y"), "--host given twice");
        assert_eq!(
            e("stop"),
            "unknown command `stop` (did you mean stop-actor, stop-provider, stop-host?)"
        );
        assert_eq!(
            e("link a p c PORT"),
            "a link value must be KEY=VALUE, not `PORT`"
        );
        assert_eq!(
            e("link a p c =v"),
            "a link value must be KEY=VALUE, not `=v`"
        );
        assert_eq!(e("start-actor 'a.wasm"), "unterminated ' quote");
    }

    #[test]
    fn words_group_by_quotes_and_escapes() {
        assert_eq!(
            tokenize(r#"a "b c" 'd e' f\ g "h\"i" """#).unwrap(),
            ["a", "b c", "d e", "f g", "h\"i", ""]
        );
        assert_eq!(tokenize("   ").unwrap(), Vec::<String>::new());
        // `--` ends the flags.
        assert_eq!(
            p("start-actor -- --odd-file-name"),
            Command::StartActor {
                reference: "--odd-file-name".into(),
                count: 1,
                host: None,
                watch: false
            }
        );
    }

    #[test]
    fn mutating_and_destructive() {
        assert!(!p("hosts").is_mutating());
        assert!(!p("q").is_mutating());
        assert!(p("scale a 1").is_mutating());
        assert!(!p("scale a 1").is_destructive());
        for line in [
            "stop-actor a",
            "stop-provider p",
            "stop-host h",
            "unlink a c",
        ] {
            assert!(p(line).is_destructive(), "{line}");
            assert!(p(line).is_mutating(), "{line}");
        }
    }
}
