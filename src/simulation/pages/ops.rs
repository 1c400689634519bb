//! The clients' operations. Each runs one page-cache call and brings the model along:
//! an applied update becomes a new model state, a lost race must show the page as
//! the model has it, a read must equal the model, and an update that failed with an
//! error becomes the model's "maybe" (it may be in the log).

use rand::RngExt;

use super::materializer::SimPage;
use super::model::PageState;
use super::plan::PageOp as Op;
use super::run::{End, Pc, Ref, Run};
use crate::error::{Error, Result};
use crate::pagecache::{BatchUpdate, PageBatch, PageId, Update};
use crate::simulation::oracle::{Invariant, Violation};

/// Root names the clients swap.
const ROOTS: [&str; 2] = ["left", "right"];

/// What a step asks of the incarnation: go on, or end it this way.
type Step = Result<Option<End>>;

/// A page's length as a message says it: "12 bytes", or "no page".
fn shown(len: Option<usize>) -> String {
    len.map_or_else(|| "no page".to_string(), |n| format!("{n} bytes"))
}

fn wrong(what: String) -> Step {
    Ok(Some(End::Violation(Violation::new(Invariant::Read, what))))
}

impl Run<'_> {
    /// Runs `op` for the client whose page references are `refs`.
    pub(super) fn op(&mut self, pc: &Pc, op: Op, refs: &mut Vec<Ref>) -> Step {
        match op {
            Op::Allocate => self.allocate(pc, refs),
            Op::Link | Op::Replace | Op::Free => self.update(pc, op, refs),
            Op::Get => self.get(pc, refs),
            Op::CasRoot => self.cas_root(pc),
            Op::GenerateId => self.generate_id(pc),
            Op::Batch => self.batch(pc, refs),
            Op::Flush => {
                pc.flush()?;
                self.model.ack();
                self.counts.acks += 1;
                Ok(None)
            }
            Op::Maintenance => pc.maintenance().map(|_| None),
            Op::Snapshot => pc.snapshot().map(|_| None),
            Op::Compact => pc.compact().map(|_| None),
            Op::Close => Ok(Some(End::Close)),
        }
    }

    fn bytes(&mut self, most: usize) -> Vec<u8> {
        let len = self.rng.random_range(1..=most);
        (0..len).map(|_| self.rng.random()).collect()
    }

    fn allocate(&mut self, pc: &Pc, refs: &mut Vec<Ref>) -> Step {
        let value = self.bytes(60);
        match pc.try_allocate(SimPage::new(value.clone())) {
            Ok(page) => {
                let pid = page.pid();
                if self.model.now().pages.contains_key(&pid) {
                    return wrong(format!("allocate gave page {pid}, which is live"));
                }
                self.model.apply(&[pid], move |s| {
                    s.pages.insert(pid, value.clone());
                });
                self.counts.applied += 1;
                self.seen.push(pid);
                refs.push(page);
                Ok(None)
            }
            Err(e) => {
                if matches!(e, Error::Io { .. }) {
                    self.model.failed_allocate(value);
                }
                Err(e)
            }
        }
    }

    /// A reference the client holds (maybe stale), or a fresh get of a live page.
    fn pick(&mut self, pc: &Pc, refs: &mut Vec<Ref>) -> Result<Option<Ref>> {
        if !refs.is_empty() && self.rng.random_bool(0.9) {
            return Ok(Some(refs[self.rng.random_range(0..refs.len())].clone()));
        }
        let live: Vec<PageId> = self.model.now().pages.keys().copied().collect();
        if live.is_empty() {
            return Ok(None);
        }
        let pid = live[self.rng.random_range(0..live.len())];
        let page = pc.get(pid)?;
        if let Some(p) = &page {
            refs.push(p.clone());
        }
        Ok(page)
    }

    fn update(&mut self, pc: &Pc, op: Op, refs: &mut Vec<Ref>) -> Step {
        let Some(old) = self.pick(pc, refs)? else {
            return Ok(None);
        };
        let pid = old.pid();
        let value = self.bytes(if op == Op::Link { 16 } else { 60 });
        let page = SimPage::new(value.clone());
        let change = move |s: &mut PageState| match op {
            Op::Free => {
                s.pages.remove(&pid);
            }
            Op::Link => s.pages.entry(pid).or_default().extend_from_slice(&value),
            _ => {
                s.pages.insert(pid, value.clone());
            }
        };
        let result = match op {
            Op::Link => pc.try_link(&old, page),
            Op::Replace => pc.try_replace(&old, page),
            _ => pc.try_free(&old).map(|u| match u {
                Update::Applied(_) => Update::Applied(None),
                Update::Lost { current, .. } => Update::Lost {
                    current,
                    rejected: SimPage::new(Vec::new()),
                },
            }),
        };
        refs.retain(|r| r.pid() != pid);
        match result {
            Ok(Update::Applied(now)) => {
                if !self.model.now().pages.contains_key(&pid) {
                    return wrong(format!("{op:?} applied to page {pid}, which is free"));
                }
                self.model.apply(&[pid], change);
                self.counts.applied += 1;
                refs.extend(now);
                Ok(None)
            }
            Ok(Update::Lost { current, .. }) => {
                self.counts.lost_races += 1;
                let seen = current.as_ref().map(|c| &c.value().bytes);
                if let Some(v) = self.compare(pid, seen, "a lost race") {
                    return Ok(Some(End::Violation(v)));
                }
                refs.extend(current);
                Ok(None)
            }
            Err(e) => {
                if matches!(e, Error::Io { .. }) {
                    self.model.failed(change);
                }
                Err(e)
            }
        }
    }

    /// `got` (a page as the engine showed it) must be the model's page `pid` now.
    fn compare(&mut self, pid: PageId, got: Option<&Vec<u8>>, what: &str) -> Option<Violation> {
        self.counts.reads += 1;
        let want = self.model.now().pages.get(&pid);
        (got != want).then(|| {
            Violation::new(
                Invariant::Read,
                format!(
                    "{what}: page {pid} read {}, the model has {}",
                    shown(got.map(Vec::len)),
                    shown(want.map(Vec::len))
                ),
            )
        })
    }

    fn get(&mut self, pc: &Pc, refs: &mut Vec<Ref>) -> Step {
        if self.seen.is_empty() {
            return Ok(None);
        }
        let pid = self.seen[self.rng.random_range(0..self.seen.len())];
        let page = pc.get(pid)?;
        let got = page.as_ref().map(|p| p.value().bytes.clone());
        let want = self.model.now().pages.get(&pid).cloned();
        self.counts.reads += 1;
        if got != want {
            return wrong(format!(
                "get of page {pid} read {}, the model has {}",
                shown(got.as_ref().map(Vec::len)),
                shown(want.as_ref().map(Vec::len))
            ));
        }
        refs.retain(|r| r.pid() != pid);
        refs.extend(page);
        Ok(None)
    }

    fn cas_root(&mut self, pc: &Pc) -> Step {
        let name = ROOTS[self.rng.random_range(0..ROOTS.len())];
        let current = self.model.now().roots.get(name).copied();
        let old = match self.rng.random_bool(0.8) {
            true => current,
            false => Some(self.rng.random_range(3..40)),
        };
        let new = match (self.rng.random_bool(0.8), self.seen.is_empty()) {
            (true, false) => Some(self.seen[self.rng.random_range(0..self.seen.len())]),
            _ => None,
        };
        let set = move |s: &mut PageState| match new {
            Some(pid) => {
                s.roots.insert(name.to_string(), pid);
            }
            None => {
                s.roots.remove(name);
            }
        };
        match pc.try_cas_root(name, old, new) {
            Ok(Ok(())) if old == current => {
                self.model.apply(&[], set);
                self.counts.applied += 1;
                Ok(None)
            }
            Ok(Err(actual)) if old != current && actual == current => {
                self.counts.lost_races += 1;
                Ok(None)
            }
            Ok(swap) => wrong(format!(
                "cas_root({name}, {old:?}, {new:?}) gave {swap:?}; the model has {current:?}"
            )),
            Err(e) => {
                if matches!(e, Error::Io { .. }) && old == current {
                    self.model.failed(set);
                }
                Err(e)
            }
        }
    }

    fn generate_id(&mut self, pc: &Pc) -> Step {
        let id = pc.try_generate_id()?;
        if self.model.max_id.is_some_and(|max| id <= max) {
            return Ok(Some(End::Violation(Violation::new(
                Invariant::I6,
                format!("generate_id gave {id}, not above {:?}", self.model.max_id),
            ))));
        }
        self.model.max_id = Some(id);
        Ok(None)
    }

    /// A link to one page and a replace of another, as one atomic batch.
    fn batch(&mut self, pc: &Pc, refs: &mut Vec<Ref>) -> Step {
        let Some(first) = self.pick(pc, refs)? else {
            return Ok(None);
        };
        let Some(second) = refs.iter().find(|r| r.pid() != first.pid()).cloned() else {
            return Ok(None);
        };
        let (a, b) = (first.pid(), second.pid());
        let (delta, value) = (self.bytes(16), self.bytes(60));
        let change = {
            let (delta, value) = (delta.clone(), value.clone());
            move |s: &mut PageState| {
                s.pages.entry(a).or_default().extend_from_slice(&delta);
                s.pages.insert(b, value.clone());
            }
        };
        let mut batch = PageBatch::new();
        batch.link(&first, SimPage::new(delta));
        batch.replace(&second, SimPage::new(value));
        match pc.try_apply(batch) {
            Ok(BatchUpdate::Applied(now)) => {
                let model = &self.model.now().pages;
                if !model.contains_key(&a) || !model.contains_key(&b) {
                    return wrong(format!("a batch applied to pages {a} and {b}, one free"));
                }
                self.model.apply(&[a, b], change);
                self.counts.applied += 1;
                refs.retain(|r| r.pid() != a && r.pid() != b);
                refs.extend(now.into_iter().flatten());
                Ok(None)
            }
            Ok(BatchUpdate::Lost { pid, current, .. }) => {
                self.counts.lost_races += 1;
                let seen = current.as_ref().map(|c| &c.value().bytes);
                Ok(self.compare(pid, seen, "a lost batch").map(End::Violation))
            }
            Err(e) => {
                if matches!(e, Error::Io { .. }) {
                    self.model.failed(change);
                }
                Err(e)
            }
        }
    }
}
