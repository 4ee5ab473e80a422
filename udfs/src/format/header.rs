//! The header: the original columns, how each is stored, and the method that rebuilds them.

use arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::quantise::{Bound, GridKind, Quantiser};

/// Everything needed to rebuild the original columns, stored as JSON in
/// [`HEADER_KEY`](super::HEADER_KEY).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The format version ([`FORMAT_VERSION`](super::FORMAT_VERSION)).
    pub format: u32,
    /// The tool and version that wrote the file.
    pub tool: String,
    /// The original columns, in their original order.
    pub columns: Vec<ColumnSpec>,
    /// The pass-through integer column that indexes events (`event`), whose rows are in
    /// order: predictors may use the previous row of the same event, and blocks record its range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The compression method and its model (written as the `method` tag and its fields).
    #[serde(flatten)]
    pub method: MethodSpec,
}

/// The compression method of a file, with what its model needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum MethodSpec {
    /// The autoencoder: latent columns and a decoder; columns stored as
    /// [`Storage::Decoded`].
    Ae(AeSpec),
    /// Learned prediction: each [`Storage::Predicted`] column predicted from the columns decoded
    /// before it.
    Predict(PredictSpec),
    /// The model-free residual coder: each predicted column predicted by a constant.
    Residual(PredictSpec),
}

/// Method `ae`: the latent columns, the decoder's shape and how it was trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AeSpec {
    pub latent: LatentSpec,
    pub model: ModelSpec,
    pub training: TrainingSummary,
}

/// Methods `predict` and `residual`: the predictors, in coding order, and how they were fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictSpec {
    pub predictors: Vec<Predictor>,
    #[serde(default)]
    pub fit: FitSummary,
}

/// What decoding depends on beyond the columns: the part of a [`MethodSpec`] that a model id
/// covers (not the training record).
#[derive(Serialize)]
enum Decoding<'a> {
    Latent(&'a LatentSpec, &'a ModelSpec),
    Predictors(&'a [Predictor]),
}

impl MethodSpec {
    /// The method's name as files and users write it: `ae`, `predict` or `residual`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ae(_) => "ae",
            Self::Predict(_) => "predict",
            Self::Residual(_) => "residual",
        }
    }

    /// The autoencoder's spec, for method `ae`.
    pub fn ae(&self) -> Option<&AeSpec> {
        match self {
            Self::Ae(a) => Some(a),
            _ => None,
        }
    }

    /// The predictors, in coding order (none for method `ae`).
    pub fn predictors(&self) -> &[Predictor] {
        match self {
            Self::Ae(_) => &[],
            Self::Predict(p) | Self::Residual(p) => &p.predictors,
        }
    }

    /// The latent columns' names (none but for method `ae`).
    pub fn latent_columns(&self) -> &[String] {
        self.ae().map_or(&[], |a| &a.latent.columns)
    }

    /// What a model id covers: the latents and decoder shape, or the predictors.
    pub(crate) fn decoding(&self) -> impl Serialize + '_ {
        match self {
            Self::Ae(a) => Decoding::Latent(&a.latent, &a.model),
            Self::Predict(p) | Self::Residual(p) => Decoding::Predictors(&p.predictors),
        }
    }
}

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
/// ([`WEIGHTS_KEY`](super::WEIGHTS_KEY)), evaluated bit-exactly by
/// [`crate::exact::ExactDense`].
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
    /// A column coded earlier (for [`Lag::First`], the event column).
    pub column: String,
    pub domain: Domain,
    pub weight: f64,
    /// Which row the value is taken from.
    #[serde(default, skip_serializing_if = "Lag::is_current")]
    pub lag: Lag,
}

/// Where a feature's value comes from, for tables with an event index (rows of one event are
/// consecutive; "event" means the run of equal event values within a block).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lag {
    /// This row.
    #[default]
    Current,
    /// The previous row of the same event; 0 for the first row of an event.
    Previous,
    /// 1 for the first row of an event, 0 for the others (the column is not read).
    First,
}

impl Lag {
    /// Whether this is [`Lag::Current`].
    pub fn is_current(&self) -> bool {
        *self == Self::Current
    }
}

/// How a model column's residuals are split into streams coded on their own, by a context
/// that decoding knows before it needs the residuals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Split {
    /// Part 0: the rows where `column` (a model column coded before this one) is zero; part 1:
    /// the others.
    Zero { column: String },
    /// Part `r`: the rows of rank `r` in their event, the last part also every later rank.
    Rank { parts: usize },
}

impl Split {
    /// The number of parts (streams).
    pub fn parts(&self) -> usize {
        match self {
            Self::Zero { .. } => 2,
            Self::Rank { parts } => *parts,
        }
    }
}

/// Where a prediction or a feature lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// The value itself.
    Value,
    /// The column's grid coordinate (see [`crate::quantise::Quantiser::coordinate`]).
    Grid,
    /// The absolute value (features only): lets a linear predictor follow `|η|`, and so
    /// `ln cosh η`, the step from pT to energy.
    Abs,
}

/// One original column and how it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    /// The Arrow type, as Arrow prints it (`Float32`, `UInt64`, …).
    pub data_type: String,
    #[serde(flatten)]
    pub storage: Storage,
    /// The guaranteed error bound of a model column; such a column has residual streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<Bound>,
    /// How a bounded model column's residuals are split into streams (one without).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
    /// The grid of a float column under a relative bound.
    #[serde(default, skip_serializing_if = "GridKind::is_cells")]
    pub grid: GridKind,
}

impl ColumnSpec {
    /// The quantiser of a column with a bound.
    ///
    /// # Errors
    /// [`Error::Header`] for an unknown type, [`Error::Bound`] for a bound it cannot have.
    pub fn quantiser(&self) -> Result<Option<Quantiser>> {
        self.bound
            .map(|b| Quantiser::with_grid(&self.name, b, &self.arrow_type()?, self.grid))
            .transpose()
    }

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
    /// Methods `predict` and `residual`: predicted by the header's predictor for this column,
    /// then corrected by its residual column.
    Predicted,
}

impl Storage {
    /// Whether the column is one the model rebuilds (decoded or predicted): a model column.
    pub fn is_model(&self) -> bool {
        matches!(self, Self::Decoded { .. } | Self::Predicted)
    }
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
}

/// The latent columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatentSpec {
    pub columns: Vec<String>,
    /// Their Arrow type (`Float32` or `Float16`).
    pub data_type: String,
    /// Float32 latents rounded to this many mantissa bits when written (a record of how they
    /// were stored; decoding reads them as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mantissa_bits: Option<u32>,
}

impl LatentSpec {
    /// The latents' Arrow type (Float32 unless the header says Float16).
    pub fn arrow_type(&self) -> DataType {
        self.data_type.parse().unwrap_or(DataType::Float32)
    }
}

/// A dense autoencoder: `outputs → hidden[0] → … → latent` and the mirrored decoder, leaky ReLU
/// between layers.
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

/// The widest layer a network may have.
pub const MAX_WIDTH: usize = 4096;
/// The most layers a network may have.
pub const MAX_LAYERS: usize = 16;

/// The widths of the decoder: latent, hidden layers in reverse, outputs.
pub fn decoder_widths(spec: &ModelSpec) -> Vec<usize> {
    std::iter::once(spec.latent)
        .chain(spec.hidden.iter().rev().copied())
        .chain(std::iter::once(spec.outputs))
        .collect()
}

/// The widths of the encoder: inputs, hidden layers, latent.
pub fn encoder_widths(spec: &ModelSpec) -> Vec<usize> {
    std::iter::once(spec.outputs)
        .chain(spec.hidden.iter().copied())
        .chain(std::iter::once(spec.latent))
        .collect()
}

/// How the autoencoder was trained, kept for the record.
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

/// How the predictors were fitted, kept for the record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FitSummary {
    /// Sample rows the predictors were fitted on.
    pub rows: u64,
    /// Seed of the predictor networks' training.
    pub seed: u64,
    pub seconds: f64,
}

impl Header {
    /// Checks that the header agrees with itself: one decoded column per model output, each
    /// output used once, one latent column per latent dimension, one predictor per predicted
    /// column.
    ///
    /// # Errors
    /// [`Error::Header`] naming the inconsistency.
    pub fn validate(&self) -> Result<()> {
        self.validate_numbers()?;
        if let Some(event) = &self.event
            && !self.columns.iter().any(|c| {
                &c.name == event
                    && matches!(c.storage, Storage::PassThrough)
                    && c.arrow_type().is_ok_and(|t| t.is_integer())
            })
        {
            return Err(Error::Header(format!(
                "the event column `{event}` is not a stored integer column"
            )));
        }
        for c in &self.columns {
            c.arrow_type()?;
            if c.split.is_some() && c.bound.is_none() {
                return Err(Error::Header(format!(
                    "column `{}` has split residuals but no bound",
                    c.name
                )));
            }
            if !c.storage.is_model() && c.bound.is_some() {
                return Err(Error::Header(format!(
                    "column `{}` is stored as is but has an error bound",
                    c.name
                )));
            }
        }
        match &self.method {
            MethodSpec::Ae(ae) => self.validate_ae(ae),
            MethodSpec::Predict(p) | MethodSpec::Residual(p) => self.validate_predict(p),
        }
    }

    /// Checks every number decoding uses: finite, and sizes within [`MAX_WIDTH`].
    fn validate_numbers(&self) -> Result<()> {
        let finite = |what: String, x: f64| {
            if x.is_finite() {
                Ok(())
            } else {
                Err(Error::Header(format!("{what} is {x}, not a finite number")))
            }
        };
        for c in &self.columns {
            if let Storage::Decoded { min, max, .. } = c.storage {
                finite(format!("the minimum of `{}`", c.name), min)?;
                finite(format!("the maximum of `{}`", c.name), max)?;
            }
        }
        let wide = |what: &str, widths: &[usize]| {
            if widths.iter().any(|&w| w == 0 || w > MAX_WIDTH) || widths.len() > MAX_LAYERS {
                Err(Error::Header(format!(
                    "{what} has layers {widths:?}: each must be 1 to {MAX_WIDTH} wide, at most {MAX_LAYERS} of them"
                )))
            } else {
                Ok(())
            }
        };
        match &self.method {
            MethodSpec::Ae(ae) => {
                finite(
                    "the decoder's negative slope".into(),
                    ae.model.negative_slope,
                )?;
                wide("the decoder", &decoder_widths(&ae.model))?;
                if ae.model.outputs > self.columns.len() {
                    return Err(Error::Header(format!(
                        "the decoder has {} outputs for {} columns",
                        ae.model.outputs,
                        self.columns.len()
                    )));
                }
            }
            MethodSpec::Predict(p) | MethodSpec::Residual(p) => {
                for pr in &p.predictors {
                    finite(format!("the intercept of `{}`", pr.column), pr.intercept)?;
                    for f in &pr.features {
                        finite(format!("a weight of `{}`", pr.column), f.weight)?;
                    }
                    if let Some(n) = &pr.network {
                        wide(
                            &format!("the network of `{}`", pr.column),
                            &n.widths(pr.features.len()),
                        )?;
                        for x in n
                            .means
                            .iter()
                            .chain(&n.scales)
                            .chain([&n.output_scale, &n.negative_slope])
                        {
                            finite(format!("a number of the network of `{}`", pr.column), *x)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn validate_ae(&self, ae: &AeSpec) -> Result<()> {
        if let Some(c) = self.columns.iter().find(|c| c.split.is_some()) {
            return Err(Error::Header(format!(
                "column `{}` has split residuals, which method `ae` does not have",
                c.name
            )));
        }
        let mut seen = vec![false; ae.model.outputs];
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
                        "column `{}` is predicted, but the method is `{}`",
                        c.name,
                        self.method.name()
                    )));
                }
                _ => {}
            }
        }
        if seen.iter().any(|s| !s) {
            return Err(Error::Header(format!(
                "the decoder has {} outputs but fewer decoded columns",
                ae.model.outputs
            )));
        }
        if ae.latent.columns.len() != ae.model.latent {
            return Err(Error::Header(format!(
                "{} latent columns for a latent size of {}",
                ae.latent.columns.len(),
                ae.model.latent
            )));
        }
        Ok(())
    }

    fn validate_predict(&self, spec: &PredictSpec) -> Result<()> {
        if let Some(c) = self
            .columns
            .iter()
            .find(|c| matches!(c.storage, Storage::Decoded { .. }))
        {
            return Err(Error::Header(format!(
                "column `{}` is decoded, but the method is `{}`",
                c.name,
                self.method.name()
            )));
        }
        let predicted = self
            .columns
            .iter()
            .filter(|c| matches!(c.storage, Storage::Predicted))
            .count();
        let mut coded: Vec<&str> = Vec::new();
        for p in &spec.predictors {
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
            if p.domain == Domain::Abs {
                return Err(Error::Header(format!(
                    "the predictor of `{}` predicts an absolute value; predictions are values or grid coordinates",
                    p.column
                )));
            }
            if let Some(f) = p.features.iter().find(|f| !f.lag.is_current()) {
                let event = self.event.as_deref();
                if event.is_none() || (f.lag == Lag::First && Some(f.column.as_str()) != event) {
                    return Err(Error::Header(format!(
                        "the predictor of `{}` uses another row's values, which needs the event column",
                        p.column
                    )));
                }
            }
            if let Some(f) = p
                .features
                .iter()
                .find(|f| f.lag != Lag::First && !coded.contains(&f.column.as_str()))
            {
                return Err(Error::Header(format!(
                    "the predictor of `{}` uses `{}`, which is not decoded before it",
                    p.column, f.column
                )));
            }
            let spec = self.columns.iter().find(|c| c.name == p.column);
            match spec.and_then(|c| c.split.as_ref()) {
                Some(Split::Zero { column }) if !coded.contains(&column.as_str()) => {
                    return Err(Error::Header(format!(
                        "the residuals of `{}` are split by `{column}`, which is not decoded before it",
                        p.column
                    )));
                }
                Some(Split::Rank { parts })
                    if self.event.is_none() || !(2..=64).contains(parts) =>
                {
                    return Err(Error::Header(format!(
                        "the residuals of `{}` are split by rank into {parts} parts, which needs the event column and 2 to 64 parts",
                        p.column
                    )));
                }
                _ => {}
            }
            coded.push(&p.column);
        }
        if coded.len() != predicted {
            return Err(Error::Header(format!(
                "{predicted} predicted columns but {} predictors",
                coded.len()
            )));
        }
        if matches!(self.method, MethodSpec::Residual(_))
            && let Some(p) = spec.predictors.iter().find(|p| !p.features.is_empty())
        {
            return Err(Error::Header(format!(
                "method `residual` predicts by constants, but the predictor of `{}` has features",
                p.column
            )));
        }
        Ok(())
    }
}
