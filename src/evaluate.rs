//! `evaluate`: a compressed file against lossless Parquet, float mantissa truncation (+ zstd, + pcodec) and, for a
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

use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use serde::Serialize;

use crate::compress::compress;
use crate::convert::{ByteCounter, DEFAULT_ZSTD_LEVEL, lossless_properties};
use crate::decode::Decoded;
use crate::error::{Error, Result};
use crate::fit::kept_columns;
use crate::ingest::{self, ReadOptions, f64_values};
use crate::metrics::{VariableAccumulator, VariableMetrics};
use crate::model::TrainConfig;
use crate::options::{CompressOptions, ErrorBounds, Method};
use crate::truncate::{
    TruncationChoice, TruncationErrors, choose_truncation, mantissa_bits, truncated_pcodec_size,
    truncated_size,
};

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
    /// Every value checked against its bound (exact columns bit for bit).
    pub verification: crate::verify::Verification,
    /// Methods that could not be compared, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The first rows of each decoded variable, original and reconstructed (for plots).
    #[serde(skip)]
    pub samples: Vec<(String, Vec<f64>, Vec<f64>)>,
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
    let mut decoded = Decoded::open(compressed)?;
    let header = decoded.codec.header().clone();
    let bounds = ErrorBounds::of(&header);
    let reader = ingest::open(original, read)?;
    let schema = reader.schema();
    check_same_columns(original, compressed, &schema, &decoded.schema())?;
    // The guarantee first: every value within its bound, or the evaluation stops here.
    let verification = crate::verify::verify(original, compressed, read)?;
    let variables: Vec<usize> = decoded.codec.model_columns();
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
            .take_rows(batch.num_rows())?
            .ok_or_else(|| rows_differ(original, compressed))?;
        for (j, &i) in variables.iter().enumerate() {
            let x = f64_values(batch.column(i))?;
            let y = f64_values(rebuilt.column(i))?;
            metrics[j].update(x.iter().copied().zip(y.iter().copied()));
            let (_, xs, ys) = &mut samples[j];
            let room = plot_rows.saturating_sub(xs.len()).min(x.len());
            xs.extend_from_slice(&x[..room]);
            ys.extend_from_slice(&y[..room]);
        }
        for (t, &i) in truncation.iter_mut().zip(&floats) {
            t.update(batch.column(i))?;
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
    let compressed_bytes = crate::output::file_bytes(compressed);
    let own = Method::of(&header.method);
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
        for (method, outcome) in compare_methods(original, read, &header, bounds, &others, options)?
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
    let pcodec_label = if bounds.is_some() {
        "truncation + pcodec (same bounds)"
    } else {
        "truncation + pcodec"
    };
    let truncated_pcodec = truncated_pcodec_size(original, read, &choices)?;
    methods.push(result(pcodec_label.into(), truncated_pcodec));
    Ok(Evaluation {
        verification,
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

/// Compresses `original` with each of `methods` under `bounds` (keeping the same columns as
/// the file whose `header` is given) into a temporary folder; returns each one's bytes, or why
/// the method does not apply to these columns.
fn compare_methods(
    original: &Path,
    read: &ReadOptions,
    header: &baler_udfs::format::Header,
    bounds: &ErrorBounds,
    methods: &[Method],
    evaluate: &EvaluateOptions,
) -> Result<Vec<(Method, std::result::Result<u64, String>)>> {
    let dir = tempfile::tempdir().map_err(|source| Error::Write {
        path: std::env::temp_dir(),
        source,
    })?;
    methods
        .iter()
        .map(|&method| {
            let output = dir.path().join(format!("{}.parquet", method.name()));
            let options = CompressOptions {
                bounds: Some(bounds.clone()),
                method: Some(method),
                keep: kept_columns(header),
                train: evaluate.train.clone(),
                ..CompressOptions::default()
            };
            match compress(original, &output, read, &options) {
                Ok(report) => Ok((method, Ok(report.sizes.output_bytes))),
                Err(Error::NotApplicable { message, .. }) => Ok((method, Err(message))),
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
