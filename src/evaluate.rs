//! `evaluate`: a compressed file against lossless Parquet, float mantissa truncation and, for a
//! file written under error bounds, the other compression methods under the same bounds, on the
//! same columns, measured in one run.
//!
//! The original file and the compressed one are read side by side. Per decoded variable the
//! residual and response metrics are accumulated, and with them, for every float column and
//! every number of kept mantissa bits, the error that truncation would make; a second pass writes
//! the truncated columns and the lossless columns to byte counters. Truncation keeps, per column,
//! the fewest mantissa bits that meet the column's error bound when it has one, and otherwise
//! whose relative RMS is no larger than the compressed file's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Float32Type, Float64Type, SchemaRef};
use baler_udfs::codec::Codec;
use baler_udfs::quantise::Bound;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use crate::convert::{ByteCounter, DEFAULT_ZSTD_LEVEL, lossless_properties};
use crate::encode::{self, CompressOptions, ErrorBounds, Method};
use crate::error::{Error, Result};
use crate::ingest::{self, ReadOptions};
use crate::metrics::{VariableAccumulator, VariableMetrics};
use crate::model::TrainConfig;

/// Rows of each variable kept for plots.
pub const DEFAULT_PLOT_ROWS: usize = 200_000;

/// What [`evaluate`] measures besides the file itself.
#[derive(Debug, Clone)]
pub struct EvaluateOptions {
    /// Rows of each variable kept for plots.
    pub plot_rows: usize,
    /// Methods to compress the original with, under the file's error bounds, to compare; the
    /// file's own method is skipped. Ignored for files without error bounds.
    pub compare: Vec<Method>,
    /// Training of the compared autoencoder.
    pub train: TrainConfig,
}

impl Default for EvaluateOptions {
    fn default() -> Self {
        Self {
            plot_rows: DEFAULT_PLOT_ROWS,
            compare: Method::ALL.to_vec(),
            train: TrainConfig::default(),
        }
    }
}

/// A method's size and ratio.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodResult {
    pub method: String,
    pub bytes: u64,
    /// Raw bytes of the table over `bytes`.
    pub ratio: f64,
}

/// Mantissa bits kept for one float column by the truncation baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruncationChoice {
    pub column: String,
    pub mantissa_bits: u32,
    pub relative_rms: f64,
}

/// Everything `evaluate` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub original: PathBuf,
    pub compressed: PathBuf,
    pub rows: u64,
    /// Uncompressed bytes of every column.
    pub raw_bytes: u64,
    pub variables: Vec<VariableMetrics>,
    pub methods: Vec<MethodResult>,
    pub truncation: Vec<TruncationChoice>,
    pub verdict: String,
    /// Methods that could not be compared, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The first rows of each decoded variable, original and reconstructed (for plots).
    #[serde(skip)]
    pub samples: Vec<(String, Vec<f64>, Vec<f64>)>,
}

/// Rounds `x` to `keep` mantissa bits (to nearest; ties away from zero in magnitude).
pub fn truncate_f32(x: f32, keep: u32) -> f32 {
    if keep >= 23 || !x.is_finite() {
        return x;
    }
    let drop = 23 - keep;
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(1 << (drop - 1)) & !((1u32 << drop) - 1);
    let y = f32::from_bits(rounded);
    if y.is_finite() { y } else { x }
}

/// Rounds `x` to `keep` mantissa bits (to nearest).
pub fn truncate_f64(x: f64, keep: u32) -> f64 {
    if keep >= 52 || !x.is_finite() {
        return x;
    }
    let drop = 52 - keep;
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(1 << (drop - 1)) & !((1u64 << drop) - 1);
    let y = f64::from_bits(rounded);
    if y.is_finite() { y } else { x }
}

/// Mantissa bits of a float type (23 or 52); `None` for other types.
fn mantissa_bits(dt: &DataType) -> Option<u32> {
    match dt {
        DataType::Float32 => Some(23),
        DataType::Float64 => Some(52),
        _ => None,
    }
}

/// Sum of squared truncation errors for every number of kept bits, and of squared values.
#[derive(Debug, Clone)]
struct TruncationErrors {
    squared: Vec<f64>,
    values: f64,
    max_abs: f64,
}

impl TruncationErrors {
    fn new(bits: u32) -> Self {
        Self {
            squared: vec![0.0; bits as usize + 1],
            values: 0.0,
            max_abs: 0.0,
        }
    }

    fn update(&mut self, array: &ArrayRef) {
        let x = as_f64_values(array);
        for (keep, acc) in self.squared.iter_mut().enumerate() {
            *acc += truncated(array, keep as u32)
                .iter()
                .zip(&x)
                .map(|(t, x)| (t - x) * (t - x))
                .sum::<f64>();
        }
        self.values += x.iter().map(|x| x * x).sum::<f64>();
        self.max_abs = x.iter().fold(self.max_abs, |m, x| m.max(x.abs()));
    }

    fn relative_rms(&self, bits: u32) -> f64 {
        if self.values == 0.0 {
            0.0
        } else {
            (self.squared[bits as usize] / self.values).sqrt()
        }
    }

    /// The fewest bits that keep every value within `bound`.
    fn choose_bounded(&self, bound: Bound) -> (u32, f64) {
        let bits = bits_within(self.squared.len() as u32 - 1, bound, self.max_abs);
        (bits, self.relative_rms(bits))
    }

    /// The fewest bits whose relative RMS is at most `target`.
    fn choose(&self, target: f64) -> (u32, f64) {
        let last = self.squared.len() as u32 - 1;
        (0..=last)
            .find(|&k| self.relative_rms(k) <= target)
            .map_or((last, 0.0), |k| (k, self.relative_rms(k)))
    }
}

fn as_f64_values(array: &ArrayRef) -> Vec<f64> {
    let a = arrow::compute::cast(array, &DataType::Float64).expect("numeric column");
    a.as_primitive::<Float64Type>().values().to_vec()
}

/// A float column rounded to `keep` mantissa bits, as f64 values.
fn truncated(array: &ArrayRef, keep: u32) -> Vec<f64> {
    match array.data_type() {
        DataType::Float32 => array
            .as_primitive::<Float32Type>()
            .values()
            .iter()
            .map(|x| f64::from(truncate_f32(*x, keep)))
            .collect(),
        _ => array
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .map(|x| truncate_f64(*x, keep))
            .collect(),
    }
}

/// A float column rounded to `keep` mantissa bits, in its own type.
fn truncated_array(array: &ArrayRef, keep: u32) -> ArrayRef {
    match array.data_type() {
        DataType::Float32 => Arc::new(
            array
                .as_primitive::<Float32Type>()
                .unary::<_, Float32Type>(|x| truncate_f32(x, keep)),
        ) as ArrayRef,
        _ => Arc::new(
            array
                .as_primitive::<Float64Type>()
                .unary::<_, Float64Type>(|x| truncate_f64(x, keep)),
        ),
    }
}

/// Decoded batches of a compressed file, cut to the lengths the original batches have.
struct Aligned {
    batches: Box<dyn Iterator<Item = Result<RecordBatch>>>,
    pending: Option<RecordBatch>,
    schema: SchemaRef,
}

impl Aligned {
    fn take(&mut self, rows: usize) -> Result<Option<RecordBatch>> {
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
        Ok(Some(concat_batches(&self.schema, &parts)?))
    }

    fn is_exhausted(&mut self) -> Result<bool> {
        Ok(self.take(1)?.is_none())
    }
}

fn open_compressed(path: &Path) -> Result<(Codec, Aligned)> {
    let file = std::fs::File::open(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| Error::Parquet {
            path: path.to_owned(),
            source,
        })?;
    let codec =
        Codec::from_parquet_metadata(builder.metadata()).map_err(|source| Error::Codec {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
    let reader = builder.build().map_err(|source| Error::Parquet {
        path: path.to_owned(),
        source,
    })?;
    let decoder = codec.clone();
    let owned = path.to_owned();
    let batches = reader.map(move |b| {
        let b = b.map_err(|e| Error::Parquet {
            path: owned.clone(),
            source: e.into(),
        })?;
        decoder.decode_batch(&b).map_err(|source| Error::Codec {
            path: owned.clone(),
            source: Box::new(source),
        })
    });
    let schema = codec.output_schema();
    Ok((
        codec,
        Aligned {
            batches: Box::new(batches),
            pending: None,
            schema,
        },
    ))
}

/// Compares `compressed` with `original`, with the two classic baselines and, for a file
/// written under error bounds, with `options.compare`'s other methods under the same bounds.
///
/// # Errors
/// Read errors, a compressed file that is not baler's, files that do not hold the same
/// columns or rows, and failures of the compared methods.
pub fn evaluate(
    original: &Path,
    compressed: &Path,
    read: &ReadOptions,
    options: &EvaluateOptions,
) -> Result<Evaluation> {
    let plot_rows = options.plot_rows;
    let (codec, mut decoded) = open_compressed(compressed)?;
    let header = codec.header();
    let bounds = ErrorBounds::of(header);
    let reader = ingest::open(original, read)?;
    let schema = reader.schema();
    check_same_columns(original, compressed, &schema, &codec.output_schema())?;
    let variables: Vec<usize> = codec.varying_columns().to_vec();
    let mut metrics = vec![VariableAccumulator::default(); variables.len()];
    let mut samples: Vec<(String, Vec<f64>, Vec<f64>)> = variables
        .iter()
        .map(|&i| (schema.field(i).name().clone(), Vec::new(), Vec::new()))
        .collect();
    let floats: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| mantissa_bits(schema.field(i).data_type()).is_some())
        .collect();
    let mut truncation: Vec<TruncationErrors> = floats
        .iter()
        .map(|&i| TruncationErrors::new(mantissa_bits(schema.field(i).data_type()).expect("float")))
        .collect();
    let mut lossless = ArrowWriter::try_new(
        ByteCounter::default(),
        schema.clone(),
        Some(lossless_properties(&schema, DEFAULT_ZSTD_LEVEL)?),
    )
    .map_err(|source| Error::Parquet {
        path: original.to_owned(),
        source,
    })?;
    let mut rows = 0u64;
    for batch in reader {
        let batch = batch?;
        let rebuilt = decoded
            .take(batch.num_rows())?
            .ok_or_else(|| rows_differ(original, compressed))?;
        for (j, &i) in variables.iter().enumerate() {
            let x = as_f64_values(batch.column(i));
            let y = as_f64_values(rebuilt.column(i));
            metrics[j].update(x.iter().copied().zip(y.iter().copied()));
            let (_, xs, ys) = &mut samples[j];
            let room = plot_rows.saturating_sub(xs.len()).min(x.len());
            xs.extend_from_slice(&x[..room]);
            ys.extend_from_slice(&y[..room]);
        }
        for (t, &i) in truncation.iter_mut().zip(&floats) {
            t.update(batch.column(i));
        }
        lossless.write(&batch).map_err(|source| Error::Parquet {
            path: original.to_owned(),
            source,
        })?;
        rows += batch.num_rows() as u64;
    }
    if !decoded.is_exhausted()? {
        return Err(rows_differ(original, compressed));
    }
    let lossless_bytes = lossless
        .into_inner()
        .map_err(|source| Error::Parquet {
            path: original.to_owned(),
            source,
        })?
        .0;
    let variables_metrics: Vec<VariableMetrics> = metrics
        .iter()
        .zip(&samples)
        .map(|(m, (name, _, _))| m.finish(name))
        .collect();
    let choices = choose_truncation(
        &schema,
        &floats,
        &truncation,
        &variables_metrics,
        bounds.as_ref(),
    );
    let truncated_bytes = truncated_size(original, read, &choices)?;
    let raw_bytes = rows
        * schema
            .fields()
            .iter()
            .map(|f| f.data_type().primitive_width().unwrap_or(1) as u64)
            .sum::<u64>();
    let ratio = |bytes: u64| raw_bytes as f64 / bytes.max(1) as f64;
    let compressed_bytes = std::fs::metadata(compressed).map(|m| m.len()).unwrap_or(0);
    let own = Method::of(header);
    let result = |method: String, bytes: u64| MethodResult {
        method,
        bytes,
        ratio: ratio(bytes),
    };
    let mut methods = vec![result(
        format!("{} (this file)", own.name()),
        compressed_bytes,
    )];
    let mut notes = Vec::new();
    if let Some(bounds) = &bounds {
        let others: Vec<Method> = options
            .compare
            .iter()
            .copied()
            .filter(|m| *m != own)
            .collect();
        for (method, outcome) in compare_methods(original, read, header, bounds, &others, options)?
        {
            match outcome {
                Ok(bytes) => methods.push(result(method.name().to_owned(), bytes)),
                Err(message) => notes.push(format!("{} not compared: {message}", method.name())),
            }
        }
    }
    methods.push(result("lossless Parquet + zstd".into(), lossless_bytes));
    let truncation_label = if bounds.is_some() {
        "truncation + zstd (same bounds)"
    } else {
        "truncation + zstd"
    };
    methods.push(result(truncation_label.into(), truncated_bytes));
    Ok(Evaluation {
        original: original.to_owned(),
        compressed: compressed.to_owned(),
        rows,
        raw_bytes,
        verdict: verdict(own, &methods),
        variables: variables_metrics,
        methods,
        truncation: choices,
        notes,
        samples,
    })
}

fn rows_differ(original: &Path, compressed: &Path) -> Error {
    Error::Options {
        message: format!(
            "`{}` and `{}` hold different numbers of rows; evaluate compares a file with its own compressed copy",
            original.display(),
            compressed.display()
        ),
    }
}

fn check_same_columns(
    original: &Path,
    compressed: &Path,
    a: &SchemaRef,
    b: &SchemaRef,
) -> Result<()> {
    let names = |s: &SchemaRef| {
        s.fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), f.data_type()))
            .collect::<Vec<_>>()
    };
    if names(a) != names(b) {
        return Err(Error::Options {
            message: format!(
                "`{}` has columns [{}] but `{}` decodes to [{}]",
                original.display(),
                names(a).join(", "),
                compressed.display(),
                names(b).join(", ")
            ),
        });
    }
    Ok(())
}

/// Per float column, the fewest mantissa bits that meet the column's error bound when the file
/// has bounds, and otherwise whose relative RMS is at most the compressed file's for that column
/// (all bits for columns the file does not reconstruct).
fn choose_truncation(
    schema: &SchemaRef,
    floats: &[usize],
    errors: &[TruncationErrors],
    metrics: &[VariableMetrics],
    bounds: Option<&ErrorBounds>,
) -> Vec<TruncationChoice> {
    floats
        .iter()
        .zip(errors)
        .map(|(&i, e)| {
            let name = schema.field(i).name();
            let target = metrics
                .iter()
                .find(|m| &m.name == name)
                .map_or(0.0, |m| m.relative_rms);
            let (bits, rel) = match bounds {
                Some(b) => e.choose_bounded(b.get(name).unwrap_or(Bound::Exact)),
                None => e.choose(target),
            };
            TruncationChoice {
                column: name.clone(),
                mantissa_bits: bits,
                relative_rms: rel,
            }
        })
        .collect()
}

/// Mantissa bits that round-to-nearest truncation keeps so that every value of a float column
/// of type `dt` stays within the relative bound `epsilon` (`2^-(bits+1) ≤ ε`).
pub fn bits_for_relative_bound(dt: &DataType, epsilon: f64) -> Option<u32> {
    Some(bits_within(
        mantissa_bits(dt)?,
        Bound::Relative { epsilon },
        0.0,
    ))
}

/// The fewest of `full` mantissa bits that keep every value, the largest of magnitude
/// `max_abs`, within `bound`: round-to-nearest truncation to `b` bits errs by at most
/// `2^-(b+1)·|x|`.
fn bits_within(full: u32, bound: Bound, max_abs: f64) -> u32 {
    let (magnitude, epsilon) = match bound {
        Bound::Exact => return full,
        Bound::Relative { epsilon } => (1.0, epsilon),
        Bound::Absolute { epsilon } => (max_abs, epsilon),
    };
    (0..=full)
        .find(|b| 0.5f64.powi(*b as i32 + 1) * magnitude <= epsilon)
        .unwrap_or(full)
}

/// Bytes of the original columns with float columns truncated as chosen, as Parquet + zstd.
///
/// # Errors
/// Read and write errors.
pub fn truncated_size(
    original: &Path,
    read: &ReadOptions,
    choices: &[TruncationChoice],
) -> Result<u64> {
    let reader = ingest::open(original, read)?;
    let schema = reader.schema();
    let parquet_err = |source| Error::Parquet {
        path: original.to_owned(),
        source,
    };
    let props = lossless_properties(&schema, DEFAULT_ZSTD_LEVEL)?;
    let mut writer = ArrowWriter::try_new(ByteCounter::default(), schema.clone(), Some(props))
        .map_err(parquet_err)?;
    for batch in reader {
        let batch = batch?;
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(
                |(f, c)| match choices.iter().find(|t| &t.column == f.name()) {
                    Some(t) => truncated_array(c, t.mantissa_bits),
                    None => c.clone(),
                },
            )
            .collect();
        writer
            .write(&RecordBatch::try_new(schema.clone(), columns)?)
            .map_err(parquet_err)?;
    }
    Ok(writer.into_inner().map_err(parquet_err)?.0)
}

/// Compresses `original` with each of `methods` under `bounds` (keeping the same columns as
/// the file whose `header` is given) into a temporary folder; returns each one's bytes, or why
/// the method does not apply to these columns.
fn compare_methods(
    original: &Path,
    read: &ReadOptions,
    header: &baler_udfs::format::Header,
    bounds: &ErrorBounds,
    methods: &[Method],
    options: &EvaluateOptions,
) -> Result<Vec<(Method, std::result::Result<u64, String>)>> {
    let dir = tempfile::tempdir().map_err(|source| Error::Write {
        path: std::env::temp_dir(),
        source,
    })?;
    methods
        .iter()
        .map(|&method| {
            let output = dir.path().join(format!("{}.parquet", method.name()));
            let compress = CompressOptions {
                bounds: Some(bounds.clone()),
                method: Some(method),
                keep: encode::kept_columns(header),
                train: options.train.clone(),
                ..CompressOptions::default()
            };
            match encode::compress(original, &output, read, &compress) {
                Ok(report) => Ok((method, Ok(report.sizes.output_bytes))),
                Err(Error::Options { message }) => Ok((method, Err(message))),
                Err(e) => Err(e),
            }
        })
        .collect()
}

/// Which method wins, and by how much; `methods[0]` is the evaluated file, written by `own`.
fn verdict(own: Method, methods: &[MethodResult]) -> String {
    let file = &methods[0];
    let best_other = methods[1..]
        .iter()
        .max_by(|a, b| a.ratio.total_cmp(&b.ratio))
        .expect("two baselines");
    let name = own.description();
    if file.ratio > best_other.ratio {
        format!(
            "{name} wins: R {:.2} against {:.2} for {} ({:.2}x smaller)",
            file.ratio,
            best_other.ratio,
            best_other.method,
            file.ratio / best_other.ratio
        )
    } else {
        format!(
            "{} wins: R {:.2} against {:.2} for {name} ({:.2}x smaller); {name} does not pay here",
            best_other.method,
            best_other.ratio,
            file.ratio,
            best_other.ratio / file.ratio
        )
    }
}

/// The report's contents for an evaluation: plots data, ratios, metrics table, verdict.
pub fn report_input(e: &Evaluation) -> crate::report::ReportInput {
    use crate::report::{MethodRatio, ReportInput, VariablePlotData};
    let variables = e
        .samples
        .iter()
        .map(|(name, x, y)| VariablePlotData {
            name: name.clone(),
            original: x.clone(),
            reconstructed: y.clone(),
            response: x
                .iter()
                .zip(y)
                .filter(|(x, _)| **x != 0.0)
                .map(|(x, y)| (y - x) / x)
                .collect(),
        })
        .collect();
    ReportInput {
        title: format!("{} vs {}", e.original.display(), e.compressed.display()),
        variables,
        methods: e
            .methods
            .iter()
            .map(|m| MethodRatio {
                method: m.method.clone(),
                ratio: m.ratio,
            })
            .collect(),
        table_header: crate::metrics::TABLE_HEADER
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        table_rows: e.variables.iter().map(|v| v.table_row().to_vec()).collect(),
        verdict: e.verdict.clone(),
    }
}

/// Writes the plots and `index.html` of an evaluation into `dir`.
///
/// # Errors
/// Write failures.
pub fn write_report(dir: &Path, e: &Evaluation) -> Result<Vec<PathBuf>> {
    crate::report::write_report(dir, &report_input(e))
}

#[cfg(test)]
mod tests {
    use arrow::array::Float32Array;

    use super::*;

    #[test]
    fn truncation_rounds_to_the_nearest_kept_mantissa() {
        assert_eq!(truncate_f32(1.0, 0), 1.0);
        assert_eq!(truncate_f32(1.75, 1), 2.0, "1.11b rounds up to 10.0b");
        assert_eq!(truncate_f32(1.25, 1), 1.5, "ties round away from zero");
        assert_eq!(truncate_f32(1.2, 1), 1.0);
        assert_eq!(truncate_f32(-1.75, 1), -2.0);
        assert_eq!(truncate_f32(3.3, 23), 3.3);
        assert_eq!(truncate_f64(1.75, 1), 2.0);
        let x = 123.456_f32;
        for keep in 0..23 {
            let rel = ((truncate_f32(x, keep) - x) / x).abs();
            assert!(
                rel <= 2f32.powi(-(keep as i32) - 1) * 1.0001,
                "{keep}: {rel}"
            );
        }
        assert!(truncate_f32(f32::NAN, 3).is_nan());
        assert_eq!(
            truncate_f32(f32::MAX, 0),
            f32::MAX,
            "no overflow to infinity"
        );
    }

    #[test]
    fn the_fewest_bits_meeting_the_target_are_chosen() {
        let mut e = TruncationErrors::new(23);
        let values: ArrayRef = Arc::new(Float32Array::from_iter_values(
            (1..2000).map(|i| i as f32 * 1.37),
        ));
        e.update(&values);
        let (bits, rel) = e.choose(1e-3);
        assert!(rel <= 1e-3);
        let (fewer, rel_fewer) = e.choose(1e-2);
        assert!(fewer < bits && rel_fewer <= 1e-2);
        assert_eq!(e.choose(0.0).0, 23, "an exact target keeps every bit");
    }
}
