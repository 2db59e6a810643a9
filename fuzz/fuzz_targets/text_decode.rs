//! cargo-fuzz target: runs `shale::fuzzing::text_decode` (see its docs for the invariants)
//! under the allocation guard.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shale_fuzz::guarded(
    data,
    shale_fuzz::BASE,
    shale::fuzzing::text_decode
));
