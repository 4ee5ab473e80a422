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

/// Runs one of the Python reference scripts in `tests/` (uproot, awkward, pyarrow) and returns
/// its standard output.
///
/// Fails the test when python3 with those packages is missing, unless `BALER_SKIP_UPROOT=1`
/// is set (then returns `None` and the caller skips).
pub fn python_reference(script: &str, args: &[&std::ffi::OsStr]) -> Option<String> {
    if std::env::var_os("BALER_SKIP_UPROOT").is_some() {
        eprintln!("skipping the uproot comparison: BALER_SKIP_UPROOT is set");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let run = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is needed for the uproot comparison (or set BALER_SKIP_UPROOT=1)");
    assert!(
        run.status.success(),
        "uproot reference failed (pip install uproot awkward pyarrow, or set BALER_SKIP_UPROOT=1): {}",
        String::from_utf8_lossy(&run.stderr)
    );
    Some(String::from_utf8_lossy(&run.stdout).into_owned())
}

/// uproot's flattening of `file` into Parquet, written by `tests/uproot_reference.py`.
pub fn uproot_reference(file: &Path, tree: &str, layout: &str, out: &Path) -> Option<RecordBatch> {
    let mut args = vec![
        file.as_os_str(),
        out.as_os_str(),
        "--tree".as_ref(),
        tree.as_ref(),
    ];
    args.extend(layout.split(' ').map(std::ffi::OsStr::new));
    python_reference("uproot_reference.py", &args)?;
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
