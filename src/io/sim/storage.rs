//! [`SimStorage`] and its files: the trait implementations over a [`World`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::config::{FaultRates, SimConfig};
use super::crash::CrashReport;
use super::site::{FaultMask, FaultSite};
use super::stats::SimStats;
use super::world::{Life, World};
use crate::error::{Error, IoOp, Result};
use crate::io::name::validate_name;
use crate::io::traits::{File, OpenMode, Storage, StorageLock};

/// An in-memory, seeded, fault-injecting storage. See the [module doc](super) for the
/// fault model.
///
/// Clones share one disk. [`SimStorage::crash`] returns the storage that boots from the
/// surviving image; the old one and every handle opened from it fail from then on.
///
/// The inspection methods (`read_file`, `durable_file`, `names`, `durable_names`) are
/// the test's eyes: they are not storage calls, inject no faults, and leave the trace
/// hash alone.
#[derive(Clone)]
pub struct SimStorage {
    world: Arc<Mutex<World>>,
    /// Held by the one [`Storage::lock`] guard alive. Shared by clones; a crash boots
    /// a disk with a free lock (the holder's process died with the power).
    locked: Arc<AtomicBool>,
}

/// The guard of [`SimStorage`]'s lock.
struct SimLock(Arc<AtomicBool>);

impl Drop for SimLock {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl fmt::Debug for SimStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.world.lock();
        f.debug_struct("SimStorage")
            .field("life", &w.life)
            .field("files", &w.dir.current.len())
            .field("calls", &w.stats.calls)
            .finish()
    }
}

impl SimStorage {
    /// A disk with the default crash model and no runtime faults.
    pub fn new(seed: u64) -> SimStorage {
        SimStorage::wrap(World::new(seed, SimConfig::default()))
    }

    /// A disk with `config`, which is validated.
    pub fn with_config(seed: u64, config: SimConfig) -> Result<SimStorage> {
        config.validate()?;
        Ok(SimStorage::wrap(World::new(seed, config)))
    }

    fn wrap(world: World) -> SimStorage {
        SimStorage {
            world: Arc::new(Mutex::new(world)),
            locked: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Cuts the power: draws which unsynced state survives, and returns the storage that
    /// boots from it. This storage and its handles fail from now on.
    pub fn crash(&self) -> SimStorage {
        let next = self.world.lock().crash();
        SimStorage::wrap(next)
    }

    /// After `calls` more storage calls, every call fails as if the power were cut,
    /// until [`SimStorage::crash`] resolves the image. `crash_after(0)` fails the very
    /// next call.
    pub fn crash_after(&self, calls: u64) {
        self.world.lock().countdown = Some(calls);
    }

    /// True once `crash_after` has run out (or `crash` superseded this storage).
    pub fn is_crashed(&self) -> bool {
        self.world.lock().life != Life::Running
    }

    /// Replaces the runtime fault rates (to turn faults off for a recovery, say).
    pub fn set_faults(&self, faults: FaultRates) -> Result<()> {
        let mut w = self.world.lock();
        let config = SimConfig {
            faults,
            ..w.config.clone()
        };
        config.validate()?;
        w.config = config;
        Ok(())
    }

    /// The configuration in force.
    pub fn config(&self) -> SimConfig {
        self.world.lock().config.clone()
    }

    /// Counters since the first storage of this run (carried across crashes).
    pub fn stats(&self) -> SimStats {
        self.world.lock().stats
    }

    /// A hash over every call, its arguments and outcome, and every crash image.
    /// Equal seeds and equal calls give equal hashes.
    pub fn trace_hash(&self) -> u64 {
        self.world.lock().trace.value()
    }

    /// What the crash that made this storage did (filler ranges, bit flips).
    pub fn last_crash_report(&self) -> CrashReport {
        self.world.lock().last_crash.clone()
    }

    /// The bytes reads of `name` would see now, or None if no such name.
    pub fn read_file(&self, name: &str) -> Option<Vec<u8>> {
        let w = self.world.lock();
        let ino = w.dir.current.get(name)?;
        Some(w.inodes.get(ino)?.current.clone())
    }

    /// The length reads of `name` would see now, or None if no such name. Not a
    /// storage call: no fault, no trace entry.
    pub fn file_len(&self, name: &str) -> Option<u64> {
        let w = self.world.lock();
        let ino = w.dir.current.get(name)?;
        Some(w.inodes.get(ino)?.current.len() as u64)
    }

    /// The durable bytes of the file `name` currently names, or None.
    pub fn durable_file(&self, name: &str) -> Option<Vec<u8>> {
        let w = self.world.lock();
        let ino = w.dir.current.get(name)?;
        Some(w.inodes.get(ino)?.durable.clone())
    }

    /// Tags every whole write from now on with `tag` (a simulator passes the lsn
    /// acknowledged so far). Not a storage call: no fault, no trace entry.
    pub fn set_write_tag(&self, tag: u64) {
        self.world.lock().write_tag = tag;
    }

    /// The highest tag of a write to `name` that is durable (a sync returned Ok after
    /// it) and still holds exactly the bytes written (no later write, tear or damage
    /// changed any of them), among the last 32 non-zero writes to it; None if there
    /// is none. For a log whose every write records what was durable when it was made,
    /// this bounds what recovery may lose without reporting damage.
    pub fn vouched_tag(&self, name: &str) -> Option<u64> {
        let w = self.world.lock();
        let ino = w.dir.current.get(name)?;
        w.inodes.get(ino)?.vouched_tag()
    }

    /// The byte ranges `(start, end)` of the file `name` names that durable-damage
    /// faults changed, over every life of this disk: bit flips, header damage, and
    /// both ends of a misdirected write (where it landed, and the intended place it
    /// left holding older bytes).
    pub fn damaged_ranges(&self, name: &str) -> Vec<(u64, u64)> {
        let w = self.world.lock();
        let Some(&ino) = w.dir.current.get(name) else {
            return Vec::new();
        };
        w.damage
            .iter()
            .filter(|(i, _, _)| *i == ino)
            .map(|&(_, s, e)| (s, e))
            .collect()
    }

    /// Current names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.world.lock().dir.current.keys().cloned().collect()
    }

    /// Durable names, sorted.
    pub fn durable_names(&self) -> Vec<String> {
        self.world.lock().dir.durable.keys().cloned().collect()
    }

    /// Flips bit `bit` of byte `offset` of `name`, in the durable image and the current
    /// view alike: deliberate media rot for tests.
    pub fn flip_bit(&self, name: &str, offset: u64, bit: u8) -> Result<()> {
        let mut w = self.world.lock();
        let missing = || Error::InvalidArgument(format!("no byte {offset} in {name:?}"));
        let ino = *w.dir.current.get(name).ok_or_else(missing)?;
        let inode = w.inodes.get_mut(&ino).ok_or_else(missing)?;
        let at = usize::try_from(offset).map_err(|_| missing())?;
        for image in [&mut inode.durable, &mut inode.current] {
            let byte = image.get_mut(at).ok_or_else(missing)?;
            *byte ^= 1 << (bit % 8);
        }
        w.stats.bit_flips += 1;
        Ok(())
    }

    /// Overwrites bytes of `name` at `offset` in the durable image and the current view
    /// alike, extending the file if needed: a disk returning data nobody wrote (outside
    /// the legal fault model), for proving that a checker catches it.
    pub fn forge(&self, name: &str, offset: u64, bytes: &[u8]) -> Result<()> {
        let mut w = self.world.lock();
        let missing = || Error::InvalidArgument(format!("no file {name:?}"));
        let ino = *w.dir.current.get(name).ok_or_else(missing)?;
        let inode = w.inodes.get_mut(&ino).ok_or_else(missing)?;
        let at = usize::try_from(offset).map_err(|_| missing())?;
        for image in [&mut inode.durable, &mut inode.current] {
            if image.len() < at + bytes.len() {
                image.resize(at + bytes.len(), 0);
            }
            image[at..at + bytes.len()].copy_from_slice(bytes);
        }
        Ok(())
    }

    /// Lets runtime faults fire only at the given call numbers (as counted by
    /// [`SimStats::calls`]), or anywhere again with None. A fault drawn at another
    /// call is dropped, but every random draw still happens, so the rest of the run is
    /// unchanged: a shrinker can remove faults one at a time. Carried across crashes.
    pub fn set_fault_mask(&self, calls: Option<std::collections::BTreeSet<u64>>) {
        self.world.lock().fault_mask = calls.map(FaultMask::Calls);
    }

    /// Lets runtime faults fire only at the given sites (`op:file#n`, see
    /// [`FaultSite`]), or anywhere again with None. Like
    /// [`SimStorage::set_fault_mask`], but a call added or removed elsewhere in the
    /// run leaves these sites, and the faults drawn at them, where they were. Draws
    /// are keyed by site unless a call-number mask is set. Carried across crashes.
    pub fn set_fault_sites(&self, sites: Option<std::collections::BTreeSet<FaultSite>>) {
        self.world.lock().fault_mask = sites.map(FaultMask::Sites);
    }

    /// Makes every open of the log file followed by a directory listing of the
    /// disk's own: a storage call the engine did not make and that changes nothing,
    /// standing for an engine change that adds one (for tests of fault sites).
    #[doc(hidden)]
    pub fn set_extra_list(&self, on: bool) {
        self.world.lock().extra_list = on;
    }

    /// The sites at which runtime faults fired so far, in order (for a shrinker).
    pub fn injected_sites(&self) -> Vec<FaultSite> {
        self.world
            .lock()
            .injected
            .iter()
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Call numbers at which a runtime fault fired (bit flips: the call count at the
    /// crash), in order, across crashes.
    pub fn injected_calls(&self) -> Vec<u64> {
        self.world.lock().injected.iter().map(|&(c, _)| c).collect()
    }

    /// Runs one storage call: counts it, checks for a crash, runs `f`, hashes the
    /// outcome.
    fn call<T>(&self, op: IoOp, path: &str, f: impl FnOnce(&mut World) -> Result<T>) -> Result<T> {
        call(&self.world, op, path, f)
    }
}

fn call<T>(
    world: &Mutex<World>,
    op: IoOp,
    path: &str,
    f: impl FnOnce(&mut World) -> Result<T>,
) -> Result<T> {
    let mut w = world.lock();
    let result = w.begin(op, path).and_then(|()| f(&mut w));
    w.finish(&result);
    result
}

impl Storage for SimStorage {
    fn open(&self, name: &str, mode: OpenMode) -> Result<Box<dyn File>> {
        validate_name(name)?;
        let ino = self.call(IoOp::Open, name, |w| w.open(name, mode))?;
        if name == crate::log::LOG_FILE && self.world.lock().extra_list {
            self.list()?;
        }
        Ok(Box::new(SimFile {
            world: Arc::clone(&self.world),
            ino,
            name: name.to_string(),
        }))
    }

    fn remove(&self, name: &str) -> Result<()> {
        validate_name(name)?;
        self.call(IoOp::Remove, name, |w| w.remove(name))
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        validate_name(from)?;
        validate_name(to)?;
        self.call(IoOp::Rename, from, |w| {
            w.trace.str(to);
            w.rename(from, to)
        })
    }

    fn list(&self) -> Result<Vec<String>> {
        self.call(IoOp::List, ".", |w| {
            Ok(w.dir.current.keys().cloned().collect())
        })
    }

    fn sync_dir(&self) -> Result<()> {
        self.call(IoOp::SyncDir, ".", World::sync_dir)
    }

    fn nonce(&self) -> u64 {
        self.world.lock().nonce()
    }

    fn lock(&self) -> Result<StorageLock> {
        match self
            .locked
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Ok(StorageLock::new(SimLock(Arc::clone(&self.locked)))),
            Err(_) => Err(Error::Locked {
                path: "the simulated disk".to_string(),
            }),
        }
    }
}

/// An open simulated file: an inode number in a world.
struct SimFile {
    world: Arc<Mutex<World>>,
    ino: u64,
    name: String,
}

impl fmt::Debug for SimFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimFile({:?}, ino {})", self.name, self.ino)
    }
}

impl File for SimFile {
    fn name(&self) -> &str {
        &self.name
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        call(&self.world, IoOp::Read, &self.name, |w| {
            w.trace.u64(offset);
            w.trace.u64(buf.len() as u64);
            w.read(self.ino, &self.name, buf, offset)
        })
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        call(&self.world, IoOp::Write, &self.name, |w| {
            w.trace.u64(offset);
            w.trace.bytes(buf);
            w.write(self.ino, &self.name, buf, offset)
        })
    }

    fn sync(&self) -> Result<()> {
        call(&self.world, IoOp::Sync, &self.name, |w| {
            w.sync(self.ino, &self.name)
        })
    }

    fn len(&self) -> Result<u64> {
        call(&self.world, IoOp::Len, &self.name, |w| Ok(w.len(self.ino)))
    }

    fn set_len(&self, len: u64) -> Result<()> {
        call(&self.world, IoOp::SetLen, &self.name, |w| {
            w.trace.u64(len);
            w.set_len(self.ino, &self.name, len)
        })
    }
}
