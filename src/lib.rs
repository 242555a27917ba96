//! lattice-tui
