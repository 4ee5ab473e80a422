//! Fitting: the first pass over the input ([`scan`]), then the model the options ask for: the
//! autoencoder ([`ae`]), learned prediction ([`predict`]) or the model-free residual coder, or
//! under error bounds without a method every method, keeping the one that encodes a sample
//! smallest.

mod ae;
mod columns;
mod network;
pub mod predict;
mod saved;
mod scan;

use std::path::Path;

use arrow::array::RecordBatch;
use baler_udfs::format::Header;
use serde::Serialize;

pub use self::columns::kept_columns;
pub use self::saved::load;
pub use self::scan::{Scan, scan};
use crate::encode::{self, compress_err};
use crate::error::{Error, Result};
use crate::ingest::{self, ReadOptions};
use crate::model::{Autoencoder, SelectedDevice, select_device};
use crate::options::{CompressOptions, LatentStorage, Method};
pub(crate) use predict::solve;

/// Rows used to train the candidate models when the latent size is chosen on a sample.
pub const SEARCH_TRAIN_ROWS: usize = 32_768;
/// Latent sizes tried under error bounds when `--latent` is not given.
pub const SEARCH_LATENTS: [usize; 4] = [1, 2, 4, 8];

/// A fitted model with the header that describes how it maps the input's columns.
pub struct Fitted {
    /// The autoencoder (method `ae`).
    pub autoencoder: Option<Autoencoder>,
    pub header: Header,
    /// The weights the file carries (safetensors bytes): the decoder (`ae`), or the predictors'
    /// networks (`predict`; empty without networks).
    pub weights: Vec<u8>,
    /// The candidates tried on a sample (methods, latent sizes), with their estimated sizes.
    pub estimates: Vec<Estimate>,
    /// This model's own estimated size, once measured on the sample.
    estimated_bytes: Option<u64>,
}

impl Fitted {
    /// A fitted model, not yet estimated.
    pub fn new(autoencoder: Option<Autoencoder>, header: Header, weights: Vec<u8>) -> Self {
        Self {
            autoencoder,
            header,
            weights,
            estimates: Vec::new(),
            estimated_bytes: None,
        }
    }

    /// The method, as reports name it.
    pub fn method(&self) -> Method {
        Method::of(&self.header.method)
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

/// Fits a model on `input` (first pass plus training).
///
/// # Errors
/// Read errors, bad values (see [`scan`]), an impossible latent size, bounds naming unknown
/// columns, a method that does not apply ([`Error::NotApplicable`]), training failures.
pub fn fit(input: &Path, read: &ReadOptions, options: &CompressOptions) -> Result<(Fitted, Scan)> {
    options.validate()?;
    let progress = options.progress.as_ref();
    let scan = scan(
        ingest::open(input, read)?,
        &options.keep,
        options.keep_non_finite,
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
        (None, Some(_)) => vec![Method::Predict, Method::Residual],
    };
    let sample = Sample::new(scan);
    let candidates = methods
        .into_iter()
        .map(|method| match method {
            Method::Ae => ae::fit(input, scan, &sample, options),
            Method::Predict | Method::Residual => predict::fit_method(input, scan, options, method),
        })
        .collect::<Result<Vec<_>>>()?;
    let mut estimates = Vec::new();
    let mut fitted = keep_smallest(candidates, "", &sample, &mut estimates)?;
    fitted.estimates = estimates;
    Ok(fitted)
}

/// The first rows of the input, to estimate sizes on.
struct Sample<'a> {
    batch: &'a RecordBatch,
    /// Rows of the whole input.
    total_rows: u64,
}

impl<'a> Sample<'a> {
    fn new(scan: &'a Scan) -> Self {
        Self {
            batch: &scan.head,
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
            let bytes = encode::estimate(
                &fitted.header,
                fitted.autoencoder.as_ref(),
                &fitted.weights,
                sample.batch,
                sample.total_rows,
            )?;
            let ae = fitted.header.method.ae();
            estimates.push(Estimate {
                method: format!("{}{note}", fitted.method().name()),
                latent: ae.map_or(0, |a| a.model.latent),
                latent_type: ae
                    .map_or(LatentStorage::FULL, |a| LatentStorage::of(&a.latent))
                    .label(),
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

/// The device the options ask for; a fallback is reported as a note.
pub(crate) fn selected_device(options: &CompressOptions) -> Result<SelectedDevice> {
    let selected = select_device(options.device)?;
    if let Some(note) = &selected.note {
        options.progress.note(note);
    }
    Ok(selected)
}
