//! The Parquet container of format 3: one row (and one row group) per block.
//!
//! [`BlockWriter`] writes blocks made by [`Codec::encode_block`]; [`CompressedFile`] opens a
//! file, checks its footer, lists its blocks (rows and event range of each, read from their
//! small columns) and reads any block alone, so that blocks decode independently and in
//! parallel.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, Int64Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, UInt32Type};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::{KeyValue, ParquetMetaData};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::format::{
    DATA_COLUMN, EVENT_MAX_COLUMN, EVENT_MIN_COLUMN, Footer, MODEL_KEY, ROWS_COLUMN,
    referenced_footer,
};
use crate::stats::{BlockStats, STATS_KEY};

/// One block of a file: its row group, its rows and, when the table has an event index, the
/// range of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    pub row_group: usize,
    pub rows: u64,
    pub events: Option<(i64, i64)>,
}

/// The stored table's schema: rows, the event range (when the table has an event index) and
/// the block's data.
pub fn stored_schema(events: bool) -> SchemaRef {
    let mut fields = vec![Field::new(ROWS_COLUMN, DataType::UInt32, false)];
    if events {
        fields.push(Field::new(EVENT_MIN_COLUMN, DataType::Int64, false));
        fields.push(Field::new(EVENT_MAX_COLUMN, DataType::Int64, false));
    }
    fields.push(Field::new(DATA_COLUMN, DataType::Binary, false));
    Arc::new(Schema::new(fields))
}

/// The Parquet writer of a block file (tables and fields alike): one row group per row, the
/// blocks stored as they are (no Parquet compression, encoding or statistics), the footer
/// entries `entries`.
///
/// # Errors
/// Parquet errors.
pub(crate) fn block_file_writer<W: Write + Send>(
    out: W,
    schema: SchemaRef,
    entries: Vec<(String, String)>,
) -> Result<ArrowWriter<W>> {
    let props = WriterProperties::builder()
        .set_compression(Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .set_encoding(Encoding::PLAIN)
        .set_max_row_group_row_count(Some(1))
        .set_statistics_enabled(EnabledStatistics::None)
        .set_created_by(format!("baler-udfs {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(
            entries
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, v))
                .collect(),
        ))
        .build();
    let options = parquet::arrow::arrow_writer::ArrowWriterOptions::new()
        .with_properties(props)
        .with_skip_arrow_metadata(true);
    Ok(ArrowWriter::try_new_with_options(out, schema, options)?)
}

/// Writes a compressed file's blocks, one per row group, then its footer.
pub struct BlockWriter<W: Write + Send> {
    writer: ArrowWriter<W>,
    schema: SchemaRef,
    events: bool,
    blocks: usize,
    stats: Option<BlockStats>,
}

impl<W: Write + Send> BlockWriter<W> {
    /// A writer of the file whose footer is `footer`: embedded, or with `model_file` (a file
    /// name beside the data) referenced instead.
    ///
    /// # Errors
    /// Parquet errors.
    pub fn try_new(out: W, footer: &Footer, model_file: Option<&str>) -> Result<Self> {
        let events = footer.header.event.is_some();
        let entries = match model_file {
            Some(name) => footer.reference_entries(name),
            None => footer.entries()?,
        };
        let schema = stored_schema(events);
        let writer = block_file_writer(out, schema.clone(), entries)?;
        Ok(Self {
            writer,
            schema,
            events,
            blocks: 0,
            stats: None,
        })
    }

    /// Writes one block of `rows` rows whose event index spans `events`.
    ///
    /// # Errors
    /// Parquet errors, and [`Error::Block`] for a block of more than `u32::MAX` rows.
    pub fn write(&mut self, block: &[u8], rows: usize, events: Option<(i64, i64)>) -> Result<()> {
        let rows = u32::try_from(rows)
            .map_err(|_| Error::Block(format!("{rows} rows do not fit in one block")))?;
        let mut columns: Vec<ArrayRef> = vec![Arc::new(UInt32Array::from(vec![rows]))];
        if self.events {
            let (lo, hi) = events.unwrap_or((0, -1));
            columns.push(Arc::new(Int64Array::from(vec![lo])));
            columns.push(Arc::new(Int64Array::from(vec![hi])));
        }
        columns.push(Arc::new(BinaryArray::from(vec![block])));
        self.writer
            .write(&RecordBatch::try_new(self.schema.clone(), columns)?)?;
        self.writer.flush()?;
        self.blocks += 1;
        Ok(())
    }

    /// Records the statistics of the block just written, from what decoding it gives (the
    /// original columns). Written in the footer only when every block has them.
    ///
    /// # Errors
    /// Arrow errors, and [`Error::MissingColumn`] for a batch without a column of the first.
    pub fn record_stats(&mut self, decoded: &RecordBatch) -> Result<()> {
        let stats = self
            .stats
            .get_or_insert_with(|| BlockStats::new(&decoded.schema()));
        stats.add(decoded)
    }

    /// Writes the footer (with the block statistics when there is more than one block and
    /// every block has them); returns the file's metadata.
    ///
    /// # Errors
    /// Parquet errors.
    pub fn finish(mut self) -> Result<ParquetMetaData> {
        // One block has nothing to skip within the file, and small files should not pay for
        // statistics (about 40 bytes per column).
        if let Some(stats) = self.stats.take()
            && self.blocks > 1
            && stats.check(self.blocks).is_ok()
        {
            let json = serde_json::to_string(&stats).map_err(|e| Error::Damaged {
                key: STATS_KEY.into(),
                message: e.to_string(),
            })?;
            self.writer
                .append_key_value_metadata(KeyValue::new(STATS_KEY.to_owned(), json));
        }
        Ok(self.writer.close()?)
    }
}

/// A compressed file, opened: its codec and its blocks.
#[derive(Debug, Clone)]
pub struct CompressedFile {
    pub path: PathBuf,
    pub codec: Arc<Codec>,
    pub footer: Arc<Footer>,
    pub blocks: Vec<BlockInfo>,
    /// The decoded columns' per-block minima and maxima, when the file has them.
    pub stats: Option<Arc<BlockStats>>,
    metadata: ArrowReaderMetadata,
}

impl CompressedFile {
    /// Opens a compressed file: reads and checks its footer and lists its blocks.
    ///
    /// # Errors
    /// [`Error::Io`] and [`Error::Parquet`] for a file that cannot be read as Parquet, footer
    /// errors (see [`Footer::from_metadata`]), and [`Error::Block`] when its stored table is not
    /// the one the format defines.
    pub fn open(path: &Path) -> Result<Self> {
        guarded(|| Self::open_unguarded(path))
    }

    fn open_unguarded(path: &Path) -> Result<Self> {
        let file = File::open(path)?;
        let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())?;
        let kv = key_values(metadata.metadata());
        let footer = if kv.contains_key(MODEL_KEY) {
            crate::format::check_version(&kv)?;
            referenced_footer(path, &kv)?
        } else {
            Footer::from_metadata(&kv)?
        };
        let codec = Codec::try_new(&footer)?;
        let events = footer.header.event.is_some();
        let expected = stored_schema(events);
        let found = metadata.schema();
        let names = |s: &Schema| {
            s.fields()
                .iter()
                .map(|f| format!("{} {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
        };
        if names(found) != names(&expected) {
            return Err(Error::Block(format!(
                "the stored table has columns [{}], expected [{}]",
                names(found).join(", "),
                names(&expected).join(", ")
            )));
        }
        let mut blocks = Vec::new();
        let index_columns: Vec<usize> = (0..expected.fields().len() - 1).collect();
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone())
            .with_projection(ProjectionMask::roots(
                metadata.parquet_schema(),
                index_columns,
            ))
            .with_batch_size(1024)
            .build()?;
        for batch in reader {
            let batch = batch?;
            let rows = batch.column(0).as_primitive::<UInt32Type>();
            let range = events.then(|| {
                (
                    batch.column(1).as_primitive::<Int64Type>(),
                    batch.column(2).as_primitive::<Int64Type>(),
                )
            });
            for i in 0..batch.num_rows() {
                blocks.push(BlockInfo {
                    row_group: blocks.len(),
                    rows: u64::from(rows.value(i)),
                    events: range.map(|(lo, hi)| (lo.value(i), hi.value(i))),
                });
            }
        }
        let groups = metadata.metadata().num_row_groups();
        if blocks.len() != groups {
            return Err(Error::Block(format!(
                "{} blocks in {groups} row groups; the format has one block per row group",
                blocks.len()
            )));
        }
        // Statistics that do not fit the blocks are not used (the file still decodes).
        let stats = kv
            .get(STATS_KEY)
            .and_then(|json| serde_json::from_str::<BlockStats>(json).ok())
            .filter(|s| s.check(blocks.len()).is_ok())
            .map(Arc::new);
        Ok(Self {
            path: path.to_owned(),
            codec: Arc::new(codec),
            footer: Arc::new(footer),
            blocks,
            metadata,
            stats,
        })
    }

    /// The rows of every block together.
    pub fn rows(&self) -> u64 {
        self.blocks.iter().map(|b| b.rows).sum()
    }

    /// The bytes of block `i`.
    ///
    /// # Errors
    /// I/O and Parquet errors, and [`Error::Block`] for a block index out of range.
    pub fn read_block(&self, i: usize) -> Result<Vec<u8>> {
        guarded(|| self.read_block_unguarded(i))
    }

    fn read_block_unguarded(&self, i: usize) -> Result<Vec<u8>> {
        let info = self
            .blocks
            .get(i)
            .ok_or_else(|| Error::Block(format!("no block {i} in {} blocks", self.blocks.len())))?;
        let file = File::open(&self.path)?;
        let data = self.metadata.schema().fields().len() - 1;
        let mut reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone())
                .with_row_groups(vec![info.row_group])
                .with_projection(ProjectionMask::roots(
                    self.metadata.parquet_schema(),
                    [data],
                ))
                .build()?;
        let batch = reader
            .next()
            .transpose()?
            .ok_or_else(|| Error::Block(format!("block {i} has no data")))?;
        let bytes = batch
            .column(0)
            .as_binary_opt::<i32>()
            .filter(|b| b.len() == 1 && b.is_valid(0))
            .ok_or_else(|| Error::Block(format!("block {i} is not one binary value")))?;
        Ok(bytes.value(0).to_vec())
    }

    /// Reads and decodes block `i`.
    ///
    /// # Errors
    /// Those of [`CompressedFile::read_block`] and [`Codec::decode_block`], and
    /// [`Error::Block`] when the block's row count disagrees with its index entry.
    pub fn decode_block(&self, i: usize) -> Result<RecordBatch> {
        let all: Vec<usize> = (0..self.codec.header().columns.len()).collect();
        self.decode_block_projected(i, &all)
    }

    /// Reads block `i` and decodes the original columns `projection` (header indices), as
    /// [`Codec::decode_projected`] does: the batch holds those columns, in that order.
    ///
    /// # Errors
    /// Those of [`CompressedFile::decode_block`].
    pub fn decode_block_projected(&self, i: usize, projection: &[usize]) -> Result<RecordBatch> {
        let in_block = |e| Error::InBlock {
            block: i,
            source: Box::new(e),
        };
        let bytes = self.read_block(i).map_err(in_block)?;
        let batch =
            guarded(|| Ok(self.codec.decode_projected(&bytes, projection)?.0)).map_err(in_block)?;
        if batch.num_rows() as u64 != self.blocks[i].rows {
            return Err(Error::Block(format!(
                "block {i} holds {} rows, its index says {}",
                batch.num_rows(),
                self.blocks[i].rows
            )));
        }
        Ok(batch)
    }
}

/// Runs `f`, turning a panic (a library failing on hostile bytes) into an error: a reader of
/// files must never crash.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let detail = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        Err(Error::Block(format!(
            "the Parquet reader failed on damaged data ({detail})"
        )))
    })
}

/// A Parquet file's footer key-value metadata.
pub fn key_values(metadata: &ParquetMetaData) -> HashMap<String, String> {
    metadata
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?)))
        .collect()
}

/// Whether a Parquet file's footer says it is baler-compressed.
///
/// # Errors
/// I/O and Parquet errors.
pub fn is_compressed(path: &Path) -> Result<bool> {
    let file = File::open(path)?;
    let metadata = parquet::file::metadata::ParquetMetaDataReader::new().parse_and_finish(&file)?;
    Ok(key_values(&metadata).contains_key(crate::format::FORMAT_KEY))
}
