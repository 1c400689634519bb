//! Fuzz-target bodies. They live in the library so that stable tests can replay every
//! corpus file through exactly the code cargo-fuzz runs (`tests/fuzz_corpus.rs`).
//!
//! Each body takes arbitrary bytes and panics only when it finds a bug.

mod storage_crash;

pub use storage_crash::storage_crash;
