//! The console's frames on the terminal: a full frame when anything but the footer changed,
//! else only the footer line redrawn over the last frame.
//!
//! An action's ack changes the status line and appends a line to the event log; drawing a
//! full frame for it renders every table and pane again and diffs every cell of the screen
//! (ratatui's diff alone costs more than rendering the footer) to change one line. When
//! [`ui::footer_redraw_suffices`] says the footer alone shows what changed, [`Screen`] takes
//! the last frame's buffer as the new frame, renders only the footer into it
//! ([`ui::render_footer`]), sends the cells of that line that differ, and places the cursor
//! as ratatui does: the terminal ends up with exactly the screen a full frame would draw. A
//! resize, anything marked [`App::dirty`], or a state that reads the event log draws in
//! full, through ratatui's own diff.
//!
//! Where the screen lives: after a full frame, in ratatui's previous buffer, and a copy here
//! (taken after the frame is flushed, off the path of the next ack); after a footer-only
//! frame, in ratatui's current buffer (ratatui's previous one is then stale: the buffers are
//! swapped before the next full frame, so its diff starts from what is on screen).
//!
//! Owns the copy only: rendering stays in `ui/`, the decision of what changed in the App.

use anyhow::Context;
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::{Rect, Size};

use super::App;
use crate::state::Timestamp;
use crate::ui;

/// How a frame was drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drawn {
    /// Every part of the screen rendered, through ratatui's diff.
    Full,
    /// Only the footer line rendered, over the last frame.
    Footer,
}

/// Where the screen's content is kept between frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// Nothing drawn yet.
    Nothing,
    /// After a full frame: in [`Screen::last`] (and ratatui's previous buffer).
    Copy,
    /// After a footer-only frame: in ratatui's current buffer.
    Current,
}

/// The last frame drawn, to redraw the footer over it.
#[derive(Debug)]
pub struct Screen {
    /// The last full frame's buffer (while `held` is [`Held::Copy`]); otherwise a spare.
    last: Buffer,
    held: Held,
    /// The footer line before and after it is rendered again (reused between frames).
    before: Buffer,
    after: Buffer,
}

impl Default for Screen {
    fn default() -> Self {
        Self::new()
    }
}

impl Screen {
    /// A screen that has drawn nothing yet (its first frame is a full one).
    #[must_use]
    pub fn new() -> Self {
        Self {
            last: Buffer::empty(Rect::ZERO),
            held: Held::Nothing,
            before: Buffer::empty(Rect::ZERO),
            after: Buffer::empty(Rect::ZERO),
        }
    }

    /// Draws the App's next frame and marks it clean: only the footer when that is all that
    /// changed since the last frame, else a full frame (relative times at `now`; a footer
    /// alone shows none).
    ///
    /// # Errors
    /// The terminal cannot be drawn.
    pub fn draw<B: Backend>(
        &mut self,
        terminal: &mut Terminal<B>,
        app: &mut App,
        now: Timestamp,
    ) -> anyhow::Result<Drawn>
    where
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let drawn = if !app.dirty && ui::footer_redraw_suffices(&app.view) {
            self.footer(terminal, app)?
        } else {
            None
        };
        let drawn = match drawn {
            Some(d) => d,
            None => self.full(terminal, app, now)?,
        };
        app.dirty = false;
        app.footer_dirty = false;
        app.urgent = false;
        Ok(drawn)
    }

    /// A full frame through ratatui.
    fn full<B: Backend>(
        &mut self,
        terminal: &mut Terminal<B>,
        app: &mut App,
        now: Timestamp,
    ) -> anyhow::Result<Drawn>
    where
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        if self.held == Held::Current {
            // The screen is in the current buffer: make it the one ratatui diffs against.
            terminal.swap_buffers();
        }
        let done = terminal
            .draw(|f| ui::render(f, &app.model, &mut app.view, now))
            .context("drawing the console failed")?;
        // Flushed: the copy for the next footer-only frame is taken off the ack's path.
        self.last.area = done.buffer.area;
        self.last.content.clone_from(&done.buffer.content);
        self.held = Held::Copy;
        Ok(Drawn::Full)
    }

    /// The footer line alone over the last frame; `None` when a full frame is needed (no
    /// frame yet, or the terminal's size changed).
    fn footer<B: Backend>(
        &mut self,
        terminal: &mut Terminal<B>,
        app: &App,
    ) -> anyhow::Result<Option<Drawn>>
    where
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let size = terminal
            .size()
            .context("reading the terminal's size failed")?;
        let held_area = match self.held {
            Held::Nothing => return Ok(None),
            Held::Copy => self.last.area,
            Held::Current => terminal.current_buffer_mut().area,
        };
        if held_area.is_empty() || Size::from(held_area) != size {
            return Ok(None);
        }
        let line = ui::footer_area(held_area);
        if line.height != 1 || line.width == 0 || !held_area.contains(line.as_position()) {
            // A screen too small for a footer line of its own.
            return Ok(None);
        }
        if self.held == Held::Copy {
            // ratatui's current buffer is blank since the last frame: the last frame becomes
            // the current one (and the blank one the spare).
            std::mem::swap(terminal.current_buffer_mut(), &mut self.last);
            self.held = Held::Current;
        }
        copy_line(terminal.current_buffer_mut(), line, &mut self.before);
        // As a full frame starts from a reset buffer: the footer does not write every cell.
        clear_line(terminal.current_buffer_mut(), line);
        let cursor = {
            let mut frame = terminal.get_frame();
            ui::render_footer(&mut frame, &app.model, &app.view)
        };
        copy_line(terminal.current_buffer_mut(), line, &mut self.after);
        terminal
            .backend_mut()
            .draw(self.before.diff_iter(&self.after))
            .map_err(anyhow::Error::from)
            .context("drawing the console failed")?;
        // As ratatui places the cursor after a frame's diff.
        match cursor {
            None => terminal.hide_cursor(),
            Some(at) => terminal
                .show_cursor()
                .and_then(|()| terminal.set_cursor_position(at)),
        }
        .map_err(anyhow::Error::from)
        .context("drawing the console failed")?;
        terminal
            .backend_mut()
            .flush()
            .map_err(anyhow::Error::from)
            .context("drawing the console failed")?;
        Ok(Some(Drawn::Footer))
    }
}

/// Resets every cell of `line` in `buf`.
fn clear_line(buf: &mut Buffer, line: Rect) {
    let start = buf.index_of(line.x, line.y);
    let end = start.saturating_add(usize::from(line.width));
    if let Some(cells) = buf.content.get_mut(start..end) {
        cells.iter_mut().for_each(Cell::reset);
    }
}

/// Copies `line` of `from` into `to` (made that line's buffer).
fn copy_line(from: &Buffer, line: Rect, to: &mut Buffer) {
    if to.area != line {
        *to = Buffer::empty(line);
    }
    let start = from.index_of(line.x, line.y);
    let end = start.saturating_add(usize::from(line.width));
    if let Some(cells) = from.content.get(start..end) {
        to.content.clone_from_slice(cells);
    }
}

#[cfg(test)]
pub(super) mod tests;
