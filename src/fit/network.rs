//! The nonlinear part of a predictor: a small MLP, trained with candle on the sample to predict
//! what the linear fit leaves, and evaluated bit-exactly by [`ExactDense`] both when scoring it
//! here and when decoding.

use baler_udfs::exact::{ExactDense, Layer};
use baler_udfs::format::{Network, predictor_tensor_prefix};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::model::train::{self, LearningRateChange, Schedule};
use crate::model::{Dense, init_dense};
use crate::progress::NoProgress;

/// Hidden widths of a predictor's network.
pub const HIDDEN: [usize; 2] = [32, 32];
/// Passes over the fitting rows.
pub const EPOCHS: usize = 40;
const BATCH_ROWS: usize = 256;
const LEARNING_RATE: f64 = 3e-3;
const NEGATIVE_SLOPE: f64 = 0.01;

/// A trained network: its header entry, its bit-exact evaluator and its tensors (to save).
pub struct Trained {
    pub network: Network,
    pub exact: ExactDense,
    pub tensors: Vec<(String, Tensor)>,
}

impl Trained {
    /// Bytes the network adds to a file.
    pub fn cost_bytes(&self) -> u64 {
        cost_bytes(self.network.means.len())
    }
}

/// Bytes a network on `inputs` features adds to a file: its float32 weights (base64 in the
/// footer) and its standardisation (JSON).
pub fn cost_bytes(inputs: usize) -> u64 {
    let widths = Network::widths_of(&HIDDEN, inputs);
    let weights: usize = widths.windows(2).map(|w| (w[0] + 1) * w[1] * 4).sum();
    (weights * 4 / 3 + inputs * 48) as u64
}

/// Trains the network of the predictor of `column` on the first `rows` rows: inputs are the
/// predictor's feature values (`inputs[i][row]`), the target is `target[row]` (what the linear
/// part leaves). `None` when the target is constant on those rows.
///
/// # Errors
/// Candle errors.
pub fn train(
    column: &str,
    inputs: &[&[f64]],
    target: &[f64],
    rows: usize,
    seed: u64,
) -> candle_core::Result<Option<Trained>> {
    let (_, output_scale) = mean_and_scale(&target[..rows]);
    if output_scale == 0.0 || inputs.is_empty() {
        return Ok(None);
    }
    let (means, scales): (Vec<f64>, Vec<f64>) = inputs
        .iter()
        .map(|x| {
            let (m, s) = mean_and_scale(&x[..rows]);
            (m, if s > 0.0 { s } else { 1.0 })
        })
        .unzip();
    let network = Network {
        hidden: HIDDEN.to_vec(),
        negative_slope: NEGATIVE_SLOPE,
        means,
        scales,
        output_scale,
    };
    let n = inputs.len();
    let device = Device::Cpu;
    let x: Vec<f32> = (0..rows)
        .flat_map(|r| {
            inputs
                .iter()
                .zip(network.means.iter().zip(&network.scales))
                .map(move |(x, (m, s))| ((x[r] - m) / s) as f32)
        })
        .collect();
    let y: Vec<f32> = target[..rows]
        .iter()
        .map(|t| (t / output_scale) as f32)
        .collect();
    let x = Tensor::from_vec(x, (rows, n), &device)?;
    let y = Tensor::from_vec(y, (rows, 1), &device)?;
    let vars = VarMap::new();
    let prefix = predictor_tensor_prefix(column);
    let widths = network.widths(n);
    let mut rng = StdRng::seed_from_u64(seed);
    init_dense(&vars, &prefix, &widths, &mut rng, &device)?;
    let vb = VarBuilder::from_varmap(&vars, DType::F32, &device);
    let model = Dense::new(&widths, NEGATIVE_SLOPE, vb.pp(&prefix))?;
    let schedule = Schedule {
        epochs: EPOCHS,
        batch_size: BATCH_ROWS,
        learning_rate: LEARNING_RATE,
        change: LearningRateChange::Step {
            at: EPOCHS * 3 / 4,
            factor: 10.0,
        },
    };
    let l1 = |chunk: &[u32], _: &mut StdRng| {
        let index = Tensor::from_slice(chunk, chunk.len(), &device)?;
        let loss = model
            .forward(&x.index_select(&index, 0)?)?
            .sub(&y.index_select(&index, 0)?)?
            .abs()?
            .mean_all()?;
        Ok((loss.clone(), loss))
    };
    train::run(vars.all_vars(), rows, &schedule, &mut rng, &NoProgress, l1)?;
    let data = vars.data().lock().expect("unpoisoned");
    let get = |name: String| -> candle_core::Result<(String, Tensor)> {
        let t = data
            .get(&name)
            .ok_or_else(|| candle_core::Error::Msg(format!("no tensor `{name}`")))?
            .as_tensor()
            .clone();
        Ok((name, t))
    };
    let mut tensors = Vec::new();
    let mut layers = Vec::new();
    for (i, w) in widths.windows(2).enumerate() {
        let weight = get(format!("{prefix}.l{i}.weight"))?;
        let bias = get(format!("{prefix}.l{i}.bias"))?;
        layers.push(Layer {
            inputs: w[0],
            outputs: w[1],
            weight: weight.1.flatten_all()?.to_vec1::<f32>()?,
            bias: bias.1.flatten_all()?.to_vec1::<f32>()?,
        });
        tensors.push(weight);
        tensors.push(bias);
    }
    let exact = ExactDense::new(layers, NEGATIVE_SLOPE)
        .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    Ok(Some(Trained {
        network,
        exact,
        tensors,
    }))
}

/// Mean and standard deviation (0 for constant or non-finite values).
fn mean_and_scale(x: &[f64]) -> (f64, f64) {
    let n = x.len().max(1) as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, if var.is_finite() { var.sqrt() } else { 0.0 })
}
