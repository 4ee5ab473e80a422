//! Method `ae`: the Baler paper's autoencoder, trained on the sample; under error bounds
//! without `--latent`, the latent size (and latent storage) that encodes a sample smallest.

use std::path::Path;

use arrow::datatypes::DataType;
use baler_udfs::format::{
    AeSpec, ColumnSpec, LatentSpec, MethodSpec, ModelSpec, Storage, TrainingSummary, latent_name,
};
use baler_udfs::normalise::Normaliser;

use super::columns::{column_specs, header};
use super::{Fitted, SEARCH_LATENTS, SEARCH_TRAIN_ROWS, Sample, Scan, keep_smallest};
use crate::error::{Error, Result};
use crate::model::{Autoencoder, DEFAULT_NEGATIVE_SLOPE, train};
use crate::options::{CompressOptions, DEFAULT_RATIO, LatentSize, LatentStorage, Method};

/// Fits the autoencoder; under error bounds without `--latent`, the latent size (and Float16
/// or Float32 latents) that gives the smallest estimated output.
///
/// # Errors
/// [`Error::NotApplicable`] for fewer than two model columns, an impossible latent size,
/// training failures.
pub(super) fn fit(
    input: &Path,
    scan: &Scan,
    sample: &Sample,
    options: &CompressOptions,
) -> Result<Fitted> {
    let columns = column_specs(scan, Method::Ae, options.bounds.as_ref())?;
    let n = columns.iter().filter(|c| c.storage.is_model()).count();
    if n < 2 {
        return Err(Error::NotApplicable {
            method: Method::Ae.name(),
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
            let best = keep_smallest(candidates, &note, sample, &mut estimates)?;
            best.header.method.ae().map_or(1, |a| a.model.latent)
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
    if let MethodSpec::Ae(ae) = &mut header.method {
        storage.apply(&mut ae.latent);
    }
    Fitted::new(fitted.autoencoder.clone(), header, fitted.weights.clone())
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
    let selected = super::selected_device(options)?;
    let device = selected.device.clone();
    let model = Autoencoder::new(&spec, options.train.seed, &device)?;
    let normaliser = Normaliser::of_columns(columns);
    let sample = scan.model_sample(columns, rows);
    let summary = train(
        &model,
        normaliser.normalise(&sample),
        &options.train,
        &device,
        options.progress.as_ref(),
    )?;
    if !summary.final_loss.is_finite() {
        return Err(Error::Training(candle_core::Error::Msg(format!(
            "training diverged: the loss after {} epochs is {}; lower `--lr` (it is {}), or keep columns with values near the float limits (`--keep`)",
            summary.epochs, summary.final_loss, options.train.learning_rate
        ))));
    }
    let weights = model.decoder_bytes()?;
    let method = MethodSpec::Ae(AeSpec {
        latent: LatentSpec {
            columns: (0..spec.latent).map(latent_name).collect(),
            data_type: DataType::Float32.to_string(),
            mantissa_bits: None,
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
    });
    Ok(Fitted::new(
        Some(model),
        header(columns.to_vec(), method),
        weights,
    ))
}
