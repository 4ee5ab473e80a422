//! The baler Parquet format, version 2 (see `docs/format.md`).
//!
//! An ordinary Parquet file: pass-through columns stored losslessly, latent columns
//! `baler_z0 … baler_z{k-1}` (Float32), and footer key-value metadata:
//! [`FORMAT_KEY`] (`"2"`), [`HEADER_KEY`] (JSON [`Header`]), [`DECODER_KEY`] (the decoder's
//! safetensors bytes, base64) and [`DECODER_SHA256_KEY`] (hex SHA-256 of those bytes).

use std::collections::HashMap;

use arrow::datatypes::DataType;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
pub use crate::quantise::{Bound, RESIDUAL_PREFIX, residual_name};

/// Prefix of every footer key that baler-arrow writes (as Arrow uses `ARROW:`).
pub const METADATA_PREFIX: &str = "baler.";
/// Footer key holding the format version.
pub const FORMAT_KEY: &str = "baler.format";
/// Footer key holding the JSON [`Header`].
pub const HEADER_KEY: &str = "baler.header";
/// Footer key holding the decoder weights: safetensors bytes, base64.
pub const DECODER_KEY: &str = "baler.decoder";
/// Footer key holding the hex SHA-256 of the decoder's safetensors bytes.
pub const DECODER_SHA256_KEY: &str = "baler.decoder_sha256";
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 2;
/// Latent columns are named `baler_z0`, `baler_z1`, …
pub const LATENT_PREFIX: &str = "baler_z";
/// Name prefix of the decoder's tensors inside the safetensors bytes.
pub const DECODER_TENSOR_PREFIX: &str = "decoder";

/// Everything needed to rebuild the original columns, stored as JSON in [`HEADER_KEY`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The format version ([`FORMAT_VERSION`]).
    pub format: u32,
    /// The tool and version that wrote the file.
    pub tool: String,
    /// The compression method: [`METHOD_AE`] or [`METHOD_PREDICT`].
    pub method: String,
    /// The original columns, in their original order.
    pub columns: Vec<ColumnSpec>,
    /// The latent columns.
    pub latent: LatentSpec,
    /// The decoder's architecture.
    pub model: ModelSpec,
    /// How the model was trained.
    pub training: TrainingSummary,
    /// Method `predict`: the predictors, in coding order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predictors: Vec<Predictor>,
}

/// Method name of the autoencoder: latent columns and a decoder.
pub const METHOD_AE: &str = "ae";
/// Method name of learned prediction: no latents, each column predicted from those before it.
pub const METHOD_PREDICT: &str = "predict";

/// Method `predict`: how one column is predicted from the columns decoded before it.
///
/// The prediction is `intercept + Σ weight·feature`, summed in the order given, in `f64`; a
/// feature is an earlier column's decoded value (`value`) or its grid coordinate (`grid`: for
/// relative and exact float bounds the float's bit pattern, a piecewise-linear log scale). A
/// [`Network`], when present, adds a learned nonlinear correction. The prediction is in the
/// target's `domain`; its grid point is where the residual counts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predictor {
    pub column: String,
    pub domain: Domain,
    pub intercept: f64,
    pub features: Vec<Feature>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
}

/// A small network added to a [`Predictor`]'s linear prediction. Its inputs are the predictor's
/// features, each standardised as `(feature − mean) / scale` and rounded to `f32`; its one
/// output, times `output_scale`, is added (in `f64`) to the linear prediction. Its layers
/// (`hidden` widths, leaky ReLU of `negative_slope` between them) are the tensors
/// `predictor.<column>.l{i}.weight` and `.bias` of the file's model weights
/// ([`DECODER_KEY`]), evaluated bit-exactly by [`crate::exact::ExactDense`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub hidden: Vec<usize>,
    pub negative_slope: f64,
    pub means: Vec<f64>,
    pub scales: Vec<f64>,
    pub output_scale: f64,
}

impl Network {
    /// The layer widths for `inputs` features: inputs, hidden, one output.
    pub fn widths(&self, inputs: usize) -> Vec<usize> {
        Self::widths_of(&self.hidden, inputs)
    }

    /// The layer widths of a network with `hidden` layers on `inputs` features.
    pub fn widths_of(hidden: &[usize], inputs: usize) -> Vec<usize> {
        std::iter::once(inputs)
            .chain(hidden.iter().copied())
            .chain(std::iter::once(1))
            .collect()
    }
}

/// The tensor-name prefix of the network of the predictor of `column`.
pub fn predictor_tensor_prefix(column: &str) -> String {
    format!("predictor.{column}")
}

/// One term of a [`Predictor`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// A column coded earlier.
    pub column: String,
    pub domain: Domain,
    pub weight: f64,
}

/// Where a prediction or a feature lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// The value itself.
    Value,
    /// The column's grid coordinate (see [`crate::quantise::Quantiser::coordinate`]).
    Grid,
}

/// One original column and how it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    /// The Arrow type, as Arrow prints it (`Float32`, `UInt64`, …).
    pub data_type: String,
    #[serde(flatten)]
    pub storage: Storage,
    /// The guaranteed error bound, for columns with a residual column
    /// ([`residual_name`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<Bound>,
}

impl ColumnSpec {
    /// The column's Arrow type.
    ///
    /// # Errors
    /// [`Error::Header`] when the type name is not one Arrow knows.
    pub fn arrow_type(&self) -> Result<DataType> {
        self.data_type.parse().map_err(|_| {
            Error::Header(format!(
                "column `{}` has unknown type `{}`",
                self.name, self.data_type
            ))
        })
    }
}

/// How a column's values are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "storage", rename_all = "snake_case")]
pub enum Storage {
    /// Stored as is, under its own name.
    PassThrough,
    /// The same value in every row, written as Arrow prints it.
    Constant { value: String },
    /// Reconstructed by the decoder: output `index` of the network. The column was transformed
    /// by `transform`, then min-max normalised with `min` and `max` (of the transformed values).
    Decoded {
        index: usize,
        min: f64,
        max: f64,
        #[serde(default, skip_serializing_if = "Transform::is_identity")]
        transform: Transform,
    },
    /// Method `predict`: predicted by the header's predictor for this column, then corrected by
    /// its residual column.
    Predicted,
}

/// A transform applied before normalisation, so that the network's absolute errors become
/// relative errors where physics needs them (pT, masses and energies span orders of magnitude).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// The values as they are.
    #[default]
    Identity,
    /// `ln(1 + x)`, for non-negative columns with a long tail.
    Log1p,
}

impl Transform {
    /// Whether this is [`Transform::Identity`].
    pub fn is_identity(&self) -> bool {
        *self == Self::Identity
    }

    /// Applies the transform.
    pub fn forward(self, x: f64) -> f64 {
        match self {
            Self::Identity => x,
            Self::Log1p => x.ln_1p(),
        }
    }

    /// Undoes the transform.
    pub fn inverse(self, y: f64) -> f64 {
        match self {
            Self::Identity => y,
            Self::Log1p => crate::exact::exp_m1(y),
        }
    }
}

/// The latent columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatentSpec {
    pub columns: Vec<String>,
    /// Their Arrow type (`Float32`).
    pub data_type: String,
    /// Float32 latents rounded to this many mantissa bits when written (a record of how they
    /// were stored; decoding reads them as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mantissa_bits: Option<u32>,
}

/// A dense decoder: `latent → hidden[last] → … → hidden[0] → outputs`, leaky ReLU between layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Number of decoded columns.
    pub outputs: usize,
    /// Hidden widths of the encoder, input side first (the decoder mirrors them).
    pub hidden: Vec<usize>,
    pub latent: usize,
    /// Slope of the leaky ReLU for negative inputs.
    pub negative_slope: f64,
}

/// A summary of training, kept for the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    pub epochs: usize,
    pub final_loss: f64,
    pub seed: u64,
    pub device: String,
    pub rows: u64,
    pub learning_rate: f64,
    pub seconds: f64,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The footer entries for a header and the decoder's safetensors bytes.
///
/// # Errors
/// Never in practice: the header always serialises.
pub fn footer_entries(header: &Header, decoder: &[u8]) -> Result<Vec<(String, String)>> {
    let json = serde_json::to_string(header).map_err(|e| Error::Header(e.to_string()))?;
    Ok(vec![
        (FORMAT_KEY.to_owned(), FORMAT_VERSION.to_string()),
        (HEADER_KEY.to_owned(), json),
        (DECODER_KEY.to_owned(), STANDARD.encode(decoder)),
        (DECODER_SHA256_KEY.to_owned(), sha256_hex(decoder)),
    ])
}

/// A file's header and decoder bytes, checked.
#[derive(Debug, Clone)]
pub struct Footer {
    pub header: Header,
    pub decoder: Vec<u8>,
}

impl Footer {
    /// The hex SHA-256 of everything decoding depends on: decoder bytes, column specs
    /// (normalisation, bounds), latent columns and predictors. Files with the same id decode
    /// alike.
    pub fn model_id(&self) -> String {
        let h = &self.header;
        let spec = serde_json::to_vec(&(&h.columns, &h.latent, &h.predictors)).unwrap_or_default();
        sha256_hex(&[self.decoder.as_slice(), &spec].concat())
    }

    /// Reads and checks the footer entries of a baler file.
    ///
    /// # Errors
    /// [`Error::NotCompressed`] without a [`FORMAT_KEY`], [`Error::UnsupportedVersion`],
    /// [`Error::MissingKey`], [`Error::Header`] for malformed JSON or base64, and
    /// [`Error::Checksum`] when the decoder bytes do not hash to [`DECODER_SHA256_KEY`].
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

impl Header {
    /// Checks that the header agrees with itself: one decoded column per model output, each
    /// output used once, one latent column per latent dimension.
    ///
    /// # Errors
    /// [`Error::Header`] naming the inconsistency.
    pub fn validate(&self) -> Result<()> {
        for c in &self.columns {
            c.arrow_type()?;
            if matches!(c.storage, Storage::PassThrough | Storage::Constant { .. })
                && c.bound.is_some()
            {
                return Err(Error::Header(format!(
                    "column `{}` is stored as is but has an error bound",
                    c.name
                )));
            }
        }
        match self.method.as_str() {
            METHOD_AE => self.validate_ae(),
            METHOD_PREDICT => self.validate_predict(),
            other => Err(Error::Header(format!(
                "unknown method `{other}` (this build knows `{METHOD_AE}` and `{METHOD_PREDICT}`)"
            ))),
        }
    }

    fn validate_ae(&self) -> Result<()> {
        let mut seen = vec![false; self.model.outputs];
        for c in &self.columns {
            match c.storage {
                Storage::Decoded { index, .. } => match seen.get_mut(index) {
                    Some(s) if !*s => *s = true,
                    _ => {
                        return Err(Error::Header(format!(
                            "column `{}` uses decoder output {index}, which is out of range or taken",
                            c.name
                        )));
                    }
                },
                Storage::Predicted => {
                    return Err(Error::Header(format!(
                        "column `{}` is predicted, but the method is `{METHOD_AE}`",
                        c.name
                    )));
                }
                _ => {}
            }
        }
        if seen.iter().any(|s| !s) {
            return Err(Error::Header(format!(
                "the decoder has {} outputs but fewer decoded columns",
                self.model.outputs
            )));
        }
        if self.latent.columns.len() != self.model.latent {
            return Err(Error::Header(format!(
                "{} latent columns for a latent size of {}",
                self.latent.columns.len(),
                self.model.latent
            )));
        }
        Ok(())
    }

    fn validate_predict(&self) -> Result<()> {
        let predicted: Vec<&str> = self
            .columns
            .iter()
            .filter(|c| matches!(c.storage, Storage::Predicted))
            .map(|c| c.name.as_str())
            .collect();
        if let Some(c) = self
            .columns
            .iter()
            .find(|c| matches!(c.storage, Storage::Decoded { .. }))
        {
            return Err(Error::Header(format!(
                "column `{}` is decoded, but the method is `{METHOD_PREDICT}`",
                c.name
            )));
        }
        let mut coded: Vec<&str> = Vec::new();
        for p in &self.predictors {
            let column = self.columns.iter().find(|c| c.name == p.column);
            if !column.is_some_and(|c| matches!(c.storage, Storage::Predicted) && c.bound.is_some())
                || coded.contains(&p.column.as_str())
            {
                return Err(Error::Header(format!(
                    "predictor for `{}`: not a predicted column with a bound, or predicted twice",
                    p.column
                )));
            }
            if let Some(n) = &p.network
                && (n.means.len() != p.features.len() || n.scales.len() != p.features.len())
            {
                return Err(Error::Header(format!(
                    "the network of `{}` standardises {} and {} inputs for {} features",
                    p.column,
                    n.means.len(),
                    n.scales.len(),
                    p.features.len()
                )));
            }
            if let Some(f) = p
                .features
                .iter()
                .find(|f| !coded.contains(&f.column.as_str()))
            {
                return Err(Error::Header(format!(
                    "the predictor of `{}` uses `{}`, which is not decoded before it",
                    p.column, f.column
                )));
            }
            coded.push(&p.column);
        }
        if coded.len() != predicted.len() {
            return Err(Error::Header(format!(
                "{} predicted columns but {} predictors",
                predicted.len(),
                coded.len()
            )));
        }
        if !self.latent.columns.is_empty() {
            return Err(Error::Header(format!(
                "method `{METHOD_PREDICT}` has no latent columns"
            )));
        }
        Ok(())
    }

    /// The stored columns the model reads: latents, then the residual columns of bounded
    /// columns in column order, with their Arrow types.
    pub fn model_inputs(&self) -> Vec<(String, DataType)> {
        let latent_type = self.latent.data_type.parse().unwrap_or(DataType::Float32);
        self.latent
            .columns
            .iter()
            .map(|n| (n.clone(), latent_type.clone()))
            .chain(
                self.columns
                    .iter()
                    .filter(|c| c.bound.is_some())
                    .map(|c| (residual_name(&c.name), DataType::UInt64)),
            )
            .collect()
    }
}

/// The name of latent column `i`.
pub fn latent_name(i: usize) -> String {
    format!("{LATENT_PREFIX}{i}")
}
