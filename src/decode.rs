//! Reading compressed files back: `decompress` into lossless Parquet, and a stream of decoded
//! batches (the original columns) for `evaluate` and anything else that reads them.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use baler_udfs::codec::Codec;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use crate::convert::{DEFAULT_ZSTD_LEVEL, lossless_properties, write_file};
use crate::error::{Error, Result};
use crate::output::check_output;
use crate::progress::Progress;

/// A compressed file opened for reading: its codec and its decoded batches, in file order.
pub struct Decoded {
    pub codec: Codec,
    /// Rows in the file.
    pub rows: u64,
    batches: Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
    /// Rows decoded but not yet taken (see [`Decoded::take_rows`]).
    pending: Option<RecordBatch>,
}

impl Decoded {
    /// Opens a compressed file.
    ///
    /// # Errors
    /// [`Error::Open`], [`Error::Parquet`], and [`Error::Codec`] for a file that is not
    /// baler-compressed, of an unknown format version, with a bad checksum or a header that
    /// does not fit its model.
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        let parquet_err = |source| Error::Parquet {
            path: path.to_owned(),
            source,
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?;
        let codec = Codec::from_parquet_metadata(builder.metadata()).map_err(codec_err(path))?;
        let rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        let reader = builder.build().map_err(parquet_err)?;
        let decoder = codec.clone();
        let owned: PathBuf = path.to_owned();
        let batches = reader.map(move |b| {
            let b = b.map_err(|e| Error::Parquet {
                path: owned.clone(),
                source: e.into(),
            })?;
            decoder.decode_batch(&b).map_err(codec_err(&owned))
        });
        Ok(Self {
            codec,
            rows,
            batches: Box::new(batches),
            pending: None,
        })
    }

    /// The original columns.
    pub fn schema(&self) -> SchemaRef {
        self.codec.output_schema()
    }

    /// The next `rows` decoded rows as one batch, cut from and across the file's batches;
    /// `None` when fewer are left.
    ///
    /// # Errors
    /// Read and decode errors.
    pub fn take_rows(&mut self, rows: usize) -> Result<Option<RecordBatch>> {
        let mut parts = Vec::new();
        let mut need = rows;
        while need > 0 {
            let batch = match self.pending.take() {
                Some(b) => b,
                None => match self.batches.next() {
                    Some(b) => b?,
                    None => return Ok(None),
                },
            };
            let n = need.min(batch.num_rows());
            parts.push(batch.slice(0, n));
            if n < batch.num_rows() {
                self.pending = Some(batch.slice(n, batch.num_rows() - n));
            }
            need -= n;
        }
        Ok(Some(concat_batches(&self.schema(), &parts)?))
    }

    /// Whether every row has been taken.
    ///
    /// # Errors
    /// Read and decode errors.
    pub fn is_exhausted(&mut self) -> Result<bool> {
        Ok(self.take_rows(1)?.is_none())
    }
}

impl Iterator for Decoded {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.pending.take().map(Ok).or_else(|| self.batches.next())
    }
}

/// Wraps a decode-side error about `path`.
fn codec_err(path: &Path) -> impl Fn(baler_udfs::Error) -> Error + '_ {
    move |source| Error::Codec {
        path: path.to_owned(),
        source: Box::new(source),
    }
}

/// What [`decompress`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct DecompressSummary {
    pub output: PathBuf,
    pub rows: u64,
    pub columns: usize,
}

/// Rebuilds the original columns of a baler Parquet file into lossless Parquet.
///
/// # Errors
/// [`Error::Codec`] for a file that is not baler-compressed, of an unknown format version, with a
/// bad checksum or a missing column; an output that exists or is the input; write failures.
pub fn decompress(
    input: &Path,
    output: &Path,
    force: bool,
    progress: &dyn Progress,
) -> Result<DecompressSummary> {
    check_output(input, output, force)?;
    let decoded = Decoded::open(input)?;
    let schema = decoded.schema();
    let props = lossless_properties(&schema, DEFAULT_ZSTD_LEVEL)?;
    progress.start("decompress", Some(decoded.rows));
    let rows = write_file(output, schema.clone(), decoded, props, force, progress);
    progress.finish();
    let rows = rows?;
    Ok(DecompressSummary {
        output: output.to_owned(),
        rows,
        columns: schema.fields().len(),
    })
}
