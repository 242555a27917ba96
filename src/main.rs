//! The `lattice-tui` binary: parse the command line, run, turn the outcome into an exit code.
//! Everything else lives in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = lattice_tui::cli::Cli::parse_checked();
    match lattice_tui::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // The terminal is restored by now: errors print after the console is gone.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("lattice-tui: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}
