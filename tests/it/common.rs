//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::compute::concat_batches;
use baler_arrow::ingest::{self, ReadOptions};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A bundled file in `tests/data`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Reads a whole Parquet file into one batch.
pub fn read_parquet(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let schema = reader.schema();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    concat_batches(&schema, &batches).unwrap()
}

/// Reads a whole input through the library into one batch.
pub fn read_jets(path: &Path, options: &ReadOptions) -> RecordBatch {
    let reader = ingest::open(path, options).unwrap();
    let schema = reader.schema();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    concat_batches(&schema, &batches).unwrap()
}

/// Runs the `baler-arrow` binary.
pub fn baler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baler-arrow"))
        .args(args)
        .output()
        .unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// uproot's flattening of `file` into Parquet, written by `tests/uproot_reference.py`.
///
/// Fails the test when python3 with uproot and pyarrow is missing, unless
/// `BALER_SKIP_UPROOT=1` is set (then returns `None` and the caller skips).
pub fn uproot_reference(file: &Path, tree: &str, layout: &str, out: &Path) -> Option<RecordBatch> {
    if std::env::var_os("BALER_SKIP_UPROOT").is_some() {
        eprintln!("skipping the uproot comparison: BALER_SKIP_UPROOT is set");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/uproot_reference.py");
    let run = Command::new("python3")
        .arg(script)
        .arg(file)
        .arg(out)
        .args(["--tree", tree])
        .args(layout.split(' '))
        .output()
        .expect("python3 is needed for the uproot comparison (or set BALER_SKIP_UPROOT=1)");
    assert!(
        run.status.success(),
        "uproot reference failed (pip install uproot pyarrow, or set BALER_SKIP_UPROOT=1): {}",
        String::from_utf8_lossy(&run.stderr)
    );
    Some(read_parquet(out))
}

/// Writes named columns as a one-batch Parquet file.
pub fn write_table(path: &Path, columns: Vec<(&str, arrow::array::ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}
