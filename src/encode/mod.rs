//! Encoding: the second pass of `compress`. Every batch of the input is turned into stored
//! model inputs ([`Encoder`]), written with the pass-through columns as baler Parquet (format
//! from `baler-udfs`), decoded again by the same code `decompress` runs (to measure what the
//! file gives back), and written as lossless Parquet to a byte counter (to compare with).

mod encoder;
mod writer;

use std::path::Path;

use arrow::array::{ArrayRef, RecordBatch};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;

pub(crate) use self::encoder::compress_err;
pub use self::encoder::{Encoder, estimate};
pub use self::writer::Parts;
use self::writer::{stored_properties, stored_schema};
use crate::convert::{ByteCounter, DEFAULT_ZSTD_LEVEL, lossless_properties};
use crate::error::{Error, Result};
use crate::ingest::{self, f64_values};
use crate::metrics::{Sizes, VariableAccumulator, VariableMetrics};
use crate::model::Autoencoder;
use crate::output::AtomicFile;
use crate::progress::Progress;
use baler_udfs::format::{Header, Storage, footer_entries};

/// What one encoding pass wrote and measured.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub rows: u64,
    /// The residual and response metrics of each model column.
    pub variables: Vec<VariableMetrics>,
    pub sizes: Sizes,
    pub parts: Parts,
}

/// Encodes every batch of `reader` into a baler Parquet file at `output` with the model of
/// `header` (`weights`, and the autoencoder for method `ae`).
///
/// # Errors
/// [`Error::Compress`] for a value no grid point can hold, read and write failures (which leave
/// no file behind).
pub fn write(
    reader: ingest::JetReader,
    output: &Path,
    header: &Header,
    autoencoder: Option<&Autoencoder>,
    weights: &[u8],
    force: bool,
    progress: &dyn Progress,
) -> Result<Encoded> {
    let input = reader.path().to_owned();
    let in_schema = reader.schema();
    let encoder = Encoder::new(header, autoencoder, weights, &input)?;
    let codec = &encoder.codec;
    let entries = footer_entries(header, weights).map_err(compress_err(&input))?;
    let out_schema = stored_schema(&in_schema, header);
    let model_columns = codec.model_columns();
    let parquet_err = |source| Error::Parquet {
        path: output.to_owned(),
        source,
    };
    let file = AtomicFile::create(output, force)?;
    // Created at the first batch (or, for an empty input, at the end), whose residuals choose
    // their columns' encodings.
    let mut writer = None;
    let open_writer = |first: &RecordBatch| -> Result<ArrowWriter<std::fs::File>> {
        let props = stored_properties(first, output)?;
        ArrowWriter::try_new(file.handle()?, out_schema.clone(), Some(props)).map_err(parquet_err)
    };
    let mut lossless = ArrowWriter::try_new(
        ByteCounter::default(),
        in_schema.clone(),
        Some(lossless_properties(&in_schema, DEFAULT_ZSTD_LEVEL)?),
    )
    .map_err(parquet_err)?;
    let mut metrics = vec![VariableAccumulator::default(); model_columns.len()];
    let mut rows = 0u64;
    progress.start("compress", reader.total_rows());
    for batch in reader {
        let batch = batch?;
        let originals = model_columns
            .iter()
            .map(|&i| f64_values(batch.column(i)))
            .collect::<Result<Vec<_>>>()?;
        let mut arrays: Vec<ArrayRef> = header
            .columns
            .iter()
            .filter(|c| matches!(c.storage, Storage::PassThrough))
            .map(|c| {
                batch
                    .column_by_name(&c.name)
                    .expect("pass-through column")
                    .clone()
            })
            .collect();
        let (inputs, model) = encoder.encode(&originals)?;
        arrays.extend(inputs);
        let stored = RecordBatch::try_new(out_schema.clone(), arrays)?;
        let writer = match &mut writer {
            Some(w) => w,
            None => writer.insert(open_writer(&stored)?),
        };
        writer.write(&stored).map_err(parquet_err)?;
        lossless.write(&batch).map_err(parquet_err)?;
        let rebuilt = codec
            .assemble(&batch, model)
            .map_err(compress_err(&input))?;
        measure(&mut metrics, &model_columns, &originals, &rebuilt)?;
        rows += batch.num_rows() as u64;
        progress.advance(batch.num_rows() as u64);
    }
    progress.finish();
    let mut writer = match writer {
        Some(w) => w,
        None => open_writer(&RecordBatch::new_empty(out_schema.clone()))?,
    };
    for (k, v) in entries {
        writer.append_key_value_metadata(KeyValue::new(k, v));
    }
    let metadata = writer.close().map_err(parquet_err)?;
    let lossless_bytes = lossless.into_inner().map_err(parquet_err)?.0;
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
        input_bytes: std::fs::metadata(&input).map(|m| m.len()).unwrap_or(0),
        output_bytes: std::fs::metadata(output).map(|m| m.len()).unwrap_or(0),
        lossless_bytes,
        raw_bytes: rows * raw_width as u64,
        latent_bytes: rows * ae.map_or(0, |a| a.model.latent as u64) * encoder.storage.width(),
    };
    Ok(Encoded {
        rows,
        variables: metrics
            .iter()
            .zip(&model_columns)
            .map(|(m, &i)| m.finish(&header.columns[i].name))
            .collect(),
        parts: Parts::of(&metadata, sizes.output_bytes, rows),
        sizes,
    })
}

/// Adds the residuals of the model columns of one batch (header indices `columns`, original
/// values `originals`) to `metrics`.
fn measure(
    metrics: &mut [VariableAccumulator],
    columns: &[usize],
    originals: &[Vec<f64>],
    rebuilt: &RecordBatch,
) -> Result<()> {
    for ((acc, &i), x) in metrics.iter_mut().zip(columns).zip(originals) {
        let y = f64_values(rebuilt.column(i))?;
        acc.update(x.iter().copied().zip(y));
    }
    Ok(())
}
