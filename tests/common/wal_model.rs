//! A reference model of the log for crash tests: what was completed, aborted,
//! acknowledged stable and batched, checked against what a reopened log recovers.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use pagelog::{Kind, Log, Lsn, SegmentMode};

/// One completed message.
pub type Entry = (Kind, u64, Vec<u8>);

/// What the log was told and what it acknowledged.
#[derive(Debug, Default)]
pub struct Model {
    /// Completed messages by lsn (including ones whose completion hit an IO error:
    /// their bytes were in the log's hands).
    pub completed: BTreeMap<Lsn, Entry>,
    /// Aborted reservations.
    pub aborted: BTreeSet<Lsn>,
    /// Every completed message below this lsn was acknowledged durable.
    pub acked: Lsn,
    /// Batches: manifest lsn and member lsns.
    pub batches: Vec<(Lsn, Vec<Lsn>)>,
    /// Set when the file was cut below what was acknowledged (the next check does not
    /// require acknowledged messages).
    pub lost_acked: bool,
}

/// The live messages of each page: from its newest non-Append message on.
fn live(entries: &[(Lsn, Entry)]) -> BTreeMap<u64, Vec<(Lsn, Entry)>> {
    let mut pages: BTreeMap<u64, Vec<(Lsn, Entry)>> = BTreeMap::new();
    for (lsn, e) in entries {
        let page = pages.entry(e.1).or_default();
        if e.0 != Kind::Append {
            page.clear();
        }
        page.push((*lsn, e.clone()));
    }
    pages
}

impl Model {
    /// Records the outcome of a flush that returned `target`.
    pub fn ack(&mut self, target: Lsn) {
        self.acked = self.acked.max(target);
    }

    /// Checks what `log` recovered against the model (I1, I2, I5), then makes the
    /// recovered state the model's new baseline.
    pub fn check(&mut self, log: &Log, mode: SegmentMode) -> Result<(), String> {
        let tip = log.recovery().tip;
        let mut got: Vec<(Lsn, Entry)> = Vec::new();
        for m in log.iter_from(0).map_err(|e| format!("iter: {e}"))? {
            let m = m.map_err(|e| format!("iteration error: {e}"))?;
            got.push((m.lsn, (m.kind, m.pid, m.value)));
        }
        let want: Vec<(Lsn, Entry)> = self
            .completed
            .range(..tip)
            .map(|(l, e)| (*l, e.clone()))
            .collect();
        self.check_content(&got, &want, mode)?;
        if let Some(l) = got
            .iter()
            .map(|(l, _)| *l)
            .find(|l| self.aborted.contains(l))
        {
            return Err(format!("aborted message at {l} came back"));
        }
        let lost = self.completed.range(..self.acked).find(|(l, _)| **l >= tip);
        if let (Some((l, _)), false) = (lost, self.lost_acked) {
            return Err(format!(
                "message {l} was acknowledged stable (acked below {}) but recovery stopped at {tip}",
                self.acked
            ));
        }
        for (m, members) in &self.batches {
            let split = *m < tip && members.iter().any(|l| *l >= tip);
            if split {
                return Err(format!("batch at {m} recovered in part (tip {tip})"));
            }
        }
        *self = Model {
            completed: want.into_iter().collect(),
            ..Model::default()
        };
        Ok(())
    }

    fn check_content(
        &self,
        got: &[(Lsn, Entry)],
        want: &[(Lsn, Entry)],
        mode: SegmentMode,
    ) -> Result<(), String> {
        let same = match mode {
            SegmentMode::Linear => got == want,
            SegmentMode::Gc => {
                let known = got.iter().all(|(l, e)| self.completed.get(l) == Some(e));
                known && live(got) == live(want)
            }
        };
        if same {
            return Ok(());
        }
        let first = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        Err(format!(
            "recovered {} messages, expected {}; first difference at index {first}: got {:?} want {:?}",
            got.len(),
            want.len(),
            got.get(first).map(|(l, e)| (l, e.0, e.1, e.2.len())),
            want.get(first).map(|(l, e)| (l, e.0, e.1, e.2.len())),
        ))
    }
}
