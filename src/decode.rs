//! Reading compressed files back: `decompress` into lossless Parquet, and a stream of decoded
//! batches (the original columns) for `evaluate` and anything else that reads them.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use baler_udfs::codec::Codec;
use baler_udfs::file::CompressedFile;
use serde::Serialize;

use crate::convert::{DEFAULT_ZSTD_LEVEL, lossless_properties, write_file};
use crate::error::{Error, Result};
use crate::output::check_output;
use crate::progress::Progress;

/// A compressed file opened for reading: its codec and its decoded batches (one per block),
/// in file order. Blocks are decoded a window at a time, one thread per block of the window
/// and as many as the machine has cores, so that at most that many decoded blocks are held.
pub struct Decoded {
    pub codec: Arc<Codec>,
    /// Rows in the file.
    pub rows: u64,
    file: CompressedFile,
    /// The next block to decode.
    next: usize,
    /// Blocks decoded ahead, in file order.
    ready: VecDeque<Result<RecordBatch>>,
    /// Blocks decoded at once.
    window: usize,
    /// Rows decoded but not yet taken (see [`Decoded::take_rows`]).
    pending: Option<RecordBatch>,
    /// The columns decoded and returned (header indices); `None`: every column.
    projection: Option<Vec<usize>>,
}

impl Decoded {
    /// Opens a compressed file.
    ///
    /// # Errors
    /// [`Error::Codec`] for a file that cannot be read, is not baler-compressed, is of an
    /// unknown format version, has a damaged footer or a header that does not fit its model.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::Open {
                path: path.to_owned(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        let file = CompressedFile::open(path).map_err(codec_err(path))?;
        Ok(Self {
            codec: file.codec.clone(),
            rows: file.rows(),
            file,
            next: 0,
            ready: VecDeque::new(),
            window: crate::parallel::threads(),
            pending: None,
            projection: None,
        })
    }

    /// Decodes only the original columns `projection` (indices in [`Decoded::schema`]) and
    /// those their predictions depend on, and returns only the former, in that order.
    ///
    /// # Errors
    /// [`Error::Column`] for an index out of range.
    pub fn with_projection(mut self, projection: Vec<usize>) -> Result<Self> {
        let width = self.codec.output_schema().fields().len();
        if let Some(&i) = projection.iter().find(|&&i| i >= width) {
            return Err(Error::Column {
                path: self.file.path.clone(),
                column: i.to_string(),
                message: format!("no such column (the file has {width})"),
            });
        }
        self.projection = Some(projection);
        Ok(self)
    }

    /// The columns every batch has: the original columns, or the projection's.
    pub fn schema(&self) -> SchemaRef {
        let schema = self.codec.output_schema();
        match &self.projection {
            Some(p) => Arc::new(schema.project(p).expect("projection checked")),
            None => schema,
        }
    }

    /// The next `rows` decoded rows as one batch, cut from and across the file's batches;
    /// `None` when fewer are left.
    ///
    /// # Errors
    /// Read and decode errors.
    pub fn take_rows(&mut self, rows: usize) -> Result<Option<RecordBatch>> {
        let schema = self.schema();
        let mut pending = self.pending.take();
        let taken = take_rows(&schema, &mut pending, || self.next_block(), rows);
        self.pending = pending;
        taken
    }

    /// Whether every row has been taken.
    ///
    /// # Errors
    /// Read and decode errors.
    pub fn is_exhausted(&mut self) -> Result<bool> {
        Ok(self.take_rows(1)?.is_none())
    }
}

impl Decoded {
    /// The next block, decoded.
    fn next_block(&mut self) -> Option<Result<RecordBatch>> {
        if self.ready.is_empty() && self.next < self.file.blocks.len() {
            let blocks = self.next..(self.next + self.window).min(self.file.blocks.len());
            self.next = blocks.end;
            let file = &self.file;
            let projection = self.projection.as_deref();
            let blocks: Vec<usize> = blocks.collect();
            self.ready
                .extend(crate::parallel::map(&blocks, |&i| match projection {
                    Some(p) => file
                        .decode_block_projected(i, p)
                        .map_err(codec_err(&file.path)),
                    None => file.decode_block(i).map_err(codec_err(&file.path)),
                }));
        }
        self.ready.pop_front()
    }
}

impl Iterator for Decoded {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.pending.take().map(Ok).or_else(|| self.next_block())
    }
}

/// The next `rows` rows of a stream of batches as one batch: `pending` (rows left over from the
/// last batch) first, then batches from `next`, the rest of the last one kept in `pending`;
/// `None` when fewer are left.
///
/// # Errors
/// The batches' own errors.
pub(crate) fn take_rows(
    schema: &SchemaRef,
    pending: &mut Option<RecordBatch>,
    mut next: impl FnMut() -> Option<Result<RecordBatch>>,
    rows: usize,
) -> Result<Option<RecordBatch>> {
    let mut parts = Vec::new();
    let mut need = rows;
    while need > 0 {
        let batch = match pending.take() {
            Some(b) => b,
            None => match next() {
                Some(b) => b?,
                None => return Ok(None),
            },
        };
        let n = need.min(batch.num_rows());
        parts.push(batch.slice(0, n));
        if n < batch.num_rows() {
            *pending = Some(batch.slice(n, batch.num_rows() - n));
        }
        need -= n;
    }
    Ok(Some(concat_batches(schema, &parts)?))
}

/// Whether `path` is baler-compressed (rather than plain Parquet).
///
/// # Errors
/// [`Error::Codec`] for a file that cannot be read as Parquet.
pub fn is_compressed(path: &Path) -> Result<bool> {
    baler_udfs::file::is_compressed(path).map_err(codec_err(path))
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
