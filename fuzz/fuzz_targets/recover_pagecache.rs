#![no_main]
//! cargo-fuzz entry for `pagelog::fuzzing::recover_pagecache` (the body lives in the
//! library so stable tests replay the corpus through the same code).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pagelog::fuzzing::recover_pagecache(data));
