//! Loom model of the IO-buffer header's salt (invariant I9, `src/log/header.rs`),
//! run on the real `Ring` (`src/log/iobuf.rs`) by `scripts/loom.sh`.
//!
//! A claim reads the current generation, its header word, then the buffer's base lsn
//! and file offset, and commits with one CAS on the header word. If the thread stalls
//! between the reads and the CAS while the ring moves on and the same buffer is
//! installed again, the CAS must fail: the reused generation has a new salt, so the
//! stale word cannot match even when offset, writers and sealed bits do. Otherwise the
//! claim would take space in the new generation at the old generation's lsn.
//!
//! The main thread runs three claim-fill-release-flush cycles on a ring of two
//! 128-byte buffers, so buffer 0 is installed a second time (generation 2). Its third
//! claim is 40 bytes, the segment header's length, so generation 2's word after it has
//! exactly the offset generation 0's word had when fresh. A second thread makes one
//! claim at any moment. The buffers are written into an in-memory image by whichever
//! thread gets the write job. Checks: claims never overlap, every claim's file offset
//! matches its lsn, and every claim's bytes are in the image at that offset.
//!
//! Mutation tried: `Header::reused` keeping the old salt. Loom finds the interleaving
//! (the second thread stalls after reading generation 0; the main thread runs to its
//! third release; the stale CAS succeeds) and the overlap check fails.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use pagelog::internals::format::{Lsn, Nonce, RunNonces, SEGMENT_HEADER_LEN};
use pagelog::internals::iobuf::{Claim, First, Placement, Ring, WriteJob};
use std::sync::Mutex;

const BUF: usize = 128;
const SEGMENT: u64 = 1024;

/// One segment, file offsets equal to lsns.
struct Flat;

impl Placement for Flat {
    fn start_segment(&self, segment_lsn: Lsn) -> (u64, Lsn) {
        (segment_lsn, 0)
    }
}

/// The ring and the file image its write jobs go to.
struct Rig {
    ring: Ring,
    image: Mutex<Vec<u8>>,
}

impl Rig {
    fn new() -> Rig {
        let first = First {
            base: 0,
            file_offset: 0,
            header: Some([0x5E; SEGMENT_HEADER_LEN]),
        };
        Rig {
            ring: Ring::new(
                2,
                BUF,
                SEGMENT,
                first,
                RunNonces {
                    own: Nonce(1),
                    resumed: None,
                },
            ),
            image: Mutex::new(vec![0; SEGMENT as usize]),
        }
    }

    fn write_out(&self, jobs: Vec<WriteJob>) {
        for job in jobs {
            let bytes = self.ring.job_bytes(&job);
            let at = job.file_offset as usize;
            self.image.lock().expect("image lock")[at..at + bytes.len()].copy_from_slice(bytes);
            self.ring.finish(&job);
        }
    }

    /// Claims `len` bytes (waiting for space), fills them with `tag` and releases.
    fn claim(&self, len: usize, tag: u8) -> Claim {
        let mut jobs = Vec::new();
        let claim = loop {
            if let Some(c) = self.ring.try_claim(len, &Flat, &mut jobs) {
                break c;
            }
            self.write_out(std::mem::take(&mut jobs));
            self.ring.wait_for_space();
        };
        self.ring.fill(&claim, 0, &vec![tag; len]);
        self.ring.release(&claim, &mut jobs);
        self.write_out(jobs);
        claim
    }

    fn flush(&self) {
        let mut jobs = Vec::new();
        self.ring.seal_for_flush(None, &Flat, &mut jobs);
        self.write_out(jobs);
    }
}

#[test]
fn a_stale_claim_never_lands_in_a_reused_buffer() {
    loom::model(|| {
        let rig = Arc::new(Rig::new());
        let stale = {
            let rig = Arc::clone(&rig);
            thread::spawn(move || rig.claim(30, 0xEE))
        };
        let mut claims = Vec::new();
        for (len, tag) in [(40, 0xA0), (40, 0xA1), (SEGMENT_HEADER_LEN, 0xA2)] {
            claims.push((rig.claim(len, tag), tag));
            rig.flush();
        }
        claims.push((stale.join().expect("stale claimer panicked"), 0xEE));
        rig.flush();
        rig.flush();

        claims.sort_by_key(|(c, _)| c.lsn);
        for pair in claims.windows(2) {
            let (a, b) = (&pair[0].0, &pair[1].0);
            assert!(a.lsn + a.len as u64 <= b.lsn, "claims overlap: {a:?} {b:?}");
        }
        let image = rig.image.lock().expect("image lock");
        for (c, tag) in &claims {
            assert_eq!(c.file_offset, c.lsn, "claim placed off its lsn: {c:?}");
            let at = c.file_offset as usize;
            assert!(
                image[at..at + c.len].iter().all(|b| b == tag),
                "claim {c:?} not in the image"
            );
        }
    });
}
