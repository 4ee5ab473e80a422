//! Turning original rows into blocks: latents from the encoder (method `ae`), then the decode
//! side's own codec computes the residuals and codes every stream.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, RecordBatch};
use arrow::datatypes::DataType;
use baler_udfs::codec::{Codec, EncodedBlock};
use baler_udfs::format::{Footer, Header};
use baler_udfs::normalise::Normaliser;
use candle_core::{Module, Tensor};

use crate::error::{Error, Result};
use crate::ingest::f64_values;
use crate::model::Autoencoder;
use crate::options::LatentStorage;
use crate::truncate::truncate_f32;

/// Turns batches of original rows into blocks.
pub struct Encoder<'a> {
    autoencoder: Option<&'a Autoencoder>,
    pub(super) codec: Codec,
    pub(super) footer: Footer,
    normaliser: Normaliser,
    pub(super) storage: LatentStorage,
    /// The data being encoded, named in errors.
    path: PathBuf,
}

impl<'a> Encoder<'a> {
    /// The encoder of a file with `header` and model `weights` (and the autoencoder, for
    /// method `ae`); `path` names the data in errors.
    ///
    /// # Errors
    /// [`Error::Compress`] when the header or the weights do not make a codec.
    pub fn new(
        header: &Header,
        autoencoder: Option<&'a Autoencoder>,
        weights: &[u8],
        path: &Path,
    ) -> Result<Self> {
        // The codec is built from the footer as a reader will see it (serialised and parsed
        // back, checked), so that encoding predicts exactly as decoding will.
        let written = Footer {
            header: header.clone(),
            weights: weights.to_vec(),
        };
        let entries = written.entries().map_err(compress_err(path))?;
        let footer =
            Footer::from_metadata(&entries.into_iter().collect()).map_err(compress_err(path))?;
        let codec = Codec::try_new(&footer).map_err(compress_err(path))?;
        Ok(Self {
            autoencoder,
            codec,
            footer,
            normaliser: Normaliser::of_columns(&header.columns),
            storage: header
                .method
                .ae()
                .map_or(LatentStorage::FULL, |a| LatentStorage::of(&a.latent)),
            path: path.to_owned(),
        })
    }

    /// Encodes one batch of original rows into a block.
    ///
    /// # Errors
    /// [`Error::Compress`] for a value no grid point can hold, [`Error::Training`] when the
    /// encoder fails.
    pub fn encode(&self, batch: &RecordBatch) -> Result<EncodedBlock> {
        let latents = match self.autoencoder {
            Some(model) => self.latents(model, batch)?,
            None => Vec::new(),
        };
        self.codec
            .encode_block(batch, &latents)
            .map_err(compress_err(&self.path))
    }

    /// The latent columns of `batch`'s model columns, stored as the header says.
    fn latents(&self, model: &Autoencoder, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        let rows = batch.num_rows();
        let originals = self
            .codec
            .model_columns()
            .iter()
            .map(|&i| f64_values(batch.column(i)))
            .collect::<Result<Vec<_>>>()?;
        let x = Tensor::from_vec(
            self.normaliser.normalise(&originals),
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

    /// The bytes of the footer's entries.
    ///
    /// # Errors
    /// [`Error::Compress`] if the footer cannot be written.
    pub fn footer_bytes(&self) -> Result<u64> {
        let entries = self.footer.entries().map_err(compress_err(&self.path))?;
        Ok(entries
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum())
    }
}

/// Estimates the output size of a file with `header` and `weights` over `total_rows` rows, by
/// encoding `sample` (original rows) as one block: its bytes scaled to the whole input, plus
/// the footer.
///
/// # Errors
/// Those of [`Encoder::encode`].
pub fn estimate(
    header: &Header,
    autoencoder: Option<&Autoencoder>,
    weights: &[u8],
    sample: &RecordBatch,
    total_rows: u64,
) -> Result<u64> {
    let here = Path::new("<sample>");
    let rows = sample.num_rows().max(1);
    let encoder = Encoder::new(header, autoencoder, weights, here)?;
    let block = encoder.encode(sample)?;
    let scaled = block.bytes.len() as f64 * total_rows as f64 / rows as f64;
    Ok(scaled as u64 + encoder.footer_bytes()?)
}

/// Wraps a decode-side error raised while compressing `path`.
pub(crate) fn compress_err(path: &Path) -> impl Fn(baler_udfs::Error) -> Error + '_ {
    move |source| Error::Compress {
        path: path.to_owned(),
        source: Box::new(source),
    }
}
