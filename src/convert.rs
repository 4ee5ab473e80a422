//! Lossless Parquet output: `baler-arrow convert`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::ingest::{self, DroppedColumn, EVENT_COLUMN, ReadOptions};
use crate::output::{AtomicFile, check_output};
use crate::progress::{NoProgress, Progress};

/// zstd level for lossless output.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// Options for [`convert`].
#[derive(Clone)]
pub struct ConvertOptions {
    pub force: bool,
    pub zstd_level: i32,
    pub progress: Arc<dyn Progress>,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        Self {
            force: false,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            progress: Arc::new(NoProgress),
        }
    }
}

impl ConvertOptions {
    /// Overwrites an existing output.
    pub fn with_force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Reports progress to `progress`.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }
}

/// What [`convert`] wrote.
#[derive(Debug, Clone)]
pub struct ConvertSummary {
    pub output: PathBuf,
    pub rows: u64,
    pub columns: usize,
    pub dropped: Vec<DroppedColumn>,
    pub bytes: u64,
}

/// Writer settings for lossless jet tables: zstd; BYTE_STREAM_SPLIT without dictionary for
/// floating-point columns (their bytes compress far better split by significance); and
/// DELTA_BINARY_PACKED for the event index, which is sorted with steps of 0 or 1 (about 1 bit
/// per jet, where a dictionary of event numbers costs 14).
pub fn lossless_properties(schema: &Schema, zstd_level: i32) -> Result<WriterProperties> {
    Ok(lossless_builder(schema, zstd_level)?.build())
}

/// [`lossless_properties`], still open to per-column settings.
pub fn lossless_builder(schema: &Schema, zstd_level: i32) -> Result<WriterPropertiesBuilder> {
    let level = ZstdLevel::try_new(zstd_level).map_err(|e| {
        Error::Arrow(arrow::error::ArrowError::InvalidArgumentError(
            e.to_string(),
        ))
    })?;
    let mut builder = WriterProperties::builder().set_compression(Compression::ZSTD(level));
    for field in schema.fields() {
        // The values of a list column (the event layout's `Jet_pt`) are at `name.list.item`.
        let (path, data_type) = match field.data_type() {
            DataType::List(item) => (
                ColumnPath::new(vec![
                    field.name().clone(),
                    "list".into(),
                    item.name().clone(),
                ]),
                item.data_type(),
            ),
            dt => (ColumnPath::from(field.name().as_str()), dt),
        };
        let encoding = match data_type {
            DataType::Float32 | DataType::Float64 => Encoding::BYTE_STREAM_SPLIT,
            dt if dt.is_integer() && field.name() == EVENT_COLUMN => Encoding::DELTA_BINARY_PACKED,
            _ => continue,
        };
        builder = builder
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, encoding);
    }
    Ok(builder)
}

/// The bytes `batch` takes as a Parquet file written with `props` (`path` names it in errors).
///
/// # Errors
/// [`Error::Parquet`] when the writer refuses the batch.
pub fn parquet_bytes(batch: &RecordBatch, props: WriterProperties, path: &Path) -> Result<u64> {
    let parquet_err = |source| Error::Parquet {
        path: path.to_owned(),
        source,
    };
    let mut writer = ArrowWriter::try_new(ByteCounter::default(), batch.schema(), Some(props))
        .map_err(parquet_err)?;
    writer.write(batch).map_err(parquet_err)?;
    Ok(writer.into_inner().map_err(parquet_err)?.0)
}

/// A `Write` that only counts bytes: the size a Parquet file would have.
#[derive(Default)]
pub(crate) struct ByteCounter(pub(crate) u64);

impl Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes every batch to `out` as Parquet; returns the number of rows.
pub fn write_batches<W: Write + Send>(
    out: W,
    path: &Path,
    schema: Arc<Schema>,
    batches: impl Iterator<Item = Result<RecordBatch>>,
    props: WriterProperties,
    progress: &dyn Progress,
) -> Result<u64> {
    let parquet_err = |source| Error::Parquet {
        path: path.to_owned(),
        source,
    };
    let mut writer = ArrowWriter::try_new(out, schema, Some(props)).map_err(parquet_err)?;
    let mut rows = 0;
    for batch in batches {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(parquet_err)?;
        progress.advance(batch.num_rows() as u64);
    }
    writer.close().map_err(parquet_err)?;
    Ok(rows)
}

/// Writes every batch to `output` as Parquet with `props`, under a temporary name renamed into
/// place when complete (nothing is left behind on failure); returns the number of rows.
///
/// # Errors
/// [`Error::Write`], [`Error::OutputExists`] without `force`, and the batches' own errors.
pub fn write_file(
    output: &Path,
    schema: Arc<Schema>,
    batches: impl Iterator<Item = Result<RecordBatch>>,
    props: WriterProperties,
    force: bool,
    progress: &dyn Progress,
) -> Result<u64> {
    let mut file = AtomicFile::create(output, force)?;
    let rows = write_batches(file.file(), output, schema, batches, props, progress)?;
    file.commit()?;
    Ok(rows)
}

/// Reads `input` (ROOT or Parquet) and writes its jets to `output` as lossless Parquet.
///
/// The output is written under a temporary name and renamed when complete, so a failure
/// leaves nothing behind; the input is never overwritten.
///
/// # Errors
/// Anything [`ingest::open`] reports, an output that is the input or exists without `force`,
/// and write failures.
pub fn convert(
    input: &Path,
    output: &Path,
    read: &ReadOptions,
    options: &ConvertOptions,
) -> Result<ConvertSummary> {
    check_output(input, output, options.force)?;
    let reader = ingest::open(input, read)?;
    let schema = reader.schema();
    let dropped = reader.dropped().to_vec();
    let props = lossless_properties(&schema, options.zstd_level)?;
    let progress = options.progress.as_ref();
    progress.start("convert", reader.total_rows());
    let rows = write_file(
        output,
        schema.clone(),
        reader,
        props,
        options.force,
        progress,
    );
    progress.finish();
    let rows = rows?;
    let bytes = crate::output::file_bytes(output);
    Ok(ConvertSummary {
        output: output.to_owned(),
        rows,
        columns: schema.fields().len(),
        dropped,
        bytes,
    })
}
