//! A model saved by `baler-arrow train`, loaded to compress another file.

use std::path::Path;

use baler_udfs::format::Storage;

use super::{Fitted, compress_err, scan, selected_device};
use crate::error::{Error, Result};
use crate::ingest::{self, ReadOptions};
use crate::options::CompressOptions;

/// Loads a saved model (`baler-arrow train`) and checks that it describes `input`'s columns.
/// A model carries its bounds; only an autoencoder trained without any gets `options.bounds`.
///
/// # Errors
/// [`Error::ModelFile`] for a file that is not a model, [`Error::ModelMismatch`] naming the
/// columns that differ, read errors.
pub fn load(
    path: &Path,
    input: &Path,
    read: &ReadOptions,
    options: &CompressOptions,
) -> Result<Fitted> {
    let saved = crate::model::saved::load(path, &selected_device(options)?.device)?;
    let mut header = saved.header;
    let unbounded = header.columns.iter().all(|c| c.bound.is_none());
    if let Some(bounds) = options.bounds.as_ref().filter(|_| unbounded) {
        for c in &mut header.columns {
            if matches!(c.storage, Storage::Decoded { .. }) {
                let dt = c.arrow_type().map_err(compress_err(path))?;
                c.bound = bounds.get(&c.name).map(|b| b.for_type(&dt));
            }
        }
    }
    let progress = options.progress.as_ref();
    let keep = super::kept_columns(&header);
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
    let scan = scan(reader, &keep, false, 0, progress)?;
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
    Ok(Fitted::new(saved.autoencoder, header, saved.weights))
}
