//! cargo-fuzz target: runs `shale::fuzzing::round_trip` (see its docs for the invariants)
//! under the allocation guard.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shale_fuzz::guarded(
    data,
    shale_fuzz::ROUND_TRIP_BASE,
    shale::fuzzing::round_trip
));
