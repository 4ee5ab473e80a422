//! A compressed file: the Parquet container, the footer and header parser, every block.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let scratch = std::env::temp_dir().join(format!("baler-fuzz-file-{}", std::process::id()));
    let _ = baler_arrow::fuzzing::compressed_file(data, &scratch);
});
