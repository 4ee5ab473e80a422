//! The baler Parquet format, version 3 (see `docs/format.md`).
//!
//! An ordinary Parquet file with one row per *block* of original rows: the block's row count
//! ([`ROWS_COLUMN`]), the range of its event index ([`EVENT_MIN_COLUMN`], [`EVENT_MAX_COLUMN`],
//! when the table has one) and its data ([`DATA_COLUMN`]: every column's streams, coded by
//! pcodec, see [`crate::stream`]); one block per row group. The footer's key-value metadata
//! holds [`FORMAT_KEY`] (`"3"`), [`HEADER_KEY`] (the JSON [`Header`], zstd-compressed, base64)
//! and [`WEIGHTS_KEY`] (the model's weights as safetensors bytes, zstd-compressed, base64;
//! absent when the model has none). zstd's frame checksums guard both.

mod header;
mod model;

use std::collections::HashMap;
use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

pub use self::header::{
    AeSpec, ColumnSpec, Domain, Feature, FitSummary, Header, Lag, LatentSpec, MAX_LAYERS,
    MAX_WIDTH, MethodSpec, ModelSpec, Network, PredictSpec, Predictor, Split, Storage,
    TrainingSummary, Transform, decoder_widths, encoder_widths, predictor_tensor_prefix,
};
pub use self::model::{
    MODEL_FILE_KEY, MODEL_KEY, PREDICTOR_TENSOR_PREFIX, decoding_weights, model_footer, read_model,
    referenced_footer,
};
use crate::error::{Error, Result};
pub use crate::quantise::Bound;

/// Prefix of every footer key that baler-arrow writes (as Arrow uses `ARROW:`).
pub const METADATA_PREFIX: &str = "baler.";
/// Footer key holding the format version.
pub const FORMAT_KEY: &str = "baler.format";
/// Footer key holding the [`Header`]: JSON, zstd-compressed (with its checksum), base64.
pub const HEADER_KEY: &str = "baler.header";
/// Footer key holding the model's weights (the decoder, or the predictors' networks):
/// safetensors bytes, zstd-compressed (with its checksum), base64.
pub const WEIGHTS_KEY: &str = "baler.weights";
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 3;
/// Latents are named `baler_z0`, `baler_z1`, … in the header.
pub const LATENT_PREFIX: &str = "baler_z";
/// Name prefix of the decoder's tensors inside the safetensors bytes.
pub const DECODER_TENSOR_PREFIX: &str = "decoder";
/// The stored column holding each block's row count (UInt32).
pub const ROWS_COLUMN: &str = "baler_rows";
/// The stored column holding each block's streams (Binary).
pub const DATA_COLUMN: &str = "baler_data";
/// The stored column holding the smallest event index of each block (the event column's type).
pub const EVENT_MIN_COLUMN: &str = "event_min";
/// The stored column holding the largest event index of each block.
pub const EVENT_MAX_COLUMN: &str = "event_max";
/// zstd level of the footer's entries (they are small; the strongest level costs nothing).
const FOOTER_ZSTD_LEVEL: i32 = 19;
/// The most bytes a footer entry may unpack to (a reader refuses more).
pub const MAX_FOOTER_BYTES: u64 = 256 << 20;

/// The name of latent `i`.
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

/// A file's header and model weights, checked.
#[derive(Debug, Clone)]
pub struct Footer {
    pub header: Header,
    /// The model's weights: safetensors bytes (empty for a model without networks).
    pub weights: Vec<u8>,
}

impl Footer {
    /// The hex SHA-256 of everything decoding depends on: the weights, the column specs
    /// (normalisation, bounds) and the method (latent columns, predictors). Files with the same
    /// id decode alike.
    pub fn model_id(&self) -> String {
        let h = &self.header;
        let spec = serde_json::to_vec(&(&h.columns, h.method.decoding())).unwrap_or_default();
        sha256_hex(&[self.weights.as_slice(), &spec].concat())
    }

    /// The footer's key-value entries of a file that references this model, kept in the
    /// model file `file_name` beside it, instead of embedding it.
    pub fn reference_entries(&self, file_name: &str) -> Vec<(String, String)> {
        vec![
            (FORMAT_KEY.to_owned(), FORMAT_VERSION.to_string()),
            (MODEL_KEY.to_owned(), self.model_id()),
            (MODEL_FILE_KEY.to_owned(), file_name.to_owned()),
        ]
    }

    /// The footer's key-value entries.
    ///
    /// # Errors
    /// Never in practice: the header always serialises and zstd always compresses.
    pub fn entries(&self) -> Result<Vec<(String, String)>> {
        let json = serde_json::to_vec(&self.header).map_err(|e| Error::Header(e.to_string()))?;
        let mut entries = vec![
            (FORMAT_KEY.to_owned(), FORMAT_VERSION.to_string()),
            (HEADER_KEY.to_owned(), pack(&json)?),
        ];
        if !self.weights.is_empty() {
            entries.push((WEIGHTS_KEY.to_owned(), pack(&self.weights)?));
        }
        Ok(entries)
    }

    /// Reads and checks the footer entries of a baler file.
    ///
    /// # Errors
    /// [`Error::NotCompressed`] without a [`FORMAT_KEY`], [`Error::UnsupportedVersion`],
    /// [`Error::MissingKey`], [`Error::Damaged`] for entries that are not base64, not zstd or
    /// fail their checksum, and [`Error::Header`] for a header of the wrong shape.
    pub fn from_metadata(kv: &HashMap<String, String>) -> Result<Self> {
        check_version(kv)?;
        let json = unpack(
            kv.get(HEADER_KEY).ok_or(Error::MissingKey(HEADER_KEY))?,
            HEADER_KEY,
        )?;
        let header: Header =
            serde_json::from_slice(&json).map_err(|e| Error::Header(e.to_string()))?;
        let weights = match kv.get(WEIGHTS_KEY) {
            Some(w) => unpack(w, WEIGHTS_KEY)?,
            None => Vec::new(),
        };
        header.validate()?;
        Ok(Self { header, weights })
    }
}

/// Checks a file's format version.
///
/// # Errors
/// [`Error::NotCompressed`] without a [`FORMAT_KEY`], [`Error::UnsupportedVersion`] for another
/// version (format 1 and 2 files are refused: decompress them with baler-arrow 0.1).
pub fn check_version(kv: &HashMap<String, String>) -> Result<()> {
    let version = kv.get(FORMAT_KEY).ok_or(Error::NotCompressed)?;
    if version.trim() != FORMAT_VERSION.to_string() {
        return Err(Error::UnsupportedVersion {
            found: version.clone(),
            supported: FORMAT_VERSION,
        });
    }
    Ok(())
}

/// `bytes` zstd-compressed (with a content checksum) and base64-encoded.
fn pack(bytes: &[u8]) -> Result<String> {
    let failed = |e: std::io::Error| Error::Header(format!("cannot pack the footer: {e}"));
    let mut compressor = zstd::bulk::Compressor::new(FOOTER_ZSTD_LEVEL).map_err(failed)?;
    compressor.include_checksum(true).map_err(failed)?;
    Ok(STANDARD.encode(compressor.compress(bytes).map_err(failed)?))
}

/// The bytes [`pack`] packed into `text`, the footer entry `key`.
fn unpack(text: &str, key: &str) -> Result<Vec<u8>> {
    let damaged = |message: String| Error::Damaged {
        key: key.to_owned(),
        message,
    };
    let packed = STANDARD
        .decode(text.trim())
        .map_err(|e| damaged(format!("not base64: {e}")))?;
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(packed.as_slice())
        .map_err(|e| damaged(e.to_string()))?
        .take(MAX_FOOTER_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| damaged(e.to_string()))?;
    if out.len() as u64 > MAX_FOOTER_BYTES {
        return Err(damaged(format!(
            "it unpacks to more than {MAX_FOOTER_BYTES} bytes"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_entries_round_trip_and_a_flipped_bit_is_caught() {
        let text = pack(b"{\"some\": \"json\", \"more\": [1, 2, 3]}").unwrap();
        assert_eq!(
            unpack(&text, HEADER_KEY).unwrap(),
            b"{\"some\": \"json\", \"more\": [1, 2, 3]}"
        );
        let mut raw = STANDARD.decode(&text).unwrap();
        let last = raw.len() - 6;
        raw[last] ^= 0x10;
        let err = unpack(&STANDARD.encode(&raw), HEADER_KEY).unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
        assert!(unpack("not base64!", HEADER_KEY).is_err());
    }
}
