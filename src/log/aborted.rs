//! Aborted messages as they were before their abort, kept only when the simulator
//! asks (its resurrecting liar forges them back onto the disk, to show the page
//! oracle catches a cancelled update that comes back). Off, the journal costs one
//! uncontended lock per abort; nothing outside `simulation` turns it on.

use super::format::StoredKind;
use super::handle::{Log, Pointer};
use crate::sync::Mutex;

/// An inline message as its reservation held it before the abort.
#[derive(Debug, Clone)]
#[cfg_attr(loom, allow(dead_code))] // the simulator is not built under loom
pub(crate) struct AbortedMessage {
    /// Where it was.
    pub(crate) ptr: Pointer,
    /// Its kind.
    pub(crate) kind: StoredKind,
    /// Its page.
    pub(crate) pid: u64,
    /// Its payload.
    pub(crate) payload: Vec<u8>,
}

/// The aborted messages kept since the last take; None while off.
pub(crate) struct AbortJournal(Mutex<Option<Vec<AbortedMessage>>>);

impl Default for AbortJournal {
    fn default() -> Self {
        AbortJournal(Mutex::new(None))
    }
}

impl AbortJournal {
    /// Keeps the message `what` makes, if the journal is on.
    pub(crate) fn record(&self, what: impl FnOnce() -> AbortedMessage) {
        if let Some(kept) = self.0.lock().as_mut() {
            kept.push(what());
        }
    }
}

#[cfg_attr(loom, allow(dead_code))]
impl Log {
    /// Starts keeping aborted inline messages (`take_aborted`).
    pub(crate) fn keep_aborted(&self) {
        let mut kept = self.inner.aborted.0.lock();
        if kept.is_none() {
            *kept = Some(Vec::new());
        }
    }

    /// The aborted inline messages kept since the last call.
    pub(crate) fn take_aborted(&self) -> Vec<AbortedMessage> {
        self.inner
            .aborted
            .0
            .lock()
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }
}
