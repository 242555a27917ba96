//! A tmux server of its own per test with one pane running the real binary: send keys, read
//! the screen, wait for text. Integration tests use it with `mod common;` +
//! `use common::tmux::Pane;`.

use std::process::Command;
use std::time::{Duration, Instant};

use super::scaled;

/// A tmux server of its own (so tests never touch the user's sessions) with one pane.
pub struct Pane {
    socket: String,
}

impl Pane {
    pub fn start(command: &str) -> Pane {
        let socket = format!("lattice-tui-test-{}-{}", std::process::id(), rand_suffix());
        let pane = Pane { socket };
        // The shell prints the exit status after the console ends, on the normal screen.
        let script = format!("{command}; echo EXIT=$?; sleep 600");
        pane.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "140",
            "-y",
            "35",
            "sh",
            "-c",
            &script,
        ]);
        pane
    }

    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run tmux ({e}); install it with `apt-get install tmux`")
            });
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    pub fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", "-t", "t", keys]);
    }

    pub fn alternate_screen(&self) -> bool {
        self.tmux(&["display-message", "-p", "-t", "t", "#{alternate_on}"])
            .trim()
            == "1"
    }

    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + scaled(Duration::from_secs(15));
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}
