//! Console-only facts: what the embedded host reports beyond the protocol (call counters,
//! loaded versions) and the state of `lattice-tui dev --build`. Pure.

use super::super::model::{
    BUILD_OUTPUT_LINES, BuildLine, BuildState, BuildStatus, Lattice, LocalHost, Timestamp,
};

/// Replaces the embedded host's facts. Returns whether they changed.
pub fn set_local(m: &mut Lattice, local: LocalHost) -> bool {
    if m.local.as_ref() == Some(&local) {
        return false;
    }
    m.local = Some(local);
    true
}

/// A fact about the dev build (`lattice-tui dev --build`), as the build runner reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildUpdate {
    /// A run started because these files changed.
    Started {
        /// Run number.
        run: u64,
        /// The changed files.
        trigger: Vec<String>,
    },
    /// A line of output.
    Output {
        /// Run number.
        run: u64,
        /// The line.
        line: String,
        /// Whether it came on stderr.
        stderr: bool,
    },
    /// A run ended.
    Finished {
        /// Run number.
        run: u64,
        /// Whether it succeeded.
        success: bool,
        /// Its exit code.
        code: Option<i32>,
        /// How long it took, in milliseconds.
        took_ms: u64,
    },
    /// A run was cut short by a newer change.
    Cancelled {
        /// Run number.
        run: u64,
    },
    /// The build runner itself failed.
    Error {
        /// What happened.
        message: String,
    },
}

/// Folds a build fact received at `now` into the model (`command` names the build).
pub fn record_build(m: &mut Lattice, command: &str, update: BuildUpdate, now: Timestamp) {
    let b = m.build.get_or_insert_with(|| BuildState {
        command: command.to_string(),
        ..BuildState::default()
    });
    let mut push = |run: u64, stderr: bool, text: String| {
        if b.output.len() >= BUILD_OUTPUT_LINES {
            b.output.pop_front();
        }
        b.output.push_back(BuildLine { run, stderr, text });
    };
    match update {
        BuildUpdate::Started { run, trigger } => {
            b.run = run;
            b.status = BuildStatus::Running;
            let changed = match trigger.as_slice() {
                [] => String::new(),
                [one] => format!(" ({one} changed)"),
                [first, rest @ ..] => format!(" ({first} and {} more changed)", rest.len()),
            };
            b.trigger = trigger;
            b.started = Some(now);
            push(run, false, format!("── run {run}: {command}{changed}"));
        }
        BuildUpdate::Output { run, line, stderr } => push(run, stderr, line),
        BuildUpdate::Finished {
            run,
            success,
            code,
            took_ms,
        } => {
            if run == b.run {
                b.status = if success {
                    BuildStatus::Succeeded
                } else {
                    BuildStatus::Failed
                };
                b.code = code;
                b.took_ms = Some(took_ms);
            }
            let how = if success { "succeeded" } else { "FAILED" };
            let code = code.map(|c| format!(", exit {c}")).unwrap_or_default();
            push(
                run,
                !success,
                format!("── run {run} {how} in {took_ms} ms{code}"),
            );
        }
        BuildUpdate::Cancelled { run } => {
            if run == b.run {
                b.status = BuildStatus::Cancelled;
            }
            push(
                run,
                false,
                format!("── run {run} cancelled: sources changed again"),
            );
        }
        BuildUpdate::Error { message } => {
            let run = b.run;
            push(run, true, format!("build runner error: {message}"));
        }
    }
}
