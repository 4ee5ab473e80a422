//! A header (JSON): its validation and the codec built from it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = baler_arrow::fuzzing::header(data);
});
