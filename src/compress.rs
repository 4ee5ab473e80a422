//! `compress`: fit a model (or load a saved one), encode every row with it, and report what
//! the file holds and how well it does.

use std::path::{Path, PathBuf};

use baler_udfs::codec::StreamSize;
use baler_udfs::format::{FitSummary, MethodSpec, Storage, TrainingSummary};
use serde::Serialize;

use crate::encode::{self, Parts};
use crate::error::{Error, Result};
use crate::fit::{self, Estimate, Fitted};
use crate::ingest::{self, ReadOptions};
use crate::metrics::{Ratios, Sizes, VariableMetrics};
use crate::options::{CompressOptions, LatentStorage};
use crate::output::check_output;

/// What [`compress`] wrote and how well it did.
#[derive(Debug, Clone, Serialize)]
pub struct CompressReport {
    pub output: PathBuf,
    pub rows: u64,
    /// Latent numbers per row (0 but for method `ae`).
    pub latent: usize,
    /// The number of model columns (decoded or predicted).
    pub decoded_columns: usize,
    pub pass_through: Vec<String>,
    pub constant: Vec<String>,
    pub dropped: Vec<(String, String)>,
    /// How the autoencoder was trained (method `ae`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingSummary>,
    /// How the predictors were fitted (methods `predict` and `residual`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit: Option<FitSummary>,
    pub variables: Vec<VariableMetrics>,
    pub sizes: Sizes,
    /// Bytes of each part of the output file.
    pub parts: Parts,
    /// The coded bytes of each stream (every block together).
    pub streams: Vec<StreamSize>,
    pub ratios: Ratios,
    /// The method written: `ae`, `predict` or `residual`.
    pub method: String,
    /// The latents' type (`Float32`, `Float16`; empty without latents).
    pub latent_type: String,
    /// Each bounded column's guaranteed bound.
    pub bounds: Vec<(String, String)>,
    /// Candidates tried on a sample, with their estimated sizes.
    pub estimates: Vec<Estimate>,
    /// What the output holds: the method, or `"lossless"` after a fallback.
    pub written: String,
    /// Set when the compressed file is larger than lossless Parquet.
    pub warning: Option<String>,
}

/// Compresses `input` into a baler Parquet file at `output`.
///
/// # Errors
/// Anything [`fit::fit`] reports, a `--model` whose columns differ from the input's, an output
/// that exists or is the input, and write failures (which leave no file behind).
pub fn compress(
    input: &Path,
    output: &Path,
    read: &ReadOptions,
    options: &CompressOptions,
) -> Result<CompressReport> {
    check_output(input, output, options.force)?;
    let fitted = match &options.model {
        None => fit::fit(input, read, options)?.0,
        Some(path) => fit::load(path, input, read, options)?,
    };
    let model_file = match (&options.model, options.reference_model) {
        (Some(model), true) => Some(place_model(model, output)?),
        _ => None,
    };
    let reader = ingest::open(input, read)?;
    let dropped = reader
        .dropped()
        .iter()
        .map(|d| (d.name.clone(), d.reason.clone()))
        .collect();
    let model = encode::Model {
        header: &fitted.header,
        autoencoder: fitted.autoencoder.as_ref(),
        weights: &fitted.weights,
        file: model_file.as_ref().map(|(name, _)| name.as_str()),
    };
    let encoded = encode::write(
        reader,
        output,
        &model,
        options.force,
        options.progress.as_ref(),
    )?;
    let mut report = report(output, &fitted, encoded, dropped);
    if let Some((_, bytes)) = model_file {
        report.sizes.model_bytes = bytes;
        report.ratios = Ratios::from(&report.sizes);
    }
    if report.sizes.output_bytes > report.sizes.lossless_bytes {
        let (bytes, lossless) = (report.sizes.output_bytes, report.sizes.lossless_bytes);
        let method = fitted.method().description();
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
                "{method}'s file ({bytes} B) is larger than lossless Parquet ({lossless} B); written anyway, as `--no-fallback` asks"
            )
        });
    }
    Ok(report)
}

/// Puts the model file `model` beside `output` (copied there unless it is there already, or
/// a file of its name with other contents is); returns its file name and size.
///
/// # Errors
/// [`Error::Open`], [`Error::Write`], and [`Error::Options`] for a different file of the same
/// name beside the output.
fn place_model(model: &Path, output: &Path) -> Result<(String, u64)> {
    let name = model
        .file_name()
        .ok_or_else(|| Error::Options {
            message: format!("`{}` is not a model file name", model.display()),
        })?
        .to_string_lossy()
        .into_owned();
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let target = dir.join(&name);
    let bytes = std::fs::read(model).map_err(|source| Error::Open {
        path: model.to_owned(),
        source,
    })?;
    match std::fs::read(&target) {
        Ok(existing) if existing == bytes => {}
        Ok(_) => {
            return Err(Error::Options {
                message: format!(
                    "`{}` exists and is another model; the output references its model by that name",
                    target.display()
                ),
            });
        }
        Err(_) => {
            let mut file = crate::output::AtomicFile::create(&target, false)?;
            std::io::Write::write_all(file.file(), &bytes).map_err(|source| Error::Write {
                path: target.clone(),
                source,
            })?;
            file.commit()?;
        }
    }
    Ok((name, bytes.len() as u64))
}

/// The report of a file written with `fitted`'s model.
fn report(
    output: &Path,
    fitted: &Fitted,
    encoded: encode::Encoded,
    dropped: Vec<(String, String)>,
) -> CompressReport {
    let header = &fitted.header;
    let names_with = |pred: fn(&Storage) -> bool| {
        header
            .columns
            .iter()
            .filter(|c| pred(&c.storage))
            .map(|c| c.name.clone())
            .collect()
    };
    let (training, fit) = match &header.method {
        MethodSpec::Ae(a) => (Some(a.training.clone()), None),
        MethodSpec::Predict(p) | MethodSpec::Residual(p) => (None, Some(p.fit.clone())),
    };
    let ae = header.method.ae();
    CompressReport {
        output: output.to_owned(),
        rows: encoded.rows,
        latent: ae.map_or(0, |a| a.model.latent),
        decoded_columns: encoded.variables.len(),
        pass_through: names_with(|s| matches!(s, Storage::PassThrough)),
        constant: names_with(|s| matches!(s, Storage::Constant { .. })),
        dropped,
        training,
        fit,
        variables: encoded.variables,
        parts: encoded.parts,
        streams: encoded.streams,
        ratios: Ratios::from(&encoded.sizes),
        sizes: encoded.sizes,
        method: fitted.method().name().into(),
        latent_type: ae.map_or(String::new(), |a| LatentStorage::of(&a.latent).label()),
        bounds: header
            .columns
            .iter()
            .filter_map(|c| Some((c.name.clone(), c.bound?.to_string())))
            .collect(),
        estimates: fitted.estimates.clone(),
        written: header.method.name().into(),
        warning: None,
    }
}
