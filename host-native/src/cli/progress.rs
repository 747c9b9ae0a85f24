//! The progress bar of `quiver scan`: bytes fetched of those planned, and row
//! groups read, summed over every scan of the command as the engine reports
//! them. Drawn on stderr only when it is a terminal, only once the scan has
//! taken more than a moment, and cleared before anything else is printed
//! there (`--stats`, an error).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use quiver_host::pool::ProgressWatch;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long a scan runs before its bar appears.
const SHOW_AFTER: Duration = Duration::from_millis(500);

/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(100);

/// A scan's progress bar while it is shown (see the module documentation).
pub struct ProgressDisplay {
    bar: ProgressBar,
    ticker: Option<JoinHandle<()>>,
    /// Set once the bar is cleared; the ticker draws only while holding it
    /// unset, so that nothing is drawn after the clear.
    stopped: Arc<Mutex<bool>>,
}

impl ProgressDisplay {
    /// Starts following `scans`, the scans of one command with the bytes
    /// each reads at most (for those that have not reported yet): drawn
    /// unless `quiet` or stderr is not a terminal.
    pub fn start(scans: Vec<(ProgressWatch, u64)>, quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        let stopped = Arc::new(Mutex::new(false));
        if quiet || !std::io::stderr().is_terminal() {
            return Self {
                bar,
                ticker: None,
                stopped,
            };
        }
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30.cyan/blue} {percent:>3}% {bytes}/{total_bytes} · {msg} · {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let (shown, halt) = (bar.clone(), Arc::clone(&stopped));
        let ticker = tokio::spawn(async move {
            tokio::time::sleep(SHOW_AFTER).await;
            let mut tick = tokio::time::interval(TICK);
            loop {
                tick.tick().await;
                let stopped = halt.lock().unwrap_or_else(|e| e.into_inner());
                if *stopped {
                    return;
                }
                if shown.is_hidden() {
                    shown.set_draw_target(ProgressDrawTarget::stderr());
                }
                draw(&shown, &scans);
            }
        });
        Self {
            bar,
            ticker: Some(ticker),
            stopped,
        }
    }
}

impl Drop for ProgressDisplay {
    /// Stops drawing and clears the bar, on every path out of the scan.
    fn drop(&mut self) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        self.bar.finish_and_clear();
    }
}

/// Sums the scans' latest progress into the bar.
fn draw(bar: &ProgressBar, scans: &[(ProgressWatch, u64)]) {
    let (mut fetched, mut planned, mut done, mut total) = (0, 0, 0, 0);
    for (watch, at_most) in scans {
        match *watch.borrow() {
            Some(progress) => {
                fetched += progress.bytes_fetched;
                planned += progress.bytes_planned;
                done += progress.row_groups_done;
                total += progress.row_groups_total;
            }
            None => planned += at_most,
        }
    }
    bar.set_length(planned.max(1));
    bar.set_position(fetched);
    bar.set_message(format!("row groups {done}/{total}"));
}
