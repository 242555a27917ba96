//! The console's screen: [`keymap::action`] and [`ViewState::apply`] turn key presses into
//! view changes; rendering follows.
//!
//! Layout, top to bottom: the header (connection and counts), the tab bar
//! (`1 Hosts 2 Actors 3 Providers 4 Links 5 Events`), the body (the active tab's table and the
//! detail pane of its selected row, on the right from 120 columns, below otherwise), and the
//! footer (key hints and active filters). `?` lays the help overlay on top.
//!
//! Pure: reads only `&Lattice` (plus `lattice::protocol` types), writes only the frame and the
//! view state. No I/O, no async, no clock (`now` is passed in), no environment (the App
//! passes `no_color` to [`ViewState::new`]). Only the visible rows are formatted, so a frame
//! costs the same for 100 or 10,000 rows.

pub mod format;
pub mod keymap;
pub mod rows;
pub mod theme;
pub mod view_state;

pub use keymap::{Action, Mode, action};
pub use rows::{RowKey, Rows};
pub use theme::Theme;
pub use view_state::{Outcome, Tab, ViewState};
