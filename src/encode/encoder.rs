//! Turning original rows into the stored model inputs: latents from the encoder (method
//! `ae`), then residuals computed by the decode side's own codec.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, RecordBatch};
use arrow::datatypes::DataType;
use baler_udfs::codec::Codec;
use baler_udfs::format::{Footer, Header, footer_entries};
use baler_udfs::normalise::Normaliser;
use candle_core::{Module, Tensor};

use super::writer::{model_input_schema, stored_properties};
use crate::convert::parquet_bytes;
use crate::error::{Error, Result};
use crate::model::Autoencoder;
use crate::options::LatentStorage;
use crate::truncate::truncate_f32;

/// Turns original rows into stored model inputs: latents from the encoder, then residuals.
pub struct Encoder<'a> {
    autoencoder: Option<&'a Autoencoder>,
    pub(super) codec: Codec,
    normaliser: Normaliser,
    pub(super) storage: LatentStorage,
    /// The data being encoded, named in errors.
    path: PathBuf,
}

impl<'a> Encoder<'a> {
    /// The encoder of a file with `header` and model `weights` (the autoencoder, for method
    /// `ae`); `path` names the data in errors.
    ///
    /// # Errors
    /// [`Error::Compress`] when the header or the weights do not make a codec.
    pub fn new(
        header: &Header,
        autoencoder: Option<&'a Autoencoder>,
        weights: &[u8],
        path: &Path,
    ) -> Result<Self> {
        let footer = Footer {
            header: header.clone(),
            decoder: weights.to_vec(),
        };
        let codec = Codec::try_new(&footer).map_err(compress_err(path))?;
        Ok(Self {
            autoencoder,
            codec,
            normaliser: Normaliser::of_columns(&header.columns),
            storage: header
                .method
                .ae()
                .map_or(LatentStorage::FULL, |a| LatentStorage::of(&a.latent)),
            path: path.to_owned(),
        })
    }

    /// The model inputs ([`Header::model_inputs`] order) for the model columns' values, and
    /// the columns decoding them will give ([`Codec::decode_model_columns`]).
    ///
    /// # Errors
    /// [`Error::Compress`] for a value no grid point can hold, [`Error::Training`] when the
    /// encoder fails.
    pub fn encode(&self, originals: &[Vec<f64>]) -> Result<(Vec<ArrayRef>, Vec<ArrayRef>)> {
        let mut inputs = match self.autoencoder {
            Some(model) => self.latents(model, originals)?,
            None => Vec::new(),
        };
        let latents: Vec<&ArrayRef> = inputs.iter().collect();
        let (residuals, model) = self
            .codec
            .encode_residuals(&latents, originals)
            .map_err(compress_err(&self.path))?;
        inputs.extend(residuals);
        Ok((inputs, model))
    }

    /// The latent columns of `originals`, stored as the header says.
    fn latents(&self, model: &Autoencoder, originals: &[Vec<f64>]) -> Result<Vec<ArrayRef>> {
        let rows = originals.first().map_or(0, Vec::len);
        let x = Tensor::from_vec(
            self.normaliser.normalise(originals),
            (rows, originals.len()),
            model.device(),
        )?;
        let z = model.encoder.forward(&x)?;
        let k = z.dim(1)?;
        let z = z.flatten_all()?.to_vec1::<f32>()?;
        (0..k)
            .map(|j| {
                let column = (0..rows).map(|r| z[r * k + j]);
                Ok(match self.storage {
                    LatentStorage::Float16 => {
                        let a: ArrayRef = Arc::new(Float32Array::from_iter_values(column));
                        arrow::compute::cast(&a, &DataType::Float16)?
                    }
                    LatentStorage::Float32 { mantissa_bits } => {
                        Arc::new(Float32Array::from_iter_values(
                            column.map(|z| truncate_f32(z, mantissa_bits)),
                        ))
                    }
                })
            })
            .collect()
    }
}

/// Estimates the output size (latents, residuals, footer) of a file with `header` and
/// `weights` over `total_rows` rows, by encoding the `sample` (model columns' values).
///
/// # Errors
/// Those of [`Encoder::encode`].
pub fn estimate(
    header: &Header,
    autoencoder: Option<&Autoencoder>,
    weights: &[u8],
    sample: &[Vec<f64>],
    total_rows: u64,
) -> Result<u64> {
    let here = Path::new("<sample>");
    let rows = sample.first().map_or(0, Vec::len).max(1);
    let encoder = Encoder::new(header, autoencoder, weights, here)?;
    let (inputs, _) = encoder.encode(sample)?;
    let schema = model_input_schema(header);
    let batch = RecordBatch::try_new(schema, inputs)?;
    let bytes = parquet_bytes(&batch, stored_properties(&batch, here)?, here)?;
    let footer_bytes: usize = footer_entries(header, weights)
        .map_err(compress_err(here))?
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    Ok((bytes as f64 * total_rows as f64 / rows as f64) as u64 + footer_bytes as u64)
}

/// Wraps a decode-side error raised while compressing `path`.
pub(crate) fn compress_err(path: &Path) -> impl Fn(baler_udfs::Error) -> Error + '_ {
    move |source| Error::Compress {
        path: path.to_owned(),
        source: Box::new(source),
    }
}
