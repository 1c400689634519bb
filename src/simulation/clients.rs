//! One incarnation of the log: the scheduler steps logical clients through the
//! engine's non-blocking calls until the plan asks for a crash or a reopen, an IO
//! error poisons the log, or the plan ends.

use crate::error::Error;
use crate::log::{Batch, Kind, Log, Lsn, Reservation};

use super::oracle::{Entry, Invariant, Model, Violation};
use super::plan::Step;
use super::state::{Aborted, State};

/// Why an incarnation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The plan ran out.
    Done,
    /// A power cut between steps.
    Crash,
    /// `crash_after` ran out inside an operation.
    CrashInside,
    /// The plan asked for a clean reopen.
    Reopen,
    /// A clean close was asked for (`Step::Close`).
    Close,
    /// An IO error poisoned the log (and the poison was verified).
    Poisoned,
    /// An operation reported corruption after a durable-corruption fault.
    Corrupted,
    /// A check failed.
    Violation(Violation),
}

struct Held<'a> {
    r: Reservation<'a>,
    entry: Entry,
}

struct OpenBatch<'a> {
    b: Batch<'a>,
    manifest: Lsn,
    members: Vec<Lsn>,
}

#[derive(Default)]
struct Client<'a> {
    held: Option<Held<'a>>,
    batch: Option<OpenBatch<'a>>,
    last: Option<Lsn>,
}

/// Runs `plan[*at..]` on `log` until the incarnation ends. On a crash the power is cut
/// (`state.disk` becomes the rebooted disk) before open reservations are dropped, so
/// their aborts reach a dead disk.
pub fn incarnation(log: &Log, state: &mut State<'_>, plan: &[Step], at: &mut usize) -> End {
    let mut inc = Incarnation {
        log,
        clients: (0..state.scenario.clients)
            .map(|_| Client::default())
            .collect(),
        armed: false,
    };
    let end = inc.run(state, plan, at);
    if matches!(end, End::Crash | End::CrashInside | End::Done) {
        state.disk = state.disk.crash();
    }
    inc.close(state);
    end
}

struct Incarnation<'a> {
    log: &'a Log,
    clients: Vec<Client<'a>>,
    armed: bool,
}

type StepResult = Result<(), Violation>;

impl<'a> Incarnation<'a> {
    fn run(&mut self, state: &mut State<'_>, plan: &[Step], at: &mut usize) -> End {
        while let Some(&step) = plan.get(*at) {
            *at += 1;
            state.counts.steps += 1;
            if state.durable_damage() {
                state.model.lost_acked = true;
            }
            state.disk.set_write_tag(state.model.acked);
            let result = match step {
                Step::Crash => return End::Crash,
                Step::Reopen => return End::Reopen,
                Step::Close => return End::Close,
                Step::CrashInside { calls } => {
                    state.disk.crash_after(u64::from(calls));
                    self.armed = true;
                    Ok(())
                }
                other => self.step(state, other),
            };
            let flag = flags(state);
            let code = [*at as u64, u64::from(state.poisoned), state.model.acked];
            let last = std::mem::take(&mut state.last);
            state
                .tracer
                .event(|| format!("{:>5} {step:<14} {last}{flag}", *at - 1), &code);
            if let Err(v) = result {
                return End::Violation(v);
            }
            if let Some(end) = self.after_step(state) {
                return end;
            }
        }
        End::Done
    }

    fn after_step(&self, state: &mut State<'_>) -> Option<End> {
        if self.armed && state.disk.is_crashed() {
            return Some(End::CrashInside);
        }
        if state.corrupted {
            return Some(End::Corrupted);
        }
        if !state.poisoned {
            return None;
        }
        if self.armed && state.disk.is_crashed() {
            return Some(End::CrashInside);
        }
        match self.log.try_flush() {
            Err(Error::Poisoned { .. }) => Some(End::Poisoned),
            other => Some(End::Violation(Violation::new(
                Invariant::Poison,
                format!("an operation failed with an IO error, yet try_flush gives {other:?}"),
            ))),
        }
    }

    /// Drops what the clients hold: open reservations abort, open batches seal.
    fn close(&mut self, state: &mut State<'_>) {
        for c in self.clients.drain(..) {
            if let Some(h) = c.held {
                state.model.aborted.insert(h.r.lsn());
            }
            if let Some(ob) = c.batch {
                state.model.batches.push((ob.manifest, ob.members));
            }
        }
    }

    /// Runs `step` as its logical client: the log refuses a call that would wait for
    /// that client's own open reservation (`log/held.rs`), not for another's. Steps
    /// of no client (flush, read, truncate, scan) act as an outsider holding nothing.
    fn step(&mut self, state: &mut State<'_>, step: Step) -> StepResult {
        let n = self.clients.len() as u64;
        let actor = match step {
            Step::Write { client, .. }
            | Step::Reserve { client, .. }
            | Step::Complete { client }
            | Step::Abort { client }
            | Step::MakeStable { client }
            | Step::BatchOpen { client }
            | Step::BatchAdd { client, .. }
            | Step::BatchSeal { client } => u64::from(client) % n + 1,
            _ => u64::MAX,
        };
        let before = crate::log::held::act_as(actor);
        let result = self.dispatch(state, step);
        crate::log::held::act_as(before);
        result
    }

    fn dispatch(&mut self, state: &mut State<'_>, step: Step) -> StepResult {
        match step {
            Step::Write {
                client,
                pid,
                len,
                replace,
            } => self.write(state, client, pid, len, replace),
            Step::Reserve { client, pid, len } => self.reserve(state, client, pid, len),
            Step::Complete { client } => self.complete(state, client),
            Step::Abort { client } => self.abort(state, client),
            Step::Flush { .. } => self.flush(state),
            Step::MakeStable { client } => self.make_stable(state, client),
            Step::BatchOpen { client } => self.batch_open(state, client),
            Step::BatchAdd { client, len } => self.batch_add(state, client, len),
            Step::BatchSeal { client } => self.batch_seal(state, client),
            Step::Read { pick } => self.read(state, pick),
            Step::Truncate { pick } => self.truncate(state, pick),
            Step::Scan => self.scan(state),
            Step::Crash | Step::CrashInside { .. } | Step::Reopen | Step::Close => Ok(()),
        }
    }

    fn client(&mut self, c: u8) -> &mut Client<'a> {
        let n = self.clients.len();
        &mut self.clients[usize::from(c) % n]
    }

    fn write(
        &mut self,
        state: &mut State<'_>,
        c: u8,
        pid: u8,
        len: u16,
        replace: bool,
    ) -> StepResult {
        let kind = if replace { Kind::Replace } else { Kind::Append };
        let v = state.value(len);
        let Some(r) = outcome(state, self.log.try_reserve(kind, pid.into(), &v))? else {
            return Ok(());
        };
        state.model.reserved(r.lsn())?;
        let lsn = r.lsn();
        note(state, lsn);
        finish(state, r, (kind, pid.into(), v))?;
        self.client(c).last = Some(lsn);
        Ok(())
    }

    fn reserve(&mut self, state: &mut State<'_>, c: u8, pid: u8, len: u16) -> StepResult {
        if self.client(c).held.is_some() {
            return Ok(());
        }
        let v = state.value(len);
        let Some(r) = outcome(state, self.log.try_reserve(Kind::Append, pid.into(), &v))? else {
            return Ok(());
        };
        state.model.reserved(r.lsn())?;
        note(state, r.lsn());
        self.client(c).held = Some(Held {
            r,
            entry: (Kind::Append, pid.into(), v),
        });
        Ok(())
    }

    fn complete(&mut self, state: &mut State<'_>, c: u8) -> StepResult {
        let Some(h) = self.client(c).held.take() else {
            return Ok(());
        };
        let lsn = h.r.lsn();
        finish(state, h.r, h.entry)?;
        self.client(c).last = Some(lsn);
        Ok(())
    }

    fn abort(&mut self, state: &mut State<'_>, c: u8) -> StepResult {
        let Some(h) = self.client(c).held.take() else {
            return Ok(());
        };
        state.model.aborted.insert(h.r.lsn());
        if h.entry.2.len() <= state.scenario.config.blob_threshold_bytes {
            state.aborted.push(Aborted {
                ptr: h.r.pointer(),
                entry: h.entry,
            });
        }
        state.counts.aborted += 1;
        outcome(state, h.r.abort())?;
        Ok(())
    }

    fn flush(&mut self, state: &mut State<'_>) -> StepResult {
        if let Some(target) = outcome(state, self.log.try_flush())? {
            state.model.ack(target);
            state.counts.acks += 1;
        }
        Ok(())
    }

    fn make_stable(&mut self, state: &mut State<'_>, c: u8) -> StepResult {
        let Some(lsn) = self.client(c).last else {
            return Ok(());
        };
        if outcome(state, self.log.try_make_stable(lsn))?.is_some() {
            state.model.ack(lsn + 1);
            state.counts.acks += 1;
        }
        Ok(())
    }

    fn batch_open(&mut self, state: &mut State<'_>, c: u8) -> StepResult {
        if self.client(c).batch.is_some() {
            return Ok(());
        }
        let Some(b) = outcome(state, self.log.try_pin_batch())? else {
            return Ok(());
        };
        state.model.reserved(b.lsn())?;
        note(state, b.lsn());
        let manifest = b.lsn();
        self.client(c).batch = Some(OpenBatch {
            b,
            manifest,
            members: Vec::new(),
        });
        Ok(())
    }

    fn batch_add(&mut self, state: &mut State<'_>, c: u8, len: u16) -> StepResult {
        let v = state.value(len);
        let Some(ob) = self.client(c).batch.as_mut() else {
            return Ok(());
        };
        if ob.members.len() >= 4 {
            return Ok(());
        }
        let pid = 200 + ob.members.len() as u64;
        let r = ob.b.try_reserve(Kind::Append, pid, &v);
        let Some(r) = outcome(state, r)? else {
            return Ok(());
        };
        state.model.reserved(r.lsn())?;
        note(state, r.lsn());
        let ob = self.client(c).batch.as_mut().expect("still open");
        ob.members.push(r.lsn());
        finish(state, r, (Kind::Append, pid, v))
    }

    fn batch_seal(&mut self, state: &mut State<'_>, c: u8) -> StepResult {
        let Some(ob) = self.client(c).batch.take() else {
            return Ok(());
        };
        state.model.batches.push((ob.manifest, ob.members));
        state.counts.batches += 1;
        outcome(state, ob.b.seal())?;
        Ok(())
    }

    fn read(&mut self, state: &mut State<'_>, pick: u16) -> StepResult {
        let stable = self.log.stable_lsn();
        let gc = state.scenario.config.segment_mode == crate::config::SegmentMode::Gc;
        let live = if gc {
            state.model.live_lsns()
        } else {
            Default::default()
        };
        let readable: Vec<_> = state
            .pointers
            .range(state.model.start.min(stable)..stable)
            .filter(|(l, _)| !gc || live.contains(l))
            .map(|(_, p)| *p)
            .collect();
        if readable.is_empty() {
            return Ok(());
        }
        let ptr = readable[usize::from(pick) % readable.len()];
        let read = self.log.read(ptr);
        if matches!(read, Err(Error::InvalidArgument(_)))
            && state.model.explains_refused_read(ptr.lsn)
        {
            // A pending truncation took effect (its record became durable).
            return Ok(());
        }
        let Some(m) = outcome(state, read)? else {
            return Ok(());
        };
        state.counts.reads += 1;
        let want = state.model.completed.get(&ptr.lsn);
        if want != Some(&(m.kind, m.pid, m.value.clone())) {
            return Err(Violation::new(
                Invariant::Read,
                format!(
                    "read of lsn {} returned {:?} pid {} {} B, not what was written",
                    ptr.lsn,
                    m.kind,
                    m.pid,
                    m.value.len()
                ),
            ));
        }
        Ok(())
    }

    fn scan(&mut self, state: &mut State<'_>) -> StepResult {
        let stable = self.log.stable_lsn();
        let got = match Model::read_all(self.log) {
            Ok(got) => got,
            Err(e) => {
                outcome::<()>(state, Err(e))?;
                return Ok(());
            }
        };
        state.counts.scans += 1;
        state.model.resolve_truncation(&got, stable);
        let mode = state.scenario.config.segment_mode;
        state
            .model
            .check_view(&got, stable, mode)
            .map_err(|v| Violation::new(Invariant::Read, format!("iteration: {v}")))
    }
}

impl Incarnation<'_> {
    /// `Step::Truncate`: truncate before a completed message's lsn. Ok means the
    /// Truncate record is durable; WouldBlock or an IO error leaves the truncation
    /// pending (it may take effect at a later flush, or never). A Gc log refuses.
    fn truncate(&mut self, state: &mut State<'_>, pick: u16) -> StepResult {
        let lsns: Vec<Lsn> = state.model.completed.keys().copied().collect();
        if lsns.is_empty() {
            return Ok(());
        }
        let lsn = lsns[usize::from(pick) % lsns.len()];
        let gc = state.scenario.config.segment_mode == crate::config::SegmentMode::Gc;
        let result = self.log.try_truncate_before(lsn);
        match result {
            Err(Error::InvalidArgument(_)) if gc => return Ok(()),
            Ok(()) if !gc => state.model.truncated(lsn),
            Err(Error::WouldBlock | Error::Io { .. } | Error::Poisoned { .. }) => {
                state.model.truncation_pending(lsn);
            }
            _ => {}
        }
        state.counts.truncations += u64::from(result.is_ok());
        outcome(state, result).map(|_| ())
    }
}

/// Completes `r` holding `entry`: the model counts it completed whatever the result
/// (its bytes were in the log's hands).
fn finish(state: &mut State<'_>, r: Reservation<'_>, entry: Entry) -> StepResult {
    let lsn = r.lsn();
    let ptr = r.pointer();
    let result = r.complete();
    state.model.complete(lsn, entry);
    state.counts.completed += 1;
    if outcome(state, result)?.is_some() {
        state.pointers.insert(lsn, ptr);
    }
    Ok(())
}

/// Sorts an engine result: Ok and WouldBlock go on; an IO error (or the poison it
/// left) marks the log poisoned; Corruption after durable damage ends the
/// incarnation; anything else is a violation.
fn outcome<T>(state: &mut State<'_>, r: crate::Result<T>) -> Result<Option<T>, Violation> {
    if state.tracer.verbose() {
        let what = match &r {
            Ok(_) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        state.last.push_str(&format!("{what}; "));
    }
    match r {
        Ok(v) => {
            state.counts.ops_ok += 1;
            Ok(Some(v))
        }
        // Another logical client on this thread holds the reservation the call
        // would wait for (`held.rs`): for this client, the call would block.
        Err(Error::WouldBlock | Error::WouldDeadlock { .. }) => {
            state.counts.would_block += 1;
            Ok(None)
        }
        Err(Error::Io { .. } | Error::Poisoned { .. }) => {
            state.poisoned = true;
            Ok(None)
        }
        Err(e) if e.is_corruption() && state.durable_damage() => {
            state.corrupted = true;
            Ok(None)
        }
        Err(e) => Err(Violation::new(
            Invariant::Error,
            format!("unexpected error: {e}"),
        )),
    }
}

/// Notes an lsn in the verbose trace.
fn note(state: &mut State<'_>, lsn: Lsn) {
    if state.tracer.verbose() {
        state.last.push_str(&format!("lsn {lsn}; "));
    }
}

fn flags(state: &State<'_>) -> &'static str {
    match (state.poisoned, state.disk.is_crashed()) {
        (_, true) => " [power cut]",
        (true, false) => " [poisoned]",
        _ => "",
    }
}
