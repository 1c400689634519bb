//! Reading a page back from the log: each fragment by its disk pointer, checked, then
//! decoded and merged. The log checks each message's checksum and position; here the
//! message must also be the fragment the page table expects (same lsn, same page id,
//! a base where a base is expected). Any mismatch, and bytes the Materializer cannot
//! decode, are `Error::Corruption` naming the page and the file offset: never a
//! panic, never another page's data.
//!
//! A reader may hold a page state that an update has since replaced, and in Gc mode
//! the log may reclaim the segments of the fragments that update superseded: reading
//! them then fails (the log refuses the pointer, or the checks here find another
//! message: lsns are never reused, so a stale pointer cannot match). The caller
//! retries with the page's new state and reports the error only when the state it
//! read is still current (`PageCache::get`).

use super::materializer::Materializer;
use super::page_ref::PageId;
use super::view::Frag;
use crate::error::{Error, Result};
use crate::log::{Kind, LOG_FILE, Log};

/// The merged value of page `pid` from its fragments `frags` (base first).
pub fn materialize<M: Materializer>(
    log: &Log,
    m: &M,
    pid: PageId,
    frags: &[Frag],
) -> Result<M::Page> {
    let (first, deltas) = frags
        .split_first()
        .ok_or_else(|| Error::InvalidArgument(format!("page {pid} is free")))?;
    let mut page = fragment(log, m, pid, first)?;
    for frag in deltas {
        let delta = fragment(log, m, pid, frag)?;
        m.merge(&mut page, &delta);
    }
    Ok(page)
}

/// One fragment of page `pid`, read and checked.
fn fragment<M: Materializer>(log: &Log, m: &M, pid: PageId, frag: &Frag) -> Result<M::Page> {
    let at = frag.ptr.file_offset;
    let wrong = |what: String| {
        Error::corruption(
            LOG_FILE,
            at,
            format!("page {pid}, fragment at lsn {}: {what}", frag.ptr.lsn),
        )
    };
    let msg = match log.read(frag.ptr) {
        Ok(msg) => msg,
        // The log refuses a pointer it does not hold (its segment was reclaimed, or
        // never held it): for the page's current state that is damage to the page.
        Err(Error::InvalidArgument(why)) => return Err(wrong(why)),
        // Damage the log found (a checksum, a header): name the page too.
        Err(Error::Corruption { at, reason }) => {
            let reason = format!("page {pid}, fragment at lsn {}: {reason}", frag.ptr.lsn);
            return Err(Error::Corruption { at, reason });
        }
        Err(e) => return Err(e),
    };
    let want = if frag.base {
        Kind::Replace
    } else {
        Kind::Append
    };
    if msg.lsn() != frag.ptr.lsn || msg.pid != pid || msg.kind != want {
        return Err(wrong(format!(
            "the log holds a {:?} of page {} at lsn {} there, not a {want:?} of page {pid} at lsn {}",
            msg.kind,
            msg.pid,
            msg.lsn(),
            frag.ptr.lsn
        )));
    }
    m.decode(&msg.value).ok_or_else(|| {
        wrong(format!(
            "{} bytes the page type cannot decode",
            msg.value.len()
        ))
    })
}
