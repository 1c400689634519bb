//! The state of one simulated storage between crashes, and the per-call fault logic.
//!
//! Every storage call takes the world's lock once, so calls are atomic with respect to
//! each other, and runs here: count the call, check the crash countdown, draw the
//! runtime faults for its class, do the work, hash call and outcome into the trace.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::SimConfig;
use super::crash::{CrashReport, Resolver};
use super::inode::Inode;
use super::names::{DirOp, Directory};
use super::site::{FaultMask, FaultSite};
use super::stats::SimStats;
use super::trace::Trace;
use crate::error::{Error, IoOp, Result};
use crate::io::exact::{read_exact_with, write_all_with};
use crate::io::traits::OpenMode;

/// Whether the storage still serves calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Life {
    Running,
    /// `crash_after` ran out: every call fails until `crash()` resolves the image.
    Crashed,
    /// `crash()` replaced this storage; its handles are dead.
    Superseded,
}

/// A call's generator of fault draws, seeded from the storage's seed and the call's
/// key (its site's, or its number under a call-number mask) at the first draw: most
/// calls draw nothing (every rate of their kind is zero), and hashing the site and
/// making a ChaCha8 generator at every storage call was a tenth of a page seed's
/// time.
#[derive(Debug, Clone)]
pub(super) struct FaultRng {
    seed: u64,
    /// The call number, when draws are keyed by it.
    call: Option<u64>,
    rng: Option<ChaCha8Rng>,
}

impl FaultRng {
    fn new(seed: u64, call: Option<u64>) -> FaultRng {
        FaultRng {
            seed,
            call,
            rng: None,
        }
    }

    /// The generator of the call at `site`, made on first use.
    pub(super) fn get(&mut self, site: &FaultSite) -> &mut ChaCha8Rng {
        let (seed, call) = (self.seed, self.call);
        self.rng.get_or_insert_with(|| {
            let key = call.unwrap_or_else(|| site.key());
            ChaCha8Rng::seed_from_u64(seed ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        })
    }
}

/// One simulated storage's whole state.
#[derive(Debug)]
pub(super) struct World {
    pub(super) config: SimConfig,
    /// Draws of crash resolution.
    pub(super) rng: ChaCha8Rng,
    pub(super) seed: u64,
    /// Draws of runtime faults, reseeded from (seed, call number) at every call, so
    /// whether a fault fires at one call never depends on what happened at another.
    pub(super) fault_rng: FaultRng,
    pub(super) life: Life,
    pub(super) countdown: Option<u64>,
    pub(super) inodes: BTreeMap<u64, Inode>,
    pub(super) next_ino: u64,
    pub(super) dir: Directory,
    /// (inode, sector index) pairs whose reads fail until the sector is rewritten.
    pub(super) bad_sectors: BTreeSet<(u64, u64)>,
    pub(super) stats: SimStats,
    pub(super) trace: Trace,
    pub(super) last_crash: CrashReport,
    /// If set, runtime faults fire only at these calls (see
    /// [`super::SimStorage::set_fault_mask`] and `set_fault_sites`).
    pub(super) fault_mask: Option<FaultMask>,
    /// The calls at which a runtime fault fired, in order: number and site.
    pub(super) injected: Vec<(u64, FaultSite)>,
    /// Calls so far by (operation, file), for sites (`site.rs`).
    pub(super) site_counts: BTreeMap<&'static str, BTreeMap<String, u64>>,
    /// The site of the call running now.
    pub(super) site: FaultSite,
    /// Crashes so far (the n of a crash's site).
    pub(super) crashes: u64,
    /// See `SimStorage::set_extra_list`.
    pub(super) extra_list: bool,
    /// Nonces handed out so far, over every life of this disk.
    pub(super) nonces: u64,
    /// The tag recorded with each whole write (`SimStorage::set_write_tag`).
    pub(super) write_tag: u64,
    /// Byte ranges `(inode, start, end)` that durable-damage faults changed, over every
    /// life of this disk: bit flips, header damage, misdirected writes' landings and
    /// the places they missed.
    pub(super) damage: Vec<(u64, u64, u64)>,
}

fn eio(what: String) -> io::Error {
    io::Error::other(format!("EIO (simulated): {what}"))
}

impl World {
    pub(super) fn new(seed: u64, config: SimConfig) -> World {
        let mut trace = Trace::default();
        trace.u64(seed);
        World {
            config,
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            fault_rng: FaultRng::new(seed, None),
            life: Life::Running,
            countdown: None,
            inodes: BTreeMap::new(),
            next_ino: 1,
            dir: Directory::default(),
            bad_sectors: BTreeSet::new(),
            stats: SimStats::default(),
            trace,
            last_crash: CrashReport::default(),
            nonces: 0,
            fault_mask: None,
            injected: Vec::new(),
            site_counts: BTreeMap::new(),
            site: FaultSite {
                op: String::new(),
                file: String::new(),
                nth: 0,
            },
            crashes: 0,
            extra_list: false,
            write_tag: 0,
            damage: Vec::new(),
        }
    }

    /// Counts a call and fails it if the storage has crashed.
    pub(super) fn begin(&mut self, op: IoOp, path: &str) -> Result<()> {
        self.stats.calls += 1;
        self.next_site(op.name(), path);
        let call = match self.fault_mask {
            Some(FaultMask::Calls(_)) => Some(self.stats.calls),
            _ => None,
        };
        self.fault_rng = FaultRng::new(self.seed, call);
        self.trace.u64(op as u64);
        self.trace.str(path);
        if self.life == Life::Running && self.countdown == Some(0) {
            self.life = Life::Crashed;
        }
        if self.life != Life::Running {
            self.stats.crashed_calls += 1;
            let why = match self.life {
                Life::Superseded => "handle from before a crash",
                _ => "storage has crashed (crash_after ran out)",
            };
            return Err(Error::io(
                op,
                path,
                io::Error::other(format!("simulated power loss: {why}")),
            ));
        }
        if let Some(n) = self.countdown.as_mut() {
            *n -= 1;
        }
        Ok(())
    }

    /// Hashes a call's outcome into the trace.
    pub(super) fn finish<T>(&mut self, result: &Result<T>) {
        match result {
            Ok(_) => self.trace.u64(0),
            Err(e) => {
                self.trace.u64(1);
                self.trace.str(&e.to_string());
            }
        }
    }

    fn hit(&mut self, rate: f64) -> bool {
        let drawn = rate > 0.0 && self.fault_rng.get(&self.site).random_bool(rate);
        drawn && self.fire()
    }

    /// A fault was drawn for this call: whether the mask lets it fire (recorded if so).
    /// The draws around a masked fault still happen, so masking one fault leaves every
    /// other draw of the run where it was.
    fn fire(&mut self) -> bool {
        let allowed = self.allowed_now();
        if allowed {
            self.injected.push((self.stats.calls, self.site.clone()));
        }
        allowed
    }

    /// Whether this call's drawn faults may fire, without recording anything.
    fn allowed_now(&self) -> bool {
        match &self.fault_mask {
            None => true,
            Some(FaultMask::Calls(calls)) => calls.contains(&self.stats.calls),
            Some(FaultMask::Sites(sites)) => sites.contains(&self.site),
        }
    }

    /// Makes the current site that of a call of `op` on `file` now, counted. Reuses
    /// the site's buffers and looks the count up by reference: this runs at every
    /// storage call, and its allocations were a tenth of a page seed's time.
    fn next_site(&mut self, op: &'static str, file: &str) {
        let files = self.site_counts.entry(op).or_default();
        let n = match files.get_mut(file) {
            Some(n) => n,
            None => files.entry(file.to_string()).or_insert(0),
        };
        self.site.op.clear();
        self.site.op.push_str(op);
        self.site.file.clear();
        self.site.file.push_str(file);
        self.site.nth = *n;
        *n += 1;
    }

    fn inode(&self, ino: u64) -> &Inode {
        self.inodes.get(&ino).expect("handles point at live inodes")
    }

    fn inode_mut(&mut self, ino: u64) -> &mut Inode {
        self.inodes
            .get_mut(&ino)
            .expect("handles point at live inodes")
    }

    /// Bytes held by all named files, for the ENOSPC quota.
    fn used_bytes(&self) -> u64 {
        self.dir
            .current
            .values()
            .map(|ino| self.inode(*ino).len())
            .sum()
    }

    /// Fails with ENOSPC or FileTooLarge if file `ino` may not grow to `end` bytes.
    fn check_space(&mut self, ino: u64, end: u64, op: IoOp, name: &str) -> Result<()> {
        if end > self.config.max_file_bytes {
            let e = io::Error::new(io::ErrorKind::FileTooLarge, format!("{end} bytes"));
            return Err(Error::io(op, name, e));
        }
        let growth = end.saturating_sub(self.inode(ino).len());
        let quota = self.config.faults.enospc_quota_bytes;
        if quota.is_some_and(|q| self.used_bytes() + growth > q) {
            self.stats.enospc += 1;
            return Err(Error::io(
                op,
                name,
                io::Error::from(io::ErrorKind::StorageFull),
            ));
        }
        Ok(())
    }

    pub(super) fn open(&mut self, name: &str, mode: OpenMode) -> Result<u64> {
        let found = self.dir.lookup(name);
        let kind = match (found, mode) {
            (Some(ino), OpenMode::Existing | OpenMode::Create) => return Ok(ino),
            (Some(_), OpenMode::CreateNew) => io::ErrorKind::AlreadyExists,
            (None, OpenMode::Existing) => io::ErrorKind::NotFound,
            (None, OpenMode::Create | OpenMode::CreateNew) => {
                let ino = self.next_ino;
                self.next_ino += 1;
                self.inodes.insert(ino, Inode::default());
                self.dir.perform(DirOp::Create {
                    name: name.to_string(),
                    ino,
                });
                return Ok(ino);
            }
        };
        Err(Error::io(IoOp::Open, name, io::Error::from(kind)))
    }

    pub(super) fn remove(&mut self, name: &str) -> Result<()> {
        let Some(ino) = self.dir.lookup(name) else {
            return Err(Error::io(
                IoOp::Remove,
                name,
                io::Error::from(io::ErrorKind::NotFound),
            ));
        };
        self.dir.perform(DirOp::Remove {
            name: name.to_string(),
            ino,
        });
        Ok(())
    }

    pub(super) fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        let Some(ino) = self.dir.lookup(from) else {
            let e = io::Error::from(io::ErrorKind::NotFound);
            return Err(Error::io(IoOp::Rename, format!("{from} -> {to}"), e));
        };
        self.dir.perform(DirOp::Rename {
            from: from.to_string(),
            to: to.to_string(),
            ino,
        });
        Ok(())
    }

    pub(super) fn sync_dir(&mut self) -> Result<()> {
        if self.config.lying_sync {
            self.stats.lied_syncs += 1;
            return Ok(());
        }
        if self.hit(self.config.faults.sync_eio) {
            self.stats.sync_eio += 1;
            self.dir.drop_pending();
            return Err(Error::io(IoOp::SyncDir, ".", eio("directory sync".into())));
        }
        self.dir.sync();
        Ok(())
    }

    pub(super) fn read(&mut self, ino: u64, name: &str, buf: &mut [u8], offset: u64) -> Result<()> {
        if let Some(sector) = self.bad_sector_in(ino, offset, buf.len() as u64) {
            self.stats.read_eio += 1;
            return Err(Error::io(
                IoOp::Read,
                name,
                eio(format!("bad sector {sector}")),
            ));
        }
        let short_rate = self.config.faults.short_read;
        let allowed = self.allowed_now();
        let World {
            inodes,
            fault_rng: rng,
            stats,
            injected,
            site,
            ..
        } = self;
        let inode = inodes.get(&ino).expect("handles point at live inodes");
        read_exact_with(buf, offset, |b, at| {
            let n = inode.read(b, at);
            if n > 1 && short_rate > 0.0 && rng.get(site).random_bool(short_rate) {
                let short = rng.get(site).random_range(1..n);
                if allowed {
                    stats.short_reads += 1;
                    injected.push((stats.calls, site.clone()));
                    return Ok(short);
                }
            }
            Ok(n)
        })
        .map_err(|e| Error::io(IoOp::Read, name, e))
    }

    /// A sector of the range that is (or, by the read-EIO rate, now goes) bad.
    fn bad_sector_in(&mut self, ino: u64, offset: u64, len: u64) -> Option<u64> {
        let size = self.config.sector_size;
        let end = offset.saturating_add(len).min(self.inode(ino).len());
        if len == 0 || offset >= end {
            return None;
        }
        let (first, last) = (offset / size, (end - 1) / size);
        if let Some(&(_, s)) = self.bad_sectors.range((ino, first)..=(ino, last)).next() {
            return Some(s);
        }
        let rate = self.config.faults.read_eio;
        if !(rate > 0.0 && self.fault_rng.get(&self.site).random_bool(rate)) {
            return None;
        }
        let sector = self.fault_rng.get(&self.site).random_range(first..=last);
        if !self.fire() {
            return None;
        }
        self.bad_sectors.insert((ino, sector));
        Some(sector)
    }

    pub(super) fn write(&mut self, ino: u64, name: &str, data: &[u8], offset: u64) -> Result<()> {
        let Some(end) = offset.checked_add(data.len() as u64) else {
            return Err(Error::InvalidArgument(format!(
                "write at {offset} overflows u64"
            )));
        };
        self.check_space(ino, end, IoOp::Write, name)?;
        if data.is_empty() {
            return Ok(());
        }
        let rate = self.config.faults.write_eio;
        if rate > 0.0 && self.fault_rng.get(&self.site).random_bool(rate) {
            let landed = self.fault_rng.get(&self.site).random_range(0..data.len());
            if self.fire() {
                self.stats.write_eio += 1;
                self.store(ino, offset, &data[..landed]);
                return Err(Error::io(
                    IoOp::Write,
                    name,
                    eio(format!("write at {offset}")),
                ));
            }
        }
        let rate = self.config.faults.misdirected_write;
        if rate > 0.0 && self.fault_rng.get(&self.site).random_bool(rate) {
            let (target, at) = self.misdirect(ino, offset, data.len() as u64);
            if self.fire() {
                self.stats.misdirected_writes += 1;
                self.store(target, at, data);
                let len = data.len() as u64;
                // Damage on both ends: where the bytes landed, and the intended place,
                // which keeps whatever it held before (a segment header never written
                // there is as lost as one overwritten).
                self.damage.push((target, at, at + len));
                self.damage.push((ino, offset, offset + len));
                return Ok(());
            }
        }
        let short_rate = self.config.faults.short_write;
        let allowed = self.allowed_now();
        // What landed, as (file offset, length) pieces of `data`.
        let mut pieces = Vec::new();
        let World {
            fault_rng: rng,
            stats,
            injected,
            site,
            ..
        } = self;
        write_all_with(data, offset, |b, at| {
            let mut n = b.len();
            if n > 1 && short_rate > 0.0 && rng.get(site).random_bool(short_rate) {
                let short = rng.get(site).random_range(1..n);
                if allowed {
                    stats.short_writes += 1;
                    injected.push((stats.calls, site.clone()));
                    n = short;
                }
            }
            pieces.push((at, n));
            Ok(n)
        })
        .map_err(|e| Error::io(IoOp::Write, name, e))?;
        for (at, n) in pieces {
            let from = usize::try_from(at - offset).expect("a piece of `data`");
            self.store(ino, at, &data[from..from + n]);
        }
        let tag = self.write_tag;
        self.inode_mut(ino).note_write(offset, data, tag);
        Ok(())
    }

    /// Where a misdirected write lands: another named file at the same offset, or this
    /// file shifted by 1 to 8 sectors. Stays within `max_file_bytes`.
    fn misdirect(&mut self, ino: u64, offset: u64, len: u64) -> (u64, u64) {
        let others: Vec<u64> = self
            .dir
            .current
            .values()
            .copied()
            .filter(|&i| i != ino)
            .collect();
        if !others.is_empty() && self.fault_rng.get(&self.site).random_bool(0.5) {
            return (
                others[self.fault_rng.get(&self.site).random_range(0..others.len())],
                offset,
            );
        }
        let shift =
            self.fault_rng.get(&self.site).random_range(1..=8_u64) * self.config.sector_size;
        let room = self.config.max_file_bytes.saturating_sub(len);
        let down = offset >= shift
            && (self.fault_rng.get(&self.site).random_bool(0.5) || offset + shift > room);
        let at = if down {
            offset - shift
        } else {
            (offset + shift).min(room)
        };
        (ino, at)
    }

    /// Puts bytes into the current view as an unsynced write; a sector fully rewritten
    /// stops being bad (the drive remaps it).
    fn store(&mut self, ino: u64, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let size = self.config.sector_size;
        let end = offset + data.len() as u64;
        let (first_full, end_full) = (offset.div_ceil(size), end / size);
        if first_full < end_full {
            let covered: Vec<_> = self
                .bad_sectors
                .range((ino, first_full)..(ino, end_full))
                .copied()
                .collect();
            for key in covered {
                self.bad_sectors.remove(&key);
            }
        }
        self.inode_mut(ino).write(offset, data);
    }

    pub(super) fn sync(&mut self, ino: u64, name: &str) -> Result<()> {
        if self.config.lying_sync {
            self.stats.lied_syncs += 1;
            return Ok(());
        }
        if self.hit(self.config.faults.sync_eio) {
            self.stats.sync_eio += 1;
            self.inode_mut(ino).drop_pending();
            return Err(Error::io(IoOp::Sync, name, eio("fsync".into())));
        }
        self.inode_mut(ino).sync();
        Ok(())
    }

    pub(super) fn len(&self, ino: u64) -> u64 {
        self.inode(ino).len()
    }

    pub(super) fn set_len(&mut self, ino: u64, name: &str, len: u64) -> Result<()> {
        self.check_space(ino, len, IoOp::SetLen, name)?;
        self.inode_mut(ino).set_len(len);
        Ok(())
    }

    /// Resolves a power cut: returns the world that boots from the surviving image and
    /// leaves this one superseded (every old handle fails).
    /// A fresh nonce: a function of the seed, how many were drawn before, and the
    /// trace so far (so two disks built from one seed but with different histories
    /// disagree too). Not a storage call: no fault, no trace entry.
    pub(super) fn nonce(&mut self) -> u64 {
        self.nonces += 1;
        let mut z =
            self.seed ^ self.trace.value() ^ self.nonces.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(super) fn crash(&mut self) -> World {
        let mut report = CrashReport::default();
        let mut stats = self.stats;
        stats.crashes += 1;
        let mut rng = self.rng.clone();
        let mut resolver = Resolver {
            rng: &mut rng,
            model: &self.config.crash,
            sector_size: self.config.sector_size,
            stats: &mut stats,
            report: &mut report,
        };
        let liar = self.config.lying_sync;
        let names = if liar {
            self.dir.durable.clone()
        } else {
            resolver.directory(&self.dir)
        };
        self.site = FaultSite {
            op: "crash".to_string(),
            file: String::new(),
            nth: self.crashes,
        };
        self.crashes += 1;
        let rot_allowed = self.allowed_now();
        let mut inodes = BTreeMap::new();
        for (name, &ino) in &names {
            let old = self.inode(ino);
            let writes = old.writes.clone();
            let mut image = if liar {
                old.durable.clone()
            } else {
                resolver.file(name, &old.durable, &old.pending)
            };
            if resolver.rot(name, &mut image, self.config.faults.bit_flip, rot_allowed) {
                self.injected.push((self.stats.calls, self.site.clone()));
                if let Some(&(_, at, _)) = resolver.report.bit_flips.last() {
                    self.damage.push((ino, at, at + 1));
                }
            }
            let rate = self.config.faults.header_damage;
            let hit = resolver.damage_header(name, &mut image, &writes, rate, rot_allowed);
            if let Some((start, end)) = hit {
                self.injected.push((self.stats.calls, self.site.clone()));
                self.damage.push((ino, start, end));
            }
            inodes.insert(ino, Inode::from_image(image, &writes));
        }
        let mut trace = self.trace;
        trace.u64(u64::MAX);
        for (name, ino) in &names {
            trace.str(name);
            trace.bytes(&inodes[ino].durable);
        }
        let bad_sectors = self
            .bad_sectors
            .iter()
            .copied()
            .filter(|(i, _)| inodes.contains_key(i))
            .collect();
        let next = World {
            config: self.config.clone(),
            rng,
            seed: self.seed,
            fault_rng: self.fault_rng.clone(),
            life: Life::Running,
            countdown: None,
            inodes,
            next_ino: self.next_ino,
            dir: Directory::from_names(names),
            bad_sectors,
            stats,
            trace,
            last_crash: report,
            nonces: self.nonces,
            fault_mask: self.fault_mask.clone(),
            injected: std::mem::take(&mut self.injected),
            site_counts: std::mem::take(&mut self.site_counts),
            site: self.site.clone(),
            crashes: self.crashes,
            extra_list: self.extra_list,
            write_tag: self.write_tag,
            damage: std::mem::take(&mut self.damage),
        };
        self.life = Life::Superseded;
        self.inodes.clear();
        next
    }
}
