//! What `compress` and `train` can be asked: the method, the model's shape, error bounds, and
//! how latents are stored.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::DataType;
use baler_udfs::format::{Bound, Header, LatentSpec, MethodSpec};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{DEFAULT_HIDDEN, DeviceChoice, TrainConfig};
use crate::progress::{NoProgress, Progress};

/// The default guarantee on float columns: NanoAOD's own precision, 10 mantissa bits
/// (round to nearest errs by at most 2^-11 of the value). Integers and flags are always exact.
pub const DEFAULT_RELATIVE_BOUND: f64 = 1.0 / 2048.0;

/// Compression ratio that sets the latent size when neither `--latent` nor `--ratio` is given.
pub const DEFAULT_RATIO: f64 = 3.0;
/// Rows kept in memory for training.
pub const DEFAULT_MAX_TRAIN_ROWS: usize = 1_000_000;

/// How many latent numbers per row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatentSize {
    /// Exactly this many.
    Fixed(usize),
    /// `ceil(n / R)` for `n` compressed columns.
    Ratio(f64),
}

impl LatentSize {
    /// The latent size for `n` compressed columns.
    ///
    /// # Errors
    /// [`Error::Options`] unless `1 ≤ k < n`.
    pub fn resolve(self, n: usize) -> Result<usize> {
        let k = match self {
            Self::Fixed(k) => k,
            Self::Ratio(r) if r > 1.0 => (n as f64 / r).ceil() as usize,
            Self::Ratio(r) => {
                return Err(Error::Options {
                    message: format!("`--ratio {r}` must be greater than 1"),
                });
            }
        };
        if k == 0 || k >= n {
            return Err(Error::Options {
                message: format!(
                    "a latent size of {k} does not compress {n} columns; choose `--latent` between 1 and {}",
                    n.saturating_sub(1)
                ),
            });
        }
        Ok(k)
    }
}

/// How to compress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The autoencoder: latent columns and a decoder (plus residuals under error bounds).
    Ae,
    /// Learned cross-column prediction: residual columns only.
    Predict,
    /// Residuals against a constant per column: the model-free baseline of `predict`.
    Residual,
}

impl Method {
    /// Every method, in the order reports list them.
    pub const ALL: [Self; 3] = [Self::Predict, Self::Ae, Self::Residual];

    /// The method that wrote a file with this header's method.
    pub fn of(spec: &MethodSpec) -> Self {
        match spec {
            MethodSpec::Ae(_) => Self::Ae,
            MethodSpec::Predict(_) => Self::Predict,
            MethodSpec::Residual(_) => Self::Residual,
        }
    }

    /// How sentences name it.
    pub fn description(self) -> &'static str {
        match self {
            Self::Ae => "the autoencoder",
            Self::Predict => "learned prediction",
            Self::Residual => "the model-free residual coder",
        }
    }

    /// The name users type and reports show.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ae => "ae",
            Self::Predict => "predict",
            Self::Residual => "residual",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown method `{s}` (expected `ae`, `predict` or `residual`)"))
    }
}

/// How latent columns are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatentStorage {
    Float16,
    /// Float32 rounded to nearest at `mantissa_bits` (23: as computed). Under error bounds
    /// the residuals correct what the rounding moves; the zeroed low bits cost next to
    /// nothing once split into byte streams and compressed.
    Float32 {
        mantissa_bits: u32,
    },
}

impl LatentStorage {
    /// Float32, as computed.
    pub const FULL: Self = Self::Float32 { mantissa_bits: 23 };
    /// The storages tried on a sample for the final model under error bounds.
    pub(crate) const CANDIDATES: [Self; 7] = [
        Self::Float16,
        Self::Float32 { mantissa_bits: 0 },
        Self::Float32 { mantissa_bits: 2 },
        Self::Float32 { mantissa_bits: 4 },
        Self::Float32 { mantissa_bits: 7 },
        Self::Float32 { mantissa_bits: 10 },
        Self::FULL,
    ];

    /// How these latents are stored.
    pub fn of(latent: &LatentSpec) -> Self {
        if latent.arrow_type() == DataType::Float16 {
            Self::Float16
        } else {
            Self::Float32 {
                mantissa_bits: latent.mantissa_bits.unwrap_or(23),
            }
        }
    }

    /// `Float16`, `Float32`, or `Float32 (7 mantissa bits)`.
    pub fn label(self) -> String {
        match self {
            Self::Float16 => DataType::Float16.to_string(),
            Self::FULL => DataType::Float32.to_string(),
            Self::Float32 { mantissa_bits } => {
                format!("{} ({mantissa_bits} mantissa bits)", DataType::Float32)
            }
        }
    }

    pub(crate) fn apply(self, latent: &mut LatentSpec) {
        let (data_type, bits) = match self {
            Self::Float16 => (DataType::Float16, None),
            Self::FULL => (DataType::Float32, None),
            Self::Float32 { mantissa_bits } => (DataType::Float32, Some(mantissa_bits)),
        };
        latent.data_type = data_type.to_string();
        latent.mantissa_bits = bits;
    }

    /// Stored width in bytes, before compression.
    pub(crate) fn width(self) -> u64 {
        match self {
            Self::Float16 => 2,
            Self::Float32 { .. } => 4,
        }
    }
}

/// Error bounds per column (`pt=1e-2rel`), with `all` for the columns not named.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorBounds {
    pub all: Option<Bound>,
    pub columns: Vec<(String, Bound)>,
}

impl std::str::FromStr for ErrorBounds {
    type Err = String;

    /// `pt=1e-2rel,eta=1e-3abs,all=1e-3rel`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let mut bounds = Self::default();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, bound) = part.split_once('=').ok_or_else(|| {
                format!("`{part}` is not `column=bound` (e.g. `pt=1e-2rel` or `all=1e-3rel`)")
            })?;
            bounds.add(name.trim(), bound.parse()?);
        }
        Ok(bounds)
    }
}

impl ErrorBounds {
    /// The bounds a compressed file was written under; `None` when it has none.
    pub fn of(header: &Header) -> Option<Self> {
        let columns: Vec<(String, Bound)> = header
            .columns
            .iter()
            .filter_map(|c| Some((c.name.clone(), c.bound?)))
            .collect();
        (!columns.is_empty()).then_some(Self { all: None, columns })
    }

    /// The bounds that `--error-bound` values ask for, with `method`: `none` for none, the
    /// values merged (later entries win), or without values none for the autoencoder and the
    /// default guarantee otherwise.
    ///
    /// # Errors
    /// [`Error::Options`] for a value that is not `column=bound,…`.
    pub fn for_options(values: &[String], method: Option<Method>) -> Result<Option<Self>> {
        if values.iter().any(|b| b.trim() == "none") {
            return Ok(None);
        }
        if values.is_empty() {
            return Ok((method != Some(Method::Ae)).then(Self::default_guarantee));
        }
        let mut all = Self::default();
        for b in values {
            all.merge(b.parse().map_err(|message| Error::Options { message })?);
        }
        Ok(Some(all))
    }

    /// The default guarantee: every float within [`DEFAULT_RELATIVE_BOUND`] of its value,
    /// integers and flags exact.
    pub fn default_guarantee() -> Self {
        Self::all(Bound::Relative {
            epsilon: DEFAULT_RELATIVE_BOUND,
        })
    }

    /// Every column under one bound.
    pub fn all(bound: Bound) -> Self {
        Self {
            all: Some(bound),
            columns: Vec::new(),
        }
    }

    /// Adds a bound for `name` (`all` for the default); a later bound replaces an earlier one.
    pub fn add(&mut self, name: &str, bound: Bound) {
        if name == "all" {
            self.all = Some(bound);
        } else {
            self.columns.retain(|(n, _)| n != name);
            self.columns.push((name.to_owned(), bound));
        }
    }

    /// Merges `other` into `self`, `other` winning.
    pub fn merge(&mut self, other: Self) {
        if let Some(all) = other.all {
            self.all = Some(all);
        }
        for (n, b) in other.columns {
            self.add(&n, b);
        }
    }

    /// The bound of column `name`.
    pub fn get(&self, name: &str) -> Option<Bound> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| *b)
            .or(self.all)
    }
}

/// Options for [`compress`] and [`fit`].
#[derive(Clone)]
pub struct CompressOptions {
    /// The latent size; `None`: [`DEFAULT_RATIO`], or chosen on a sample under error bounds.
    pub latent: Option<LatentSize>,
    /// Guaranteed error bounds (default: [`ErrorBounds::default_guarantee`]); `None`: the
    /// autoencoder's output as it is (method `ae` only).
    pub bounds: Option<ErrorBounds>,
    /// The method; `None`: under error bounds, `predict` or `residual`, whichever encodes a
    /// sample smaller; without bounds, the autoencoder.
    pub method: Option<Method>,
    /// Latents as Float16 (`Some(true)`), Float32 (`Some(false)`), or chosen on a sample under
    /// error bounds (`None`; Float32 without bounds).
    pub latent_storage: Option<LatentStorage>,
    pub hidden: Vec<usize>,
    pub train: TrainConfig,
    /// Columns stored losslessly as they are (besides `event`).
    pub keep: Vec<String>,
    /// Store float columns holding NaN or infinite values as they are, rather than refuse them.
    pub keep_non_finite: bool,
    pub max_train_rows: usize,
    /// A model from `baler-arrow train`, used instead of training.
    pub model: Option<PathBuf>,
    /// With `model`: reference it by id instead of embedding it (the model file is kept beside
    /// the output, copied there if it is not).
    pub reference_model: bool,
    /// Where to train and encode.
    pub device: DeviceChoice,
    pub force: bool,
    /// Write lossless Parquet instead when the compressed file would be larger (default on).
    pub fallback_lossless: bool,
    pub progress: Arc<dyn Progress>,
}

/// The widest hidden layer `--hidden` takes.
pub const MAX_HIDDEN_WIDTH: usize = baler_udfs::format::MAX_WIDTH;

impl CompressOptions {
    /// Checks the options that no input can make sensible.
    ///
    /// # Errors
    /// [`Error::Options`] naming the option: no or too wide hidden layers, no epochs, an empty
    /// batch, a learning rate that is not positive and finite.
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| Err(Error::Options { message });
        if self.hidden.is_empty()
            || self.hidden.len() > 8
            || self.hidden.iter().any(|&w| w == 0 || w > MAX_HIDDEN_WIDTH)
        {
            return bad(format!(
                "`--hidden {:?}`: give 1 to 8 layers, each 1 to {MAX_HIDDEN_WIDTH} wide",
                self.hidden
            ));
        }
        let t = &self.train;
        if t.epochs == 0 {
            return bad("`--epochs 0` trains nothing; give at least 1".into());
        }
        if t.batch_size == 0 {
            return bad("`--batch-size 0` holds no rows; give at least 1".into());
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            return bad(format!(
                "`--lr {}`: the learning rate must be positive and finite",
                t.learning_rate
            ));
        }
        Ok(())
    }
}

impl Default for CompressOptions {
    fn default() -> Self {
        Self {
            latent: None,
            bounds: Some(ErrorBounds::default_guarantee()),
            method: None,
            latent_storage: None,
            hidden: DEFAULT_HIDDEN.to_vec(),
            train: TrainConfig::default(),
            keep: Vec::new(),
            keep_non_finite: false,
            max_train_rows: DEFAULT_MAX_TRAIN_ROWS,
            model: None,
            reference_model: false,
            device: DeviceChoice::Cpu,
            force: false,
            fallback_lossless: true,
            progress: Arc::new(NoProgress),
        }
    }
}
