//! Terminal lifecycle: raw mode and the alternate screen on entry, restored on every exit path.
//!
//! `ratatui::try_init` installs a panic hook that restores the terminal before the panic
//! message prints; [`TerminalGuard`] restores it when dropped, which covers `?` returns and
//! unwinding. Owns nothing else.

use ratatui::DefaultTerminal;

/// Restores the terminal when dropped.
pub struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen.
    ///
    /// # Errors
    /// When the terminal cannot be put into raw mode (e.g. stdout is not a terminal).
    pub fn enter() -> std::io::Result<(DefaultTerminal, TerminalGuard)> {
        let terminal = ratatui::try_init()?;
        Ok((terminal, TerminalGuard { _private: () }))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // Teardown errors cannot be reported anywhere useful; the terminal is best effort.
        let _ = ratatui::try_restore();
    }
}
