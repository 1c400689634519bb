//! Per-instance counters of a simulated disk (carried across crashes).

/// What a [`super::SimStorage`] has done and injected so far. The counters carry over
/// from a storage to the one its `crash()` returns, so one struct describes a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Storage calls made (every trait method counts one).
    pub calls: u64,
    /// Injected read EIOs (new bad sectors and hits on old ones).
    pub read_eio: u64,
    /// Injected write EIOs.
    pub write_eio: u64,
    /// Injected sync EIOs (file and directory).
    pub sync_eio: u64,
    /// Calls refused for lack of space.
    pub enospc: u64,
    /// Short read transfers injected.
    pub short_reads: u64,
    /// Short write transfers injected.
    pub short_writes: u64,
    /// Writes sent to the wrong place.
    pub misdirected_writes: u64,
    /// Bits flipped in durable images.
    pub bit_flips: u64,
    /// Headers damaged at a crash (the first bytes of a durable write zeroed, a bit of
    /// them flipped, or another write's first bytes copied over them).
    pub header_damage: u64,
    /// Crashes resolved.
    pub crashes: u64,
    /// Unsynced writes that persisted whole at a crash.
    pub writes_persisted: u64,
    /// Unsynced writes that vanished at a crash.
    pub writes_vanished: u64,
    /// Unsynced writes that tore at a crash.
    pub writes_torn: u64,
    /// Unsynced length changes that persisted at a crash.
    pub set_lens_persisted: u64,
    /// Unsynced length changes lost at a crash.
    pub set_lens_lost: u64,
    /// Unsynced creates, renames and removes that persisted at a crash.
    pub dir_ops_persisted: u64,
    /// Unsynced creates, renames and removes lost at a crash.
    pub dir_ops_lost: u64,
    /// Calls refused because the storage had crashed (`crash_after` ran out).
    pub crashed_calls: u64,
    /// Syncs a lying disk (`SimConfig::lying_sync`) acknowledged without making
    /// anything durable.
    pub lied_syncs: u64,
}
