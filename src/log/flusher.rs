//! The optional periodic flusher (`Config::flush_every_ms`): one thread that calls
//! `try_flush` every period, so completed messages become durable without an explicit
//! flush. Off by default and never used in simulation (the engine spawns no thread
//! unless asked). Stopped and joined when the log is dropped.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use super::handle::Inner;
use crate::sync::Arc;

/// A running flusher thread.
pub struct Flusher {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl Flusher {
    /// Starts flushing `inner` every `period_ms` milliseconds.
    pub(crate) fn start(inner: Arc<Inner>, period_ms: u64) -> Flusher {
        let (stop, stopped) = mpsc::channel::<()>();
        let period = Duration::from_millis(period_ms);
        let thread = std::thread::Builder::new()
            .name("pagelog-flusher".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    if inner.try_flush_quiet() {
                        return;
                    }
                }
            })
            .expect("spawn the flusher thread");
        Flusher { stop, thread }
    }

    /// Stops the thread and waits for it.
    pub fn stop(self) {
        drop(self.stop);
        // A panic in the flusher is a broken invariant; surface it here.
        self.thread.join().expect("flusher thread panicked");
    }
}
