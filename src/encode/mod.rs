//! Compression: fit the autoencoder, write baler Parquet (format from `baler-udfs`), measure.
//!
//! `compress` reads the input twice: a first pass ([`scan`]) finds each column's range, refuses
//! NaN, infinities and nulls, and keeps a training sample; the second streams every row through
//! the encoder into the output, decodes the latents again exactly as `decompress` will (to
//! measure the residuals) and writes the same rows as lossless Parquet to a byte counter (to
//! compare with).

pub mod model_file;
mod network;
pub mod predict;
mod scan;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float32Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use baler_udfs::codec::Codec;
use baler_udfs::format::{
    Bound, ColumnSpec, FORMAT_VERSION, Footer, Header, LatentSpec, METHOD_AE, METHOD_PREDICT,
    ModelSpec, Storage, TrainingSummary, footer_entries, latent_name,
};
use baler_udfs::quantise::{Quantiser, RESIDUAL_PREFIX};
use candle_core::{Module, Tensor};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Encoding;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::Serialize;

pub use self::scan::{Scan, scan};
use crate::convert::{
    ByteCounter, DEFAULT_ZSTD_LEVEL, lossless_builder, lossless_properties, parquet_bytes,
    without_dictionary, write_file,
};
use crate::error::{Error, Result};
use crate::evaluate::truncate_f32;
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

/// How to compress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The autoencoder: latent columns and a decoder (plus residuals under error bounds).
    Ae,
    /// Learned cross-column prediction: residual columns only.
    Predict,
    /// Residuals against a constant per column: the model-free baseline of `predict`.
    Residual,
}

impl Method {
    /// Every method, in the order reports list them.
    pub const ALL: [Self; 3] = [Self::Predict, Self::Ae, Self::Residual];

    /// The method that wrote a file with this header (`residual` is `predict` without features).
    pub fn of(header: &Header) -> Self {
        match header.method.as_str() {
            METHOD_PREDICT if header.predictors.iter().all(|p| p.features.is_empty()) => {
                Self::Residual
            }
            METHOD_PREDICT => Self::Predict,
            _ => Self::Ae,
        }
    }

    /// How sentences name it.
    pub fn description(self) -> &'static str {
        match self {
            Self::Ae => "the autoencoder",
            Self::Predict => "learned prediction",
            Self::Residual => "the model-free residual coder",
        }
    }

    /// The name users type and reports show.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ae => "ae",
            Self::Predict => "predict",
            Self::Residual => "residual",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown method `{s}` (expected `ae`, `predict` or `residual`)"))
    }
}

/// How latent columns are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatentStorage {
    Float16,
    /// Float32 rounded to nearest at `mantissa_bits` (23: as computed). Under error bounds
    /// the residuals correct what the rounding moves; the zeroed low bits cost next to
    /// nothing once split into byte streams and compressed.
    Float32 {
        mantissa_bits: u32,
    },
}

impl LatentStorage {
    /// Float32, as computed.
    pub const FULL: Self = Self::Float32 { mantissa_bits: 23 };
    /// The storages tried on a sample for the final model under error bounds.
    const CANDIDATES: [Self; 7] = [
        Self::Float16,
        Self::Float32 { mantissa_bits: 0 },
        Self::Float32 { mantissa_bits: 2 },
        Self::Float32 { mantissa_bits: 4 },
        Self::Float32 { mantissa_bits: 7 },
        Self::Float32 { mantissa_bits: 10 },
        Self::FULL,
    ];

    /// How `header`'s latents are stored.
    pub fn of(header: &Header) -> Self {
        if header.latent.data_type == DataType::Float16.to_string() {
            Self::Float16
        } else {
            Self::Float32 {
                mantissa_bits: header.latent.mantissa_bits.unwrap_or(23),
            }
        }
    }

    /// `Float16`, `Float32`, or `Float32 (7 mantissa bits)`.
    pub fn label(self) -> String {
        match self {
            Self::Float16 => DataType::Float16.to_string(),
            Self::FULL => DataType::Float32.to_string(),
            Self::Float32 { mantissa_bits } => {
                format!("{} ({mantissa_bits} mantissa bits)", DataType::Float32)
            }
        }
    }

    fn apply(self, latent: &mut LatentSpec) {
        let (data_type, bits) = match self {
            Self::Float16 => (DataType::Float16, None),
            Self::FULL => (DataType::Float32, None),
            Self::Float32 { mantissa_bits } => (DataType::Float32, Some(mantissa_bits)),
        };
        latent.data_type = data_type.to_string();
        latent.mantissa_bits = bits;
    }

    /// Stored width in bytes, before compression.
    fn width(self) -> u64 {
        match self {
            Self::Float16 => 2,
            Self::Float32 { .. } => 4,
        }
    }
}

/// Error bounds per column (`pt=1e-2rel`), with `all` for the columns not named.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorBounds {
    pub all: Option<Bound>,
    pub columns: Vec<(String, Bound)>,
}

impl std::str::FromStr for ErrorBounds {
    type Err = String;

    /// `pt=1e-2rel,eta=1e-3abs,all=1e-3rel`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let mut bounds = Self::default();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, bound) = part.split_once('=').ok_or_else(|| {
                format!("`{part}` is not `column=bound` (e.g. `pt=1e-2rel` or `all=1e-3rel`)")
            })?;
            bounds.add(name.trim(), bound.parse()?);
        }
        Ok(bounds)
    }
}

impl ErrorBounds {
    /// The bounds a compressed file was written under; `None` when it has none.
    pub fn of(header: &Header) -> Option<Self> {
        let columns: Vec<(String, Bound)> = header
            .columns
            .iter()
            .filter_map(|c| Some((c.name.clone(), c.bound?)))
            .collect();
        (!columns.is_empty()).then_some(Self { all: None, columns })
    }

    /// Every column under one bound.
    pub fn all(bound: Bound) -> Self {
        Self {
            all: Some(bound),
            columns: Vec::new(),
        }
    }

    /// Adds a bound for `name` (`all` for the default); a later bound replaces an earlier one.
    pub fn add(&mut self, name: &str, bound: Bound) {
        if name == "all" {
            self.all = Some(bound);
        } else {
            self.columns.retain(|(n, _)| n != name);
            self.columns.push((name.to_owned(), bound));
        }
    }

    /// Merges `other` into `self`, `other` winning.
    pub fn merge(&mut self, other: Self) {
        if let Some(all) = other.all {
            self.all = Some(all);
        }
        for (n, b) in other.columns {
            self.add(&n, b);
        }
    }

    /// The bound of column `name`.
    pub fn get(&self, name: &str) -> Option<Bound> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| *b)
            .or(self.all)
    }
}

/// Options for [`compress`] and [`fit`].
#[derive(Clone)]
pub struct CompressOptions {
    /// The latent size; `None`: [`DEFAULT_RATIO`], or chosen on a sample under error bounds.
    pub latent: Option<LatentSize>,
    /// Guaranteed error bounds; `None`: the autoencoder's output as it is.
    pub bounds: Option<ErrorBounds>,
    /// The method; `None`: the autoencoder, or under error bounds the smallest on a sample.
    pub method: Option<Method>,
    /// Latents as Float16 (`Some(true)`), Float32 (`Some(false)`), or chosen on a sample under
    /// error bounds (`None`; Float32 without bounds).
    pub latent_storage: Option<LatentStorage>,
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
    /// Write lossless Parquet instead when the compressed file would be larger.
    pub fallback_lossless: bool,
    pub progress: Arc<dyn Progress>,
}

impl Default for CompressOptions {
    fn default() -> Self {
        Self {
            latent: None,
            bounds: None,
            method: None,
            latent_storage: None,
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
    /// The autoencoder (method `ae`).
    pub model: Option<Autoencoder>,
    pub header: Header,
    /// Method `predict`: the predictors' networks (safetensors bytes; empty without).
    pub weights: Vec<u8>,
    /// The candidates tried on a sample (methods, latent sizes), with their estimated sizes.
    pub estimates: Vec<Estimate>,
    /// This model's own estimated size, once measured on the sample.
    estimated_bytes: Option<u64>,
}

impl Fitted {
    fn new(model: Option<Autoencoder>, header: Header) -> Self {
        Self {
            model,
            header,
            weights: Vec::new(),
            estimates: Vec::new(),
            estimated_bytes: None,
        }
    }

    /// The method as reports name it: `ae`, `predict`, or `residual` (`predict` without
    /// features).
    pub fn method_name(&self) -> &'static str {
        Method::of(&self.header).name()
    }
}

/// The estimated output size of one candidate, from encoding a sample.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub method: String,
    pub latent: usize,
    pub latent_type: String,
    /// Estimated bytes of latents, residuals and footer for the whole input.
    pub bytes: u64,
}

/// Rows of the training sample used to estimate sizes.
pub const ESTIMATE_ROWS: usize = 65_536;
/// Rows used to train the candidate models when the latent size is chosen on a sample.
pub const SEARCH_TRAIN_ROWS: usize = 32_768;
/// Latent sizes tried under error bounds when `--latent` is not given.
pub const SEARCH_LATENTS: [usize; 4] = [1, 2, 4, 8];

/// Trains a model on `input` (first pass plus training).
///
/// # Errors
/// Read errors, bad values (see [`scan`]), an impossible latent size, bounds naming unknown
/// columns, candle errors.
pub fn fit(input: &Path, read: &ReadOptions, options: &CompressOptions) -> Result<(Fitted, Scan)> {
    let progress = options.progress.as_ref();
    let scan = scan(
        ingest::open(input, read)?,
        &options.keep,
        options.max_train_rows,
        progress,
    )?;
    let fitted = fit_scan(input, &scan, options)?;
    Ok((fitted, scan))
}

/// Fits the method the options ask for, or under error bounds without `--method` every
/// method, keeping the smallest on a sample.
fn fit_scan(input: &Path, scan: &Scan, options: &CompressOptions) -> Result<Fitted> {
    if let Some(bounds) = &options.bounds {
        for (name, _) in &bounds.columns {
            if scan.schema.index_of(name).is_err() {
                let names: Vec<_> = scan
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect();
                return Err(Error::Column {
                    path: input.to_owned(),
                    column: name.clone(),
                    message: format!(
                        "`--error-bound` names a column the input lacks (columns: {})",
                        names.join(", ")
                    ),
                });
            }
        }
    }
    let methods = match (options.method, &options.bounds) {
        (Some(m), _) => vec![m],
        (None, None) => vec![Method::Ae],
        (None, Some(_)) => vec![Method::Predict, Method::Ae],
    };
    let sample = Sample::new(scan);
    let candidates = methods
        .into_iter()
        .map(|method| match method {
            Method::Ae => fit_ae(input, scan, &sample, options),
            Method::Predict | Method::Residual => {
                fit_predict(input, scan, options, method == Method::Predict)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let mut estimates = Vec::new();
    let mut fitted = keep_smallest(candidates, "", &sample, &mut estimates)?;
    fitted.estimates = estimates;
    Ok(fitted)
}

/// The first [`ESTIMATE_ROWS`] sample rows of the varying columns, to estimate sizes on.
struct Sample {
    values: Vec<Vec<f64>>,
    /// Rows of the whole input.
    total_rows: u64,
}

impl Sample {
    fn new(scan: &Scan) -> Self {
        Self {
            values: varying_sample(scan, ESTIMATE_ROWS),
            total_rows: scan.rows,
        }
    }
}

/// The candidate with the smallest estimated output; a single candidate is returned without
/// estimating. Each new estimate is recorded in `estimates` (method name followed by `note`),
/// and the candidates' own `estimates` are moved there too.
fn keep_smallest(
    candidates: Vec<Fitted>,
    note: &str,
    sample: &Sample,
    estimates: &mut Vec<Estimate>,
) -> Result<Fitted> {
    let single = candidates.len() == 1;
    let mut best: Option<Fitted> = None;
    for mut fitted in candidates {
        estimates.append(&mut fitted.estimates);
        if !single && fitted.estimated_bytes.is_none() {
            let bytes = estimate(&fitted, sample)?;
            estimates.push(Estimate {
                method: format!("{}{note}", fitted.method_name()),
                latent: fitted.header.model.latent,
                latent_type: LatentStorage::of(&fitted.header).label(),
                bytes,
            });
            fitted.estimated_bytes = Some(bytes);
        }
        if best
            .as_ref()
            .is_none_or(|b| fitted.estimated_bytes < b.estimated_bytes)
        {
            best = Some(fitted);
        }
    }
    Ok(best.expect("at least one candidate"))
}

/// Writer settings for a compressed file's stored columns: lossless Parquet's, and for each
/// residual column whichever of a dictionary and BYTE_STREAM_SPLIT writes `batch` smaller. A
/// dictionary suits residuals with few distinct values; split bytes suit wide ones, whose zigzag
/// codes leave the high bytes zero (measured on 600k generated jets at 2e-2: 5% smaller
/// residuals than dictionaries alone, and no dictionary page to pay for in small files).
fn stored_properties(batch: &RecordBatch, path: &Path) -> Result<WriterProperties> {
    let schema = batch.schema();
    let mut builder = lossless_builder(&schema, DEFAULT_ZSTD_LEVEL)?;
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        if !field.name().starts_with(RESIDUAL_PREFIX) {
            continue;
        }
        let one_schema = Arc::new(Schema::new(vec![field.clone()]));
        let one = RecordBatch::try_new(one_schema.clone(), vec![array.clone()])?;
        let split = |b| without_dictionary(b, field.name(), Encoding::BYTE_STREAM_SPLIT);
        let dictionary = lossless_properties(&one_schema, DEFAULT_ZSTD_LEVEL)?;
        let split_only = split(lossless_builder(&one_schema, DEFAULT_ZSTD_LEVEL)?).build();
        if parquet_bytes(&one, split_only, path)? < parquet_bytes(&one, dictionary, path)? {
            builder = split(builder);
        }
    }
    Ok(builder.build())
}

/// The varying columns' sample values, in header order.
fn varying_sample(scan: &Scan, rows: usize) -> Vec<Vec<f64>> {
    scan.candidates
        .iter()
        .filter(|c| !c.stats.is_constant())
        .map(|c| c.sample[..rows.min(c.sample.len())].to_vec())
        .collect()
}

/// Estimates the output size (latents, residuals, footer) by encoding the sample.
fn estimate(fitted: &Fitted, sample: &Sample) -> Result<u64> {
    let here = Path::new("<sample>");
    let rows = sample.values.first().map_or(0, Vec::len).max(1);
    let footer = Footer {
        header: fitted.header.clone(),
        decoder: decoder_bytes(fitted, here)?,
    };
    let encoder = Encoder::new(fitted, &footer, here)?;
    let (inputs, _) = encoder.encode(&sample.values)?;
    let schema = model_input_schema(&fitted.header);
    let batch = RecordBatch::try_new(schema.clone(), inputs)?;
    let bytes = parquet_bytes(&batch, stored_properties(&batch, here)?, here)?;
    let footer_bytes: usize = footer_entries(&footer.header, &footer.decoder)
        .map_err(bound_err(here))?
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    Ok((bytes as f64 * sample.total_rows as f64 / rows as f64) as u64 + footer_bytes as u64)
}

/// The autoencoder: trained on the sample; under error bounds without `--latent`, the latent
/// size (and Float16 or Float32 latents) that gives the smallest estimated output.
fn fit_ae(input: &Path, scan: &Scan, sample: &Sample, options: &CompressOptions) -> Result<Fitted> {
    let columns = column_specs(scan, Method::Ae, options.bounds.as_ref())?;
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
    let bounded = options.bounds.is_some();
    // The latent search compares Float16 with Float32; the final model every candidate.
    let (search, last): (Vec<LatentStorage>, Vec<LatentStorage>) = match options.latent_storage {
        Some(s) => (vec![s], vec![s]),
        None if bounded => (
            vec![LatentStorage::Float16, LatentStorage::FULL],
            LatentStorage::CANDIDATES.to_vec(),
        ),
        None => (vec![LatentStorage::FULL], vec![LatentStorage::FULL]),
    };
    let with_types = |trained: &Fitted, storages: &[LatentStorage]| {
        storages
            .iter()
            .map(|&s| with_latent_storage(trained, s))
            .collect::<Vec<_>>()
    };
    let mut estimates = Vec::new();
    let latent = match options.latent {
        Some(l) => l.resolve(n)?,
        None if !bounded => LatentSize::Ratio(DEFAULT_RATIO).resolve(n)?,
        None => {
            let mut candidates = Vec::new();
            for k in SEARCH_LATENTS.into_iter().filter(|&k| k < n) {
                let trained = train_ae(scan, &columns, k, options, SEARCH_TRAIN_ROWS)?;
                candidates.extend(with_types(&trained, &search));
            }
            let note = format!(" (search, {SEARCH_TRAIN_ROWS} rows)");
            keep_smallest(candidates, &note, sample, &mut estimates)?
                .header
                .model
                .latent
        }
    };
    let trained = train_ae(scan, &columns, latent, options, options.max_train_rows)?;
    let mut fitted = keep_smallest(with_types(&trained, &last), "", sample, &mut estimates)?;
    fitted.estimates = estimates;
    Ok(fitted)
}

/// `fitted` with its latents stored as `storage`.
fn with_latent_storage(fitted: &Fitted, storage: LatentStorage) -> Fitted {
    let mut header = fitted.header.clone();
    storage.apply(&mut header.latent);
    Fitted::new(fitted.model.clone(), header)
}

/// Trains an autoencoder with `k` latents on the first `rows` sample rows.
fn train_ae(
    scan: &Scan,
    columns: &[ColumnSpec],
    k: usize,
    options: &CompressOptions,
    rows: usize,
) -> Result<Fitted> {
    let n = columns
        .iter()
        .filter(|c| matches!(c.storage, Storage::Decoded { .. }))
        .count();
    let spec = ModelSpec {
        outputs: n,
        hidden: options.hidden.clone(),
        latent: k,
        negative_slope: DEFAULT_NEGATIVE_SLOPE,
    };
    let selected = selected_device(options)?;
    let device = selected.device.clone();
    let model = Autoencoder::new(&spec, options.train.seed, &device)?;
    let normaliser = normaliser(columns);
    let sample = varying_sample(scan, rows);
    let summary = train(
        &model,
        normaliser.normalise(&sample),
        &options.train,
        &device,
        options.progress.as_ref(),
    )?;
    let header = header(
        METHOD_AE,
        columns.to_vec(),
        LatentSpec {
            columns: (0..spec.latent).map(latent_name).collect(),
            data_type: DataType::Float32.to_string(),
            mantissa_bits: None,
        },
        spec,
        TrainingSummary {
            epochs: summary.epochs,
            final_loss: summary.final_loss,
            seed: options.train.seed,
            device: selected.name().into(),
            rows: summary.rows,
            learning_rate: summary.learning_rate,
            seconds: summary.seconds,
        },
    );
    Ok(Fitted::new(Some(model), header))
}

/// The header of a new file.
fn header(
    method: &str,
    columns: Vec<ColumnSpec>,
    latent: LatentSpec,
    model: ModelSpec,
    training: TrainingSummary,
) -> Header {
    Header {
        format: FORMAT_VERSION,
        tool: format!("baler-arrow {}", env!("CARGO_PKG_VERSION")),
        method: method.into(),
        columns,
        latent,
        model,
        training,
        predictors: Vec::new(),
    }
}

/// Method `predict` (`learn`) or `residual`: predictors fitted on the sample.
fn fit_predict(
    input: &Path,
    scan: &Scan,
    options: &CompressOptions,
    learn: bool,
) -> Result<Fitted> {
    let start = std::time::Instant::now();
    let columns = column_specs(scan, Method::Predict, options.bounds.as_ref())?;
    let sample = varying_sample(scan, 2 * predict::FIT_ROWS);
    let varying: Vec<&ColumnSpec> = columns
        .iter()
        .filter(|c| matches!(c.storage, Storage::Predicted))
        .collect();
    if varying.is_empty() {
        return Err(Error::Options {
            message: format!(
                "`{}` has no varying numeric columns outside `--keep` to predict",
                input.display()
            ),
        });
    }
    let coded = varying
        .iter()
        .zip(&sample)
        .map(|(c, values)| {
            Ok(predict::Column {
                name: &c.name,
                quantiser: Quantiser::new(
                    &c.name,
                    c.bound.expect("predicted columns have bounds"),
                    &c.arrow_type().map_err(bound_err(input))?,
                )
                .map_err(bound_err(input))?,
                values,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let fit =
        predict::fit(&coded, learn, scan.rows, options.train.seed).map_err(bound_err(input))?;
    let mut header = header(
        METHOD_PREDICT,
        columns.clone(),
        LatentSpec {
            columns: Vec::new(),
            data_type: DataType::Float32.to_string(),
            mantissa_bits: None,
        },
        ModelSpec {
            outputs: varying.len(),
            hidden: Vec::new(),
            latent: 0,
            negative_slope: DEFAULT_NEGATIVE_SLOPE,
        },
        TrainingSummary {
            epochs: 0,
            final_loss: 0.0,
            seed: options.train.seed,
            device: "cpu".into(),
            rows: sample.first().map_or(0, |s| s.len().min(predict::FIT_ROWS)) as u64,
            learning_rate: 0.0,
            seconds: start.elapsed().as_secs_f64(),
        },
    );
    header.predictors = fit.predictors;
    let mut fitted = Fitted::new(None, header);
    fitted.weights = fit.weights;
    Ok(fitted)
}

/// Wraps a decode-side error about `input`.
fn bound_err(input: &Path) -> impl Fn(baler_udfs::Error) -> Error + '_ {
    move |source| Error::Codec {
        path: input.to_owned(),
        source: Box::new(source),
    }
}

/// The device the options ask for; a fallback is reported as a note.
fn selected_device(options: &CompressOptions) -> Result<SelectedDevice> {
    let selected = select_device(options.device)?;
    if let Some(note) = &selected.note {
        options.progress.note(note);
    }
    Ok(selected)
}

/// The original columns in order: pass-through, constant, or decoded (`ae`, with their range)
/// or predicted; with error bounds, each varying column's bound (method `predict` stores the
/// columns without one exactly).
fn column_specs(
    scan: &Scan,
    method: Method,
    bounds: Option<&ErrorBounds>,
) -> Result<Vec<ColumnSpec>> {
    let mut next = 0;
    scan.schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let mut bound = None;
            let storage = match scan.candidates.iter().find(|c| c.index == i) {
                None => Storage::PassThrough,
                Some(c) if c.stats.is_constant() => Storage::Constant {
                    value: c.first.clone().unwrap_or_default(),
                },
                Some(_) if method != Method::Ae => {
                    bound = Some(
                        bounds
                            .and_then(|b| b.get(field.name()))
                            .unwrap_or(Bound::Exact),
                    );
                    Storage::Predicted
                }
                Some(c) => {
                    next += 1;
                    bound = bounds.and_then(|b| b.get(field.name()));
                    let transform = c.stats.transform(field.data_type().is_floating());
                    Storage::Decoded {
                        index: next - 1,
                        min: transform.forward(c.stats.min),
                        max: transform.forward(c.stats.max),
                        transform,
                    }
                }
            };
            let bound = bound.map(|b| b.for_type(field.data_type()));
            Ok(ColumnSpec {
                name: field.name().clone(),
                data_type: field.data_type().to_string(),
                storage,
                bound,
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

/// The decoder's safetensors bytes (empty for method `predict`).
fn decoder_bytes(fitted: &Fitted, output: &Path) -> Result<Vec<u8>> {
    match &fitted.model {
        None => Ok(fitted.weights.clone()),
        Some(model) => model.decoder_bytes().map_err(|message| Error::ModelFile {
            path: output.to_owned(),
            message,
        }),
    }
}

/// Turns original rows into stored model inputs: latents from the encoder, then residuals.
struct Encoder<'a> {
    fitted: &'a Fitted,
    codec: Codec,
    normaliser: Normaliser,
    storage: LatentStorage,
    /// The data being encoded, named in errors.
    path: PathBuf,
}

impl<'a> Encoder<'a> {
    fn new(fitted: &'a Fitted, footer: &Footer, path: &Path) -> Result<Self> {
        let codec = Codec::try_new(footer).map_err(bound_err(path))?;
        Ok(Self {
            fitted,
            codec,
            normaliser: normaliser(&fitted.header.columns),
            storage: LatentStorage::of(&fitted.header),
            path: path.to_owned(),
        })
    }

    /// The model inputs ([`Header::model_inputs`] order) for the varying columns' values, and
    /// the model columns decoding them will give ([`Codec::decode_model_columns`]).
    fn encode(&self, originals: &[Vec<f64>]) -> Result<(Vec<ArrayRef>, Vec<ArrayRef>)> {
        let rows = originals.first().map_or(0, Vec::len);
        let mut inputs: Vec<ArrayRef> = Vec::new();
        if let Some(model) = &self.fitted.model {
            let x = Tensor::from_vec(
                self.normaliser.normalise(originals),
                (rows, originals.len()),
                model.device(),
            )?;
            let z = model.encoder.forward(&x)?;
            let k = z.dim(1)?;
            let z = z.flatten_all()?.to_vec1::<f32>()?;
            for j in 0..k {
                let column = (0..rows).map(|r| z[r * k + j]);
                inputs.push(match self.storage {
                    LatentStorage::Float16 => {
                        let a: ArrayRef = Arc::new(Float32Array::from_iter_values(column));
                        arrow::compute::cast(&a, &DataType::Float16)?
                    }
                    LatentStorage::Float32 { mantissa_bits } => {
                        Arc::new(Float32Array::from_iter_values(
                            column.map(|z| truncate_f32(z, mantissa_bits)),
                        ))
                    }
                });
            }
        }
        let latents: Vec<&ArrayRef> = inputs.iter().collect();
        let (residuals, model) = self
            .codec
            .encode_residuals(&latents, originals)
            .map_err(bound_err(&self.path))?;
        inputs.extend(residuals);
        Ok((inputs, model))
    }
}

/// The schema of the model inputs.
fn model_input_schema(header: &Header) -> SchemaRef {
    Arc::new(Schema::new(
        header
            .model_inputs()
            .into_iter()
            .map(|(n, t)| Field::new(n, t, false))
            .collect::<Vec<_>>(),
    ))
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
    /// Bytes of each part of the output file.
    pub parts: Parts,
    pub ratios: Ratios,
    /// The method written: `ae` or `predict` (`residual` is `predict` without features).
    pub method: String,
    /// The latents' type (`Float32`, `Float16`; none for `predict`).
    pub latent_type: String,
    /// Each bounded column's guaranteed bound.
    pub bounds: Vec<(String, String)>,
    /// Candidates tried on a sample, with their estimated sizes.
    pub estimates: Vec<Estimate>,
    /// What the output holds: `"ae"`, or `"lossless"` after a fallback.
    pub written: String,
    /// Set when the compressed file is larger than lossless Parquet.
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
        let (bytes, lossless) = (report.sizes.output_bytes, report.sizes.lossless_bytes);
        let method = Method::of(&fitted.header).description();
        report.warning = Some(if options.fallback_lossless {
            let convert = crate::convert::ConvertOptions::default().with_force(true);
            crate::convert::convert(input, output, read, &convert)?;
            report.written = "lossless".into();
            report.sizes.output_bytes = lossless;
            report.ratios = Ratios::from(&report.sizes);
            format!(
                "{method}'s file ({bytes} B) was larger than lossless Parquet ({lossless} B): wrote lossless Parquet instead"
            )
        } else {
            format!(
                "{method}'s file ({bytes} B) is larger than lossless Parquet ({lossless} B); `--fallback lossless` writes that instead"
            )
        });
    }
    Ok(report)
}

/// The columns a file keeps as they are (`--keep`): its pass-through columns but the event index.
pub fn kept_columns(header: &Header) -> Vec<String> {
    header
        .columns
        .iter()
        .filter(|c| matches!(c.storage, Storage::PassThrough) && c.name != ingest::EVENT_COLUMN)
        .map(|c| c.name.clone())
        .collect()
}

/// Loads a saved model and checks that it describes `input`'s columns.
fn load_fitting(
    path: &Path,
    input: &Path,
    read: &ReadOptions,
    options: &CompressOptions,
) -> Result<Fitted> {
    let (model, mut header) = model_file::load(path, &selected_device(options)?.device)?;
    if let Some(bounds) = &options.bounds {
        for c in &mut header.columns {
            if matches!(c.storage, Storage::Decoded { .. }) {
                let dt = c.arrow_type().map_err(bound_err(path))?;
                c.bound = bounds.get(&c.name).map(|b| b.for_type(&dt));
            }
        }
    }
    let progress = options.progress.as_ref();
    let keep = kept_columns(&header);
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
    Ok(Fitted::new(Some(model), header))
}

/// Bytes of each part of a compressed file (compressed column chunks, and the rest).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Parts {
    pub pass_through_bytes: u64,
    pub latent_bytes: u64,
    pub residual_bytes: u64,
    /// Everything else: the footer (header, decoder), page and file metadata.
    pub footer_bytes: u64,
    /// Per row: bits of latents and of residuals.
    pub latent_bits_per_row: f64,
    pub residual_bits_per_row: f64,
}

impl Parts {
    /// The parts of a written file of `size` bytes, from the metadata its writer returned.
    fn of(metadata: &parquet::file::metadata::ParquetMetaData, size: u64, rows: u64) -> Self {
        let mut parts = Self::default();
        for group in metadata.row_groups() {
            for column in group.columns() {
                let name = column.column_path().string();
                let bytes = column.compressed_size() as u64;
                if name.starts_with(baler_udfs::format::LATENT_PREFIX) {
                    parts.latent_bytes += bytes;
                } else if name.starts_with(baler_udfs::format::RESIDUAL_PREFIX) {
                    parts.residual_bytes += bytes;
                } else {
                    parts.pass_through_bytes += bytes;
                }
            }
        }
        parts.footer_bytes = size
            .saturating_sub(parts.pass_through_bytes + parts.latent_bytes + parts.residual_bytes);
        let per_row = |b: u64| 8.0 * b as f64 / rows.max(1) as f64;
        parts.latent_bits_per_row = per_row(parts.latent_bytes);
        parts.residual_bits_per_row = per_row(parts.residual_bytes);
        parts
    }
}

/// The second pass: encode every batch, write it, measure what decoding will give.
fn encode(
    reader: ingest::JetReader,
    output: &Path,
    fitted: &Fitted,
    options: &CompressOptions,
) -> Result<CompressReport> {
    let input = reader.path().to_owned();
    let in_schema = reader.schema();
    let header = &fitted.header;
    let codec_err = |source| Error::Codec {
        path: output.to_owned(),
        source: Box::new(source),
    };
    let footer = Footer {
        header: header.clone(),
        decoder: decoder_bytes(fitted, output)?,
    };
    let encoder = Encoder::new(fitted, &footer, &input)?;
    let codec = &encoder.codec;
    let entries = footer_entries(header, &footer.decoder).map_err(codec_err)?;
    let out_schema = stored_schema(&in_schema, header);
    let varying: Vec<(usize, String)> = codec
        .varying_columns()
        .iter()
        .map(|&i| (i, header.columns[i].name.clone()))
        .collect();
    let parquet_err = |source| Error::Parquet {
        path: output.to_owned(),
        source,
    };
    let file = AtomicFile::create(output, options.force)?;
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
    let mut metrics = vec![VariableAccumulator::default(); varying.len()];
    let mut rows = 0u64;
    let progress = options.progress.as_ref();
    progress.start("compress", reader.total_rows());
    for batch in reader {
        let batch = batch?;
        let originals = varying
            .iter()
            .map(|(i, _)| {
                Ok(scan::as_f64(batch.column(*i))?
                    .as_primitive::<Float64Type>()
                    .values()
                    .to_vec())
            })
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
        let rebuilt = codec.assemble(&batch, model).map_err(codec_err)?;
        measure(&mut metrics, &varying, &originals, &rebuilt)?;
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
    let raw_width: usize = varying
        .iter()
        .map(|(i, _)| {
            in_schema
                .field(*i)
                .data_type()
                .primitive_width()
                .unwrap_or(1)
        })
        .sum();
    let latent_width = encoder.storage.width();
    let sizes = Sizes {
        input_bytes: std::fs::metadata(&input).map(|m| m.len()).unwrap_or(0),
        output_bytes: std::fs::metadata(output).map(|m| m.len()).unwrap_or(0),
        lossless_bytes,
        raw_bytes: rows * raw_width as u64,
        latent_bytes: rows * header.model.latent as u64 * latent_width,
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
        decoded_columns: varying.len(),
        pass_through: names_with(|s| matches!(s, Storage::PassThrough)),
        constant: names_with(|s| matches!(s, Storage::Constant { .. })),
        dropped: Vec::new(),
        training: header.training.clone(),
        variables: metrics
            .iter()
            .zip(&varying)
            .map(|(m, (_, name))| m.finish(name))
            .collect(),
        parts: Parts::of(&metadata, sizes.output_bytes, rows),
        ratios: Ratios::from(&sizes),
        sizes,
        method: fitted.method_name().into(),
        latent_type: if header.model.latent > 0 {
            LatentStorage::of(header).label()
        } else {
            String::new()
        },
        bounds: header
            .columns
            .iter()
            .filter_map(|c| Some((c.name.clone(), c.bound?.to_string())))
            .collect(),
        estimates: fitted.estimates.clone(),
        written: header.method.clone(),
        warning: None,
    })
}

/// Adds the residuals of the varying columns of one batch (original values `originals`, in
/// `varying` order) to `metrics`.
fn measure(
    metrics: &mut [VariableAccumulator],
    varying: &[(usize, String)],
    originals: &[Vec<f64>],
    rebuilt: &RecordBatch,
) -> Result<()> {
    for ((acc, (i, _)), x) in metrics.iter_mut().zip(varying).zip(originals) {
        let y = scan::as_f64(rebuilt.column(*i))?;
        let y = y.as_primitive::<Float64Type>().values().iter().copied();
        acc.update(x.iter().copied().zip(y));
    }
    Ok(())
}

/// The stored columns: pass-through columns in input order, then the model inputs.
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
    let inputs = model_input_schema(header);
    Arc::new(Schema::new(
        pass.chain(inputs.fields().iter().map(|f| f.as_ref().clone()))
            .collect::<Vec<_>>(),
    ))
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
