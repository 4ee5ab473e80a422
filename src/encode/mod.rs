//! Encoding: the second pass of `compress`. Every batch of the input is turned into stored
//! model inputs ([`Encoder`]), written with the pass-through columns as baler Parquet (format
//! from `baler-udfs`), decoded again by the same code `decompress` runs (to measure what the
//! file gives back), and written as lossless Parquet to a byte counter (to compare with).

mod encoder;
mod writer;

use std::path::Path;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::Int64Type;
use baler_udfs::codec::StreamSize;
use baler_udfs::file::BlockWriter;
use baler_udfs::format::Header;
use parquet::arrow::ArrowWriter;

pub(crate) use self::encoder::compress_err;
pub use self::encoder::{Encoder, estimate};
pub use self::writer::Parts;
use crate::convert::{ByteCounter, DEFAULT_ZSTD_LEVEL, lossless_properties};
use crate::error::{Error, Result};
use crate::ingest::{self, f64_values};
use crate::metrics::{Sizes, VariableAccumulator, VariableMetrics};
use crate::model::Autoencoder;
use crate::output::AtomicFile;
use crate::progress::Progress;

/// What one encoding pass wrote and measured.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub rows: u64,
    /// The residual and response metrics of each model column.
    pub variables: Vec<VariableMetrics>,
    pub sizes: Sizes,
    pub parts: Parts,
    /// The coded bytes of each stream, over every block.
    pub streams: Vec<StreamSize>,
}

/// The model a file is written with.
pub struct Model<'a> {
    pub header: &'a Header,
    /// The autoencoder, for method `ae` (its encoder makes the latents).
    pub autoencoder: Option<&'a Autoencoder>,
    /// The weights the file carries (safetensors bytes).
    pub weights: &'a [u8],
    /// The model file, beside the output, that the file references instead of embedding the
    /// model.
    pub file: Option<&'a str>,
}

/// Encodes every batch of `reader` (one block each) into a baler Parquet file at `output` with
/// `model`.
///
/// # Errors
/// [`Error::Compress`] for a value no grid point can hold, read and write failures (which leave
/// no file behind).
pub fn write(
    reader: ingest::JetReader,
    output: &Path,
    model: &Model,
    force: bool,
    progress: &dyn Progress,
) -> Result<Encoded> {
    let input = reader.path().to_owned();
    let in_schema = reader.schema();
    let header = model.header;
    let encoder = Encoder::new(header, model.autoencoder, model.weights, &input)?;
    let model_columns = encoder.codec.model_columns();
    let event = header
        .event
        .as_ref()
        .and_then(|e| in_schema.index_of(e).ok());
    let parquet_err = |source| Error::Parquet {
        path: output.to_owned(),
        source,
    };
    let mut file = AtomicFile::create(output, force)?;
    let mut blocks = BlockWriter::try_new(file.file(), &encoder.footer, model.file)
        .map_err(compress_err(output))?;
    let mut lossless = ArrowWriter::try_new(
        ByteCounter::default(),
        in_schema.clone(),
        Some(lossless_properties(&in_schema, DEFAULT_ZSTD_LEVEL)?),
    )
    .map_err(parquet_err)?;
    let mut metrics = vec![VariableAccumulator::default(); model_columns.len()];
    let mut parts = Parts::default();
    let mut streams: Vec<StreamSize> = Vec::new();
    let mut rows = 0u64;
    let mut first: Option<RecordBatch> = None;
    progress.start("compress", reader.total_rows());
    // Batches are encoded a window at a time, one thread per batch, and written in order.
    let window = crate::parallel::threads();
    let mut reader = reader.into_iter();
    loop {
        let batches = reader
            .by_ref()
            .take(window)
            .collect::<Result<Vec<RecordBatch>>>()?;
        if batches.is_empty() {
            break;
        }
        let encoded = crate::parallel::map(&batches, |b| encoder.encode(b));
        for (batch, block) in batches.iter().zip(encoded) {
            let block = block?;
            if first.is_none() {
                first = Some(block.decoded.clone());
            }
            let events = event.and_then(|i| event_range(batch, i));
            blocks
                .write(&block.bytes, batch.num_rows(), events)
                .and_then(|()| blocks.record_stats(&block.decoded))
                .map_err(compress_err(output))?;
            lossless.write(batch).map_err(parquet_err)?;
            measure(&mut metrics, &model_columns, batch, &block.decoded)?;
            parts.add(&block.streams);
            add_streams(&mut streams, &block.streams);
            rows += batch.num_rows() as u64;
            progress.advance(batch.num_rows() as u64);
        }
    }
    progress.finish();
    blocks.finish().map_err(compress_err(output))?;
    let lossless_bytes = lossless.into_inner().map_err(parquet_err)?.0;
    if let Some(written) = file.written_path() {
        check_written(written, output, first.as_ref())?;
    }
    file.commit()?;
    let raw_width: usize = model_columns
        .iter()
        .map(|&i| {
            in_schema
                .field(i)
                .data_type()
                .primitive_width()
                .unwrap_or(1)
        })
        .sum();
    let ae = header.method.ae();
    let sizes = Sizes {
        input_bytes: crate::output::file_bytes(&input),
        output_bytes: crate::output::file_bytes(output),
        lossless_bytes,
        raw_bytes: rows * raw_width as u64,
        latent_bytes: rows * ae.map_or(0, |a| a.model.latent as u64) * encoder.storage.width(),
        model_bytes: 0,
    };
    parts.finish(sizes.output_bytes, rows);
    Ok(Encoded {
        rows,
        variables: metrics
            .iter()
            .zip(&model_columns)
            .map(|(m, &i)| m.finish(&header.columns[i].name))
            .collect(),
        parts,
        sizes,
        streams,
    })
}

/// Reopens a file just written (under its temporary name) and decodes its first block, which
/// must give exactly what encoding said: a success never leaves a file that does not decode.
///
/// # Errors
/// [`Error::Verify`] naming `output` when the file cannot be read back or decodes otherwise.
fn check_written(written: &Path, output: &Path, first: Option<&RecordBatch>) -> Result<()> {
    let failed = |message: String| Error::Verify {
        path: output.to_owned(),
        message: format!("the file written does not read back: {message}"),
    };
    let file =
        baler_udfs::file::CompressedFile::open(written).map_err(|e| failed(e.to_string()))?;
    match (first, file.blocks.is_empty()) {
        (None, true) => Ok(()),
        (Some(expected), false) => {
            let decoded = file.decode_block(0).map_err(|e| failed(e.to_string()))?;
            let differs = decoded.num_columns() != expected.num_columns()
                || decoded
                    .columns()
                    .iter()
                    .zip(expected.columns())
                    .any(|(a, b)| crate::verify::first_difference(a, b).is_some());
            if differs {
                Err(failed("its first block decodes to other values".into()))
            } else {
                Ok(())
            }
        }
        _ => Err(failed("its blocks are not the ones written".into())),
    }
}

/// The smallest and largest event index of a batch (column `i`), as `i64`.
fn event_range(batch: &RecordBatch, i: usize) -> Option<(i64, i64)> {
    let events = arrow::compute::cast(batch.column(i), &arrow::datatypes::DataType::Int64).ok()?;
    let events = events
        .as_any()
        .downcast_ref::<arrow::array::PrimitiveArray<Int64Type>>()?;
    Some((arrow::compute::min(events)?, arrow::compute::max(events)?))
}

/// Adds a block's stream sizes to the totals (matched by position: every block has the same
/// streams).
fn add_streams(totals: &mut Vec<StreamSize>, block: &[StreamSize]) {
    if totals.is_empty() {
        totals.extend_from_slice(block);
    } else {
        for (t, s) in totals.iter_mut().zip(block) {
            t.bytes += s.bytes;
        }
    }
}

/// Adds the residuals of the model columns (header indices `columns`) of one batch to
/// `metrics`: the original values in `batch`, the decoded ones in `rebuilt`.
fn measure(
    metrics: &mut [VariableAccumulator],
    columns: &[usize],
    batch: &RecordBatch,
    rebuilt: &RecordBatch,
) -> Result<()> {
    for (acc, &i) in metrics.iter_mut().zip(columns) {
        let x = f64_values(batch.column(i))?;
        let y = f64_values(rebuilt.column(i))?;
        acc.update(x.into_iter().zip(y));
    }
    Ok(())
}
