//! The baler Parquet format, version 2 (see `docs/format.md`).
//!
//! An ordinary Parquet file: pass-through columns stored losslessly, the model inputs (latent
//! columns `baler_z0 … baler_z{k-1}` and residual columns `baler_r_<column>`), and footer
//! key-value metadata: [`FORMAT_KEY`] (`"2"`), [`HEADER_KEY`] (JSON [`Header`]),
//! [`DECODER_KEY`] (the model's weights as safetensors bytes, base64) and [`DECODER_SHA256_KEY`]
//! (hex SHA-256 of those bytes).

mod header;

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

pub use self::header::{
    AeSpec, ColumnSpec, Domain, Feature, FitSummary, Header, LatentSpec, MethodSpec, ModelSpec,
    Network, PredictSpec, Predictor, Storage, TrainingSummary, Transform, decoder_widths,
    encoder_widths, predictor_tensor_prefix,
};
use crate::error::{Error, Result};
pub use crate::quantise::{Bound, RESIDUAL_PREFIX, residual_name};

/// Prefix of every footer key that baler-arrow writes (as Arrow uses `ARROW:`).
pub const METADATA_PREFIX: &str = "baler.";
/// Footer key holding the format version.
pub const FORMAT_KEY: &str = "baler.format";
/// Footer key holding the JSON [`Header`].
pub const HEADER_KEY: &str = "baler.header";
/// Footer key holding the model's weights (the decoder, or the predictors' networks):
/// safetensors bytes, base64.
pub const DECODER_KEY: &str = "baler.decoder";
/// Footer key holding the hex SHA-256 of the weights' safetensors bytes.
pub const DECODER_SHA256_KEY: &str = "baler.decoder_sha256";
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 2;
/// Latent columns are named `baler_z0`, `baler_z1`, …
pub const LATENT_PREFIX: &str = "baler_z";
/// Name prefix of the decoder's tensors inside the safetensors bytes.
pub const DECODER_TENSOR_PREFIX: &str = "decoder";

/// The name of latent column `i`.
pub fn latent_name(i: usize) -> String {
    format!("{LATENT_PREFIX}{i}")
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The footer entries for a header and the model's safetensors bytes.
///
/// # Errors
/// Never in practice: the header always serialises.
pub fn footer_entries(header: &Header, weights: &[u8]) -> Result<Vec<(String, String)>> {
    let json = serde_json::to_string(header).map_err(|e| Error::Header(e.to_string()))?;
    Ok(vec![
        (FORMAT_KEY.to_owned(), FORMAT_VERSION.to_string()),
        (HEADER_KEY.to_owned(), json),
        (DECODER_KEY.to_owned(), STANDARD.encode(weights)),
        (DECODER_SHA256_KEY.to_owned(), sha256_hex(weights)),
    ])
}

/// A file's header and model weights, checked.
#[derive(Debug, Clone)]
pub struct Footer {
    pub header: Header,
    /// The model's weights: safetensors bytes (empty for a model without networks).
    pub decoder: Vec<u8>,
}

impl Footer {
    /// The hex SHA-256 of everything decoding depends on: the weights, the column specs
    /// (normalisation, bounds) and the method (latent columns, predictors). Files with the same
    /// id decode alike.
    pub fn model_id(&self) -> String {
        let h = &self.header;
        let spec = serde_json::to_vec(&(&h.columns, h.method.decoding())).unwrap_or_default();
        sha256_hex(&[self.decoder.as_slice(), &spec].concat())
    }

    /// Reads and checks the footer entries of a baler file.
    ///
    /// # Errors
    /// [`Error::NotCompressed`] without a [`FORMAT_KEY`], [`Error::UnsupportedVersion`],
    /// [`Error::MissingKey`], [`Error::Header`] for malformed JSON or base64, and
    /// [`Error::Checksum`] when the weights do not hash to [`DECODER_SHA256_KEY`].
    pub fn from_metadata(kv: &HashMap<String, String>) -> Result<Self> {
        let version = kv.get(FORMAT_KEY).ok_or(Error::NotCompressed)?;
        if version.trim() != FORMAT_VERSION.to_string() {
            return Err(Error::UnsupportedVersion {
                found: version.clone(),
                supported: FORMAT_VERSION,
            });
        }
        let get = |key: &'static str| kv.get(key).ok_or(Error::MissingKey(key));
        let header: Header =
            serde_json::from_str(get(HEADER_KEY)?).map_err(|e| Error::Header(e.to_string()))?;
        let decoder = STANDARD
            .decode(get(DECODER_KEY)?)
            .map_err(|e| Error::Header(format!("`{DECODER_KEY}` is not base64: {e}")))?;
        let expected = get(DECODER_SHA256_KEY)?;
        let found = sha256_hex(&decoder);
        if &found != expected {
            return Err(Error::Checksum {
                expected: expected.clone(),
                found,
            });
        }
        header.validate()?;
        Ok(Self { header, decoder })
    }
}
