//! Method `predict`'s predictors, evaluated by the one code path that both encoding (to fit
//! them and to compute residuals) and decoding run, so that predictions agree bit for bit.

use std::borrow::Cow;

use crate::error::Result;
use crate::exact::ExactDense;
use crate::format::{Domain, Predictor, predictor_tensor_prefix};
use crate::quantise::Quantiser;

/// A predictor ready to evaluate: its header entry and its network, if it has one.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub predictor: Predictor,
    network: Option<ExactDense>,
}

impl Compiled {
    /// A predictor with the network (if any) evaluated from `network`'s layers.
    pub fn new(predictor: Predictor, network: Option<ExactDense>) -> Self {
        Self { predictor, network }
    }

    /// Loads the predictor's network, if it has one, from the file's model weights
    /// (safetensors bytes).
    ///
    /// # Errors
    /// [`crate::Error::Header`] for missing or misshapen tensors, [`crate::Error::Weights`]
    /// for malformed bytes.
    pub fn load(predictor: &Predictor, weights: &[u8]) -> Result<Self> {
        let network = predictor
            .network
            .as_ref()
            .map(|n| {
                ExactDense::from_safetensors(
                    weights,
                    &predictor_tensor_prefix(&predictor.column),
                    &n.widths(predictor.features.len()),
                    n.negative_slope,
                )
            })
            .transpose()?;
        Ok(Self::new(predictor.clone(), network))
    }

    /// The prediction of every row, in the predictor's domain, from its features' inputs
    /// (`inputs[i][row]` for feature `i`, in that feature's domain; see [`feature_input`]).
    pub fn predict(&self, inputs: &[&[f64]], rows: usize) -> Vec<f64> {
        let p = &self.predictor;
        let mut sum = vec![p.intercept; rows];
        for (f, x) in p.features.iter().zip(inputs) {
            for (acc, x) in sum.iter_mut().zip(x.iter()) {
                *acc += f.weight * x;
            }
        }
        if let (Some(net), Some(spec)) = (&self.network, &p.network) {
            let z: Vec<Vec<f32>> = inputs
                .iter()
                .zip(spec.means.iter().zip(&spec.scales))
                .map(|(x, (m, s))| x.iter().map(|x| ((x - m) / s) as f32).collect())
                .collect();
            let y = net.forward_columns(&z);
            for (acc, y) in sum.iter_mut().zip(&y[0]) {
                *acc += f64::from(*y) * spec.output_scale;
            }
        }
        sum
    }
}

/// A feature's input: the decoded `values` of its column (borrowed), their grid coordinates
/// under the column's `quantiser`, or their absolute values.
pub fn feature_input<'a>(
    domain: Domain,
    values: &'a [f64],
    quantiser: Option<&Quantiser>,
) -> Cow<'a, [f64]> {
    match (domain, quantiser) {
        (Domain::Value, _) | (Domain::Grid, None) => Cow::Borrowed(values),
        _ => values
            .iter()
            .map(|&x| feature_value(domain, x, quantiser))
            .collect(),
    }
}

/// [`feature_input`] of one value.
#[inline]
pub fn feature_value(domain: Domain, x: f64, quantiser: Option<&Quantiser>) -> f64 {
    match (domain, quantiser) {
        (Domain::Grid, Some(q)) => q.coordinate(x),
        (Domain::Abs, _) => x.abs(),
        _ => x,
    }
}
