//! Compression: fit the autoencoder, write baler Parquet (format from `baler-udfs`), measure.
//!
//! `compress` reads the input twice: a first pass ([`scan`]) finds each column's range, refuses
//! NaN, infinities and nulls, and keeps a training sample; the second streams every row through
//! the encoder into the output, decodes the latents again exactly as `decompress` will (to
//! measure the residuals) and writes the same rows as lossless Parquet to a byte counter (to
//! compare with).

pub mod model_file;
mod scan;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float32Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use baler_udfs::codec::Codec;
use baler_udfs::format::{
    ColumnSpec, FORMAT_VERSION, Footer, Header, LatentSpec, ModelSpec, Storage, TrainingSummary,
    footer_entries, latent_name,
};
use candle_core::{Module, Tensor};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::KeyValue;
use serde::Serialize;

pub use self::scan::{Scan, scan};
use crate::convert::{DEFAULT_ZSTD_LEVEL, lossless_properties, write_file};
use crate::error::{Error, Result};
use crate::ingest::{self, DroppedColumn, ReadOptions};
use crate::metrics::{Ratios, Sizes, VariableAccumulator, VariableMetrics};
use crate::model::{
    Autoencoder, DEFAULT_HIDDEN, DEFAULT_NEGATIVE_SLOPE, DeviceChoice, Normaliser, SelectedDevice,
    TrainConfig, select_device, train,
};
use crate::output::{AtomicFile, check_output};
use crate::progress::{NoProgress, Progress};

/// Compression ratio that sets the latent size when neither `--latent` nor `--ratio` is given.
pub const DEFAULT_RATIO: f64 = 3.0;
/// Rows kept in memory for training.
pub const DEFAULT_MAX_TRAIN_ROWS: usize = 1_000_000;

/// How many latent numbers per row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatentSize {
    /// Exactly this many.
    Fixed(usize),
    /// `ceil(n / R)` for `n` compressed columns.
    Ratio(f64),
}

impl LatentSize {
    /// The latent size for `n` compressed columns.
    ///
    /// # Errors
    /// [`Error::Options`] unless `1 ≤ k < n`.
    pub fn resolve(self, n: usize) -> Result<usize> {
        let k = match self {
            Self::Fixed(k) => k,
            Self::Ratio(r) if r > 1.0 => (n as f64 / r).ceil() as usize,
            Self::Ratio(r) => {
                return Err(Error::Options {
                    message: format!("`--ratio {r}` must be greater than 1"),
                });
            }
        };
        if k == 0 || k >= n {
            return Err(Error::Options {
                message: format!(
                    "a latent size of {k} does not compress {n} columns; choose `--latent` between 1 and {}",
                    n.saturating_sub(1)
                ),
            });
        }
        Ok(k)
    }
}

/// Options for [`compress`] and [`fit`].
#[derive(Clone)]
pub struct CompressOptions {
    pub latent: LatentSize,
    pub hidden: Vec<usize>,
    pub train: TrainConfig,
    /// Columns stored losslessly as they are (besides `event`).
    pub keep: Vec<String>,
    pub max_train_rows: usize,
    /// A model from `baler-arrow train`, used instead of training.
    pub model: Option<PathBuf>,
    /// Where to train and encode.
    pub device: DeviceChoice,
    pub force: bool,
    /// Write lossless Parquet instead when the autoencoder's file would be larger.
    pub fallback_lossless: bool,
    pub progress: Arc<dyn Progress>,
}

impl Default for CompressOptions {
    fn default() -> Self {
        Self {
            latent: LatentSize::Ratio(DEFAULT_RATIO),
            hidden: DEFAULT_HIDDEN.to_vec(),
            train: TrainConfig::default(),
            keep: Vec::new(),
            max_train_rows: DEFAULT_MAX_TRAIN_ROWS,
            model: None,
            device: DeviceChoice::Cpu,
            force: false,
            fallback_lossless: false,
            progress: Arc::new(NoProgress),
        }
    }
}

/// A fitted model with the header that describes how it maps the input's columns.
pub struct Fitted {
    pub model: Autoencoder,
    pub header: Header,
}

/// Trains a model on `input` (first pass plus training).
///
/// # Errors
/// Read errors, bad values (see [`scan`]), an impossible latent size, candle errors.
pub fn fit(input: &Path, read: &ReadOptions, options: &CompressOptions) -> Result<(Fitted, Scan)> {
    let progress = options.progress.as_ref();
    let scan = scan(
        ingest::open(input, read)?,
        &options.keep,
        options.max_train_rows,
        progress,
    )?;
    let columns = column_specs(&scan)?;
    let n = columns
        .iter()
        .filter(|c| matches!(c.storage, Storage::Decoded { .. }))
        .count();
    if n < 2 {
        return Err(Error::Options {
            message: format!(
                "`{}` has {n} varying numeric columns outside `--keep`; the autoencoder needs at least 2",
                input.display()
            ),
        });
    }
    let spec = ModelSpec {
        outputs: n,
        hidden: options.hidden.clone(),
        latent: options.latent.resolve(n)?,
        negative_slope: DEFAULT_NEGATIVE_SLOPE,
    };
    let selected = selected_device(options)?;
    let device = selected.device.clone();
    let model = Autoencoder::new(&spec, options.train.seed, &device)?;
    let normaliser = normaliser(&columns);
    let sample: Vec<Vec<f64>> = scan
        .candidates
        .iter()
        .filter(|c| !c.stats.is_constant())
        .map(|c| c.sample.clone())
        .collect();
    let summary = train(
        &model,
        normaliser.normalise(&sample),
        &options.train,
        &device,
        progress,
    )?;
    let header = Header {
        format: FORMAT_VERSION,
        tool: format!("baler-arrow {}", env!("CARGO_PKG_VERSION")),
        method: "ae".into(),
        columns,
        latent: LatentSpec {
            columns: (0..spec.latent).map(latent_name).collect(),
            data_type: DataType::Float32.to_string(),
        },
        model: spec,
        training: TrainingSummary {
            epochs: summary.epochs,
            final_loss: summary.final_loss,
            seed: options.train.seed,
            device: selected.name().into(),
            rows: summary.rows,
            learning_rate: summary.learning_rate,
            seconds: summary.seconds,
        },
    };
    Ok((Fitted { model, header }, scan))
}

/// The device the options ask for; a fallback is reported as a note.
fn selected_device(options: &CompressOptions) -> Result<SelectedDevice> {
    let selected = select_device(options.device)?;
    if let Some(note) = &selected.note {
        options.progress.note(note);
    }
    Ok(selected)
}

/// The original columns in order: pass-through, constant, or decoded with their range.
fn column_specs(scan: &Scan) -> Result<Vec<ColumnSpec>> {
    let mut next = 0;
    scan.schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let storage = match scan.candidates.iter().find(|c| c.index == i) {
                None => Storage::PassThrough,
                Some(c) if c.stats.is_constant() => Storage::Constant {
                    value: c.first.clone().unwrap_or_default(),
                },
                Some(c) => {
                    next += 1;
                    let transform = c.stats.transform(field.data_type().is_floating());
                    Storage::Decoded {
                        index: next - 1,
                        min: transform.forward(c.stats.min),
                        max: transform.forward(c.stats.max),
                        transform,
                    }
                }
            };
            Ok(ColumnSpec {
                name: field.name().clone(),
                data_type: field.data_type().to_string(),
                storage,
            })
        })
        .collect()
}

/// The normalisation of the decoded columns, in decoder-output order.
fn normaliser(columns: &[ColumnSpec]) -> Normaliser {
    let mut ranges: Vec<_> = columns
        .iter()
        .filter_map(|c| match c.storage {
            Storage::Decoded {
                index,
                min,
                max,
                transform,
            } => Some((index, (min, max, transform))),
            _ => None,
        })
        .collect();
    ranges.sort_by_key(|r| r.0);
    Normaliser::new(ranges.into_iter().map(|(_, r)| r))
}

/// What [`compress`] wrote and how well it did.
#[derive(Debug, Clone, Serialize)]
pub struct CompressReport {
    pub output: PathBuf,
    pub rows: u64,
    pub latent: usize,
    pub decoded_columns: usize,
    pub pass_through: Vec<String>,
    pub constant: Vec<String>,
    pub dropped: Vec<(String, String)>,
    pub training: TrainingSummary,
    pub variables: Vec<VariableMetrics>,
    pub sizes: Sizes,
    pub ratios: Ratios,
    /// What the output holds: `"ae"`, or `"lossless"` after a fallback.
    pub written: String,
    /// Set when the autoencoder's file is larger than lossless Parquet.
    pub warning: Option<String>,
}

/// Compresses `input` into a baler Parquet file at `output`.
///
/// # Errors
/// Anything [`fit`] reports, a `--model` whose columns differ from the input's, an output that
/// exists or is the input, and write failures (which leave no file behind).
pub fn compress(
    input: &Path,
    output: &Path,
    read: &ReadOptions,
    options: &CompressOptions,
) -> Result<CompressReport> {
    check_output(input, output, options.force)?;
    let fitted = match &options.model {
        None => fit(input, read, options)?.0,
        Some(path) => load_fitting(path, input, read, options)?,
    };
    let reader = ingest::open(input, read)?;
    let dropped = reader
        .dropped()
        .iter()
        .map(|d: &DroppedColumn| (d.name.clone(), d.reason.clone()))
        .collect();
    let mut report = encode(reader, output, &fitted, options)?;
    report.dropped = dropped;
    if report.sizes.output_bytes > report.sizes.lossless_bytes {
        let (ae, lossless) = (report.sizes.output_bytes, report.sizes.lossless_bytes);
        report.warning = Some(if options.fallback_lossless {
            let convert = crate::convert::ConvertOptions::default().with_force(true);
            crate::convert::convert(input, output, read, &convert)?;
            report.written = "lossless".into();
            report.sizes.output_bytes = lossless;
            report.ratios = Ratios::from(&report.sizes);
            format!(
                "the autoencoder's file ({ae} B) was larger than lossless Parquet ({lossless} B): wrote lossless Parquet instead"
            )
        } else {
            format!(
                "the autoencoder's file ({ae} B) is larger than lossless Parquet ({lossless} B); `--fallback lossless` writes that instead"
            )
        });
    }
    Ok(report)
}

/// Loads a saved model and checks that it describes `input`'s columns.
fn load_fitting(
    path: &Path,
    input: &Path,
    read: &ReadOptions,
    options: &CompressOptions,
) -> Result<Fitted> {
    let (model, header) = model_file::load(path, &selected_device(options)?.device)?;
    let progress = options.progress.as_ref();
    let mut keep: Vec<String> = header
        .columns
        .iter()
        .filter(|c| matches!(c.storage, Storage::PassThrough))
        .map(|c| c.name.clone())
        .collect();
    keep.retain(|k| k != ingest::EVENT_COLUMN);
    let reader = ingest::open(input, read)?;
    let mismatch = |message: String| Error::ModelMismatch {
        model: path.to_owned(),
        input: input.to_owned(),
        message,
    };
    let schema = reader.schema();
    let have: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), f.data_type()))
        .collect();
    let want: Vec<String> = header
        .columns
        .iter()
        .map(|c| format!("{} {}", c.name, c.data_type))
        .collect();
    if have != want {
        let missing: Vec<_> = want.iter().filter(|w| !have.contains(w)).cloned().collect();
        let extra: Vec<_> = have.iter().filter(|h| !want.contains(h)).cloned().collect();
        return Err(mismatch(format!(
            "the model expects columns the input lacks: [{}]; the input has columns the model lacks: [{}]",
            missing.join(", "),
            extra.join(", ")
        )));
    }
    let scan = scan(reader, &keep, 0, progress)?;
    for (c, spec) in scan.candidates.iter().zip(
        header
            .columns
            .iter()
            .filter(|c| !matches!(c.storage, Storage::PassThrough)),
    ) {
        if let Storage::Constant { value } = &spec.storage
            && (!c.stats.is_constant() || c.first.as_ref() != Some(value))
        {
            return Err(mismatch(format!(
                "column `{}` was the constant {value} in the training data but is not here; train a model on this data",
                spec.name
            )));
        }
    }
    Ok(Fitted { model, header })
}

/// A `Write` that only counts bytes: the size of the lossless baseline.
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

/// The second pass: encode every batch, write it, decode it back, measure.
fn encode(
    reader: ingest::JetReader,
    output: &Path,
    fitted: &Fitted,
    options: &CompressOptions,
) -> Result<CompressReport> {
    let input = reader.path().to_owned();
    let in_schema = reader.schema();
    let header = &fitted.header;
    let decoder = fitted
        .model
        .decoder_bytes()
        .map_err(|message| Error::ModelFile {
            path: output.to_owned(),
            message,
        })?;
    let codec_err = |source| Error::Codec {
        path: output.to_owned(),
        source: Box::new(source),
    };
    let footer = Footer {
        header: header.clone(),
        decoder,
    };
    let codec = Codec::try_new(&footer).map_err(codec_err)?;
    let entries = footer_entries(header, &footer.decoder).map_err(codec_err)?;
    let out_schema = stored_schema(&in_schema, header);
    let decoded: Vec<(usize, String)> = header
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.storage, Storage::Decoded { .. }))
        .map(|(i, c)| (i, c.name.clone()))
        .collect();
    let normaliser = normaliser(&header.columns);
    let parquet_err = |source| Error::Parquet {
        path: output.to_owned(),
        source,
    };
    let mut file = AtomicFile::create(output, options.force)?;
    let props = lossless_properties(&out_schema, DEFAULT_ZSTD_LEVEL)?;
    let mut writer =
        ArrowWriter::try_new(file.file(), out_schema.clone(), Some(props)).map_err(parquet_err)?;
    let mut lossless = ArrowWriter::try_new(
        ByteCounter::default(),
        in_schema.clone(),
        Some(lossless_properties(&in_schema, DEFAULT_ZSTD_LEVEL)?),
    )
    .map_err(parquet_err)?;
    let mut metrics = vec![VariableAccumulator::default(); decoded.len()];
    let mut rows = 0u64;
    let progress = options.progress.as_ref();
    progress.start("compress", reader.total_rows());
    for batch in reader {
        let batch = batch?;
        let stored = encode_batch(&batch, &fitted.model, &normaliser, &decoded, &out_schema)?;
        writer.write(&stored).map_err(parquet_err)?;
        lossless.write(&batch).map_err(parquet_err)?;
        let rebuilt = codec.decode_batch(&stored).map_err(codec_err)?;
        measure(&mut metrics, &decoded, &batch, &rebuilt)?;
        rows += batch.num_rows() as u64;
        progress.advance(batch.num_rows() as u64);
    }
    progress.finish();
    for (k, v) in entries {
        writer.append_key_value_metadata(KeyValue::new(k, v));
    }
    writer.close().map_err(parquet_err)?;
    let lossless_bytes = lossless.into_inner().map_err(parquet_err)?.0;
    file.commit()?;
    let raw_width: usize = decoded
        .iter()
        .map(|(i, _)| {
            in_schema
                .field(*i)
                .data_type()
                .primitive_width()
                .unwrap_or(1)
        })
        .sum();
    let sizes = Sizes {
        input_bytes: std::fs::metadata(&input).map(|m| m.len()).unwrap_or(0),
        output_bytes: std::fs::metadata(output).map(|m| m.len()).unwrap_or(0),
        lossless_bytes,
        raw_bytes: rows * raw_width as u64,
        latent_bytes: rows * header.model.latent as u64 * 4,
    };
    let names_with = |pred: fn(&Storage) -> bool| {
        header
            .columns
            .iter()
            .filter(|c| pred(&c.storage))
            .map(|c| c.name.clone())
            .collect()
    };
    Ok(CompressReport {
        output: output.to_owned(),
        rows,
        latent: header.model.latent,
        decoded_columns: decoded.len(),
        pass_through: names_with(|s| matches!(s, Storage::PassThrough)),
        constant: names_with(|s| matches!(s, Storage::Constant { .. })),
        dropped: Vec::new(),
        training: header.training.clone(),
        variables: metrics
            .iter()
            .zip(&decoded)
            .map(|(m, (_, name))| m.finish(name))
            .collect(),
        ratios: Ratios::from(&sizes),
        sizes,
        written: "ae".into(),
        warning: None,
    })
}

/// Adds the residuals of the decoded columns of one batch to `metrics`.
fn measure(
    metrics: &mut [VariableAccumulator],
    decoded: &[(usize, String)],
    original: &RecordBatch,
    rebuilt: &RecordBatch,
) -> Result<()> {
    for (acc, (i, _)) in metrics.iter_mut().zip(decoded) {
        let x = scan::as_f64(original.column(*i))?;
        let y = scan::as_f64(rebuilt.column(*i))?;
        let pairs = x.as_primitive::<Float64Type>().values().iter().copied();
        acc.update(pairs.zip(y.as_primitive::<Float64Type>().values().iter().copied()));
    }
    Ok(())
}

/// The stored columns: pass-through columns in input order, then the latents.
fn stored_schema(input: &Schema, header: &Header) -> SchemaRef {
    let pass = header
        .columns
        .iter()
        .filter(|c| matches!(c.storage, Storage::PassThrough))
        .map(|c| {
            input
                .field_with_name(&c.name)
                .expect("pass-through column is in the input")
                .clone()
        });
    let latents = header
        .latent
        .columns
        .iter()
        .map(|n| Field::new(n, DataType::Float32, false));
    Arc::new(Schema::new(pass.chain(latents).collect::<Vec<_>>()))
}

/// Normalises the decoded columns of `batch`, encodes them, and returns the stored batch.
fn encode_batch(
    batch: &RecordBatch,
    model: &Autoencoder,
    normaliser: &Normaliser,
    decoded: &[(usize, String)],
    out_schema: &SchemaRef,
) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    let columns = decoded
        .iter()
        .map(|(i, _)| {
            Ok(scan::as_f64(batch.column(*i))?
                .as_primitive::<Float64Type>()
                .values()
                .to_vec())
        })
        .collect::<Result<Vec<_>>>()?;
    let x = Tensor::from_vec(
        normaliser.normalise(&columns),
        (rows, decoded.len()),
        model.device(),
    )?;
    let z = model.encoder.forward(&x)?;
    let k = z.dim(1)?;
    let z = z.flatten_all()?.to_vec1::<f32>()?;
    let mut arrays: Vec<ArrayRef> = out_schema
        .fields()
        .iter()
        .take(out_schema.fields().len() - k)
        .map(|f| {
            batch
                .column_by_name(f.name())
                .expect("pass-through column")
                .clone()
        })
        .collect();
    arrays.extend((0..k).map(|j| {
        Arc::new(Float32Array::from_iter_values(
            (0..rows).map(|r| z[r * k + j]),
        )) as ArrayRef
    }));
    Ok(RecordBatch::try_new(out_schema.clone(), arrays)?)
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
    let file = std::fs::File::open(input).map_err(|source| Error::Open {
        path: input.to_owned(),
        source,
    })?;
    let parquet_err = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Parquet { path, source }
    };
    let codec_err = |source| Error::Codec {
        path: input.to_owned(),
        source: Box::new(source),
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err(input))?;
    let codec = Codec::from_parquet_metadata(builder.metadata()).map_err(codec_err)?;
    let total = builder.metadata().file_metadata().num_rows() as u64;
    let reader = builder.build().map_err(parquet_err(input))?;
    let schema = codec.output_schema();
    let batches = reader.map(|b| {
        let b = b.map_err(|e| Error::Parquet {
            path: input.to_owned(),
            source: e.into(),
        })?;
        codec.decode_batch(&b).map_err(codec_err)
    });
    let props = lossless_properties(&schema, DEFAULT_ZSTD_LEVEL)?;
    progress.start("decompress", Some(total));
    let rows = write_file(output, schema.clone(), batches, props, force, progress);
    progress.finish();
    let rows = rows?;
    Ok(DecompressSummary {
        output: output.to_owned(),
        rows,
        columns: schema.fields().len(),
    })
}
