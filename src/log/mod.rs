//! The log: a group-committed, crash-safe append log over segments (DESIGN.md, Write
//! path and Recovery path). Built bottom-up; present so far: the on-disk format.

pub mod format;
