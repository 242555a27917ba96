//! The README stays true to the code: its keybinding table is the keymap's binding table, and
//! the commands it tells people to run exist.

use lattice_tui::state::command::COMMANDS;
use lattice_tui::ui::keymap::{BINDINGS, scope_title};

const README: &str = include_str!("../README.md");

fn keybinding_table() -> String {
    let mut t = String::from("| Where | Keys | Does |\n|---|---|---|\n");
    for b in BINDINGS {
        t.push_str(&format!(
            "| {} | `{}` | {} |\n",
            scope_title(b.scope),
            b.keys_label().replace('|', "\\|"),
            b.help
        ));
    }
    t
}

#[test]
fn readme_keybindings_match_the_keymap() {
    let want = keybinding_table();
    assert!(
        README.contains(&want),
        "README.md's keybinding table is out of date; replace it with:\n\n{want}"
    );
}

#[test]
fn readme_test_command_is_the_ci_command() {
    let ci = include_str!("../.ci/run");
    let cmd = ci
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("set ") && !l.starts_with("cd "))
        .rfind(|l| !l.trim().is_empty())
        .expect(".ci/run runs a command");
    assert!(
        README.contains(cmd),
        "README must show the CI test command `{cmd}`"
    );
}

/// The README's command table, as the grammar's one table generates it.
fn command_table() -> String {
    let mut t = String::from("| Command | Does |\n|---|---|\n");
    for c in COMMANDS {
        let mut names = format!("`:{}", c.name);
        if !c.usage.is_empty() {
            names.push(' ');
            names.push_str(c.usage);
        }
        names.push('`');
        for a in c.aliases {
            names.push_str(&format!(" `:{a}`"));
        }
        t.push_str(&format!(
            "| {} | {} |\n",
            names.replace('|', "\\|"),
            c.summary
        ));
    }
    t
}

#[test]
fn readme_commands_match_the_grammar() {
    let want = command_table();
    assert!(
        README.contains(&want),
        "README.md's command table is out of date; replace it with:\n\n{want}"
    );
}
