//! A ROOT or Parquet input file: the key and basket reader, the planner, every batch.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let scratch = std::env::temp_dir().join(format!("baler-fuzz-input-{}", std::process::id()));
    let _ = baler_arrow::fuzzing::input_file(data, &scratch);
});
