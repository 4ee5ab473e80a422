//! Bit-exact inference: the decoder and the predictors evaluated the same way on every CPU.
//!
//! Error-bounded files store residuals against a prediction, so the prediction made when
//! decoding must equal, bit for bit, the one made when encoding. Matrix libraries do not promise
//! that: their reductions are blocked and vectorised differently on different CPUs and thread
//! counts. Here every output is summed in one fixed order (input 0 first), with separate IEEE
//! multiplies and adds (Rust never fuses them), and vectorisation runs *across rows*, never
//! across a row's sum; so a value depends on nothing but the weights and its own row. The only
//! transcendental function needed, `exp_m1` (undoing `log1p`), is written here with basic
//! arithmetic rather than taken from the platform's maths library.

use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};

/// Rows processed together: the activations of a block stay in cache.
const BLOCK_ROWS: usize = 256;

/// One dense layer: `weight` is `outputs × inputs`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub inputs: usize,
    pub outputs: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// Dense layers with leaky ReLU between them (not after the last), evaluated bit-exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactDense {
    layers: Vec<Layer>,
    slope: f32,
}

impl ExactDense {
    /// The network from its layers.
    ///
    /// # Errors
    /// [`Error::Header`] when consecutive layers do not fit together or a weight has the
    /// wrong length.
    pub fn new(layers: Vec<Layer>, slope: f64) -> Result<Self> {
        for (i, l) in layers.iter().enumerate() {
            if let Some(x) = l.weight.iter().chain(&l.bias).find(|x| !x.is_finite()) {
                return Err(Error::Header(format!("layer {i} has a weight of {x}")));
            }
            if Some(l.weight.len()) != l.inputs.checked_mul(l.outputs) || l.bias.len() != l.outputs
            {
                return Err(Error::Header(format!(
                    "layer {i}: {} weights and {} biases for {} → {}",
                    l.weight.len(),
                    l.bias.len(),
                    l.inputs,
                    l.outputs
                )));
            }
        }
        if let Some(w) = layers.windows(2).find(|w| w[0].outputs != w[1].inputs) {
            return Err(Error::Header(format!(
                "a layer with {} outputs feeds one with {} inputs",
                w[0].outputs, w[1].inputs
            )));
        }
        Ok(Self {
            layers,
            slope: slope as f32,
        })
    }

    /// Loads layers `{prefix}.l0`, `{prefix}.l1`, … (`weight` and `bias`, as candle's `Linear`
    /// stores them: Float32, weight `outputs × inputs`) from safetensors bytes, checking them
    /// against `widths`.
    ///
    /// # Errors
    /// [`Error::Weights`] for malformed bytes, [`Error::Header`] for missing or misshapen
    /// tensors.
    pub fn from_safetensors(
        bytes: &[u8],
        prefix: &str,
        widths: &[usize],
        slope: f64,
    ) -> Result<Self> {
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| Error::Weights(e.to_string()))?;
        let get = |name: String, len: usize| -> Result<Vec<f32>> {
            let t = tensors
                .tensor(&name)
                .map_err(|_| Error::Header(format!("the model has no tensor `{name}`")))?;
            if t.dtype() != Dtype::F32 {
                return Err(Error::Header(format!(
                    "tensor `{name}` is {:?}, expected F32",
                    t.dtype()
                )));
            }
            let v: Vec<f32> = t
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if v.len() != len {
                return Err(Error::Header(format!(
                    "tensor `{name}` has {} values, the header's model needs {len}",
                    v.len()
                )));
            }
            Ok(v)
        };
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                Ok(Layer {
                    inputs: w[0],
                    outputs: w[1],
                    weight: get(format!("{prefix}.l{i}.weight"), w[0].saturating_mul(w[1]))?,
                    bias: get(format!("{prefix}.l{i}.bias"), w[1])?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(layers, slope)
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.layers.first().map_or(0, |l| l.inputs)
    }

    /// Number of outputs.
    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }

    /// Runs the network on inputs given column by column (`columns[i][row]`); returns the
    /// outputs column by column.
    pub fn forward_columns(&self, columns: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let rows = columns.first().map_or(0, Vec::len);
        let mut out = vec![Vec::with_capacity(rows); self.outputs()];
        let mut start = 0;
        while start < rows {
            let end = (start + BLOCK_ROWS).min(rows);
            let mut act: Vec<Vec<f32>> = columns.iter().map(|c| c[start..end].to_vec()).collect();
            let last = self.layers.len().saturating_sub(1);
            for (li, layer) in self.layers.iter().enumerate() {
                act = self.layer(layer, &act, end - start, li < last);
            }
            for (o, a) in out.iter_mut().zip(act) {
                o.extend_from_slice(&a);
            }
            start = end;
        }
        out
    }

    fn layer(&self, layer: &Layer, act: &[Vec<f32>], rows: usize, leaky: bool) -> Vec<Vec<f32>> {
        let keep = 1.0 - self.slope;
        (0..layer.outputs)
            .map(|j| {
                let mut acc = vec![layer.bias[j]; rows];
                let w = &layer.weight[j * layer.inputs..(j + 1) * layer.inputs];
                for (wi, a) in w.iter().zip(act) {
                    for (s, x) in acc.iter_mut().zip(a) {
                        *s += wi * x;
                    }
                }
                if leaky {
                    for s in &mut acc {
                        *s = s.max(0.0) * keep + *s * self.slope;
                    }
                }
                acc
            })
            .collect()
    }
}

/// `e^x − 1`, from basic arithmetic only, so it gives the same bits everywhere (within a few
/// units in the last place of the true value).
pub fn exp_m1(x: f64) -> f64 {
    // ln 2 split as in fdlibm: the high part has trailing zero bits, so `k·LN2_HI` is exact.
    let ln2_hi = f64::from_bits(0x3fe6_2e42_fee0_0000);
    let ln2_lo = f64::from_bits(0x3dea_39ef_3579_3c76);
    if x.is_nan() {
        return x;
    }
    if x > 709.78 {
        return f64::INFINITY;
    }
    if x < -40.0 {
        return -1.0;
    }
    if x.abs() < 0.35 {
        return expm1_small(x);
    }
    let k = (x / std::f64::consts::LN_2).round();
    let r = (x - k * ln2_hi) - k * ln2_lo;
    // `k` is at most 1024 here; scaling by 2^(k−1) then 2 keeps every factor finite.
    let scaled = (expm1_small(r) + 1.0) * power_of_two(k as i32 - 1) * 2.0;
    scaled - 1.0
}

/// `e^r − 1` for `|r| < 0.35` by its Taylor series (terms beyond `r^16` are below 2^-60).
fn expm1_small(r: f64) -> f64 {
    let mut sum = 0.0;
    for n in (1..=16).rev() {
        sum = r / f64::from(n) * (1.0 + sum);
    }
    sum
}

/// `2^k`, exactly, for `-1022 ≤ k ≤ 1023` (normal floats).
pub(crate) fn power_of_two(k: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&k));
    f64::from_bits(((1023 + k) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_m1_agrees_with_the_maths_library_to_a_few_ulp() {
        for i in -4000..=4000 {
            let x = f64::from(i) * 0.01 + 0.003;
            let (mine, libm) = (exp_m1(x), x.exp_m1());
            let ulp = libm.abs() * f64::EPSILON;
            assert!((mine - libm).abs() <= 4.0 * ulp, "{x}: {mine} vs {libm}");
        }
        assert_eq!(exp_m1(0.0), 0.0);
        // Near the top of the range the result is finite, as it should be.
        for x in [709.0, 709.5, 709.75] {
            let (mine, libm) = (exp_m1(x), x.exp_m1());
            assert!(
                (mine - libm).abs() <= 4.0 * libm * f64::EPSILON,
                "{x}: {mine} vs {libm}"
            );
        }
    }

    #[test]
    fn results_do_not_depend_on_how_rows_are_blocked() {
        let layers = vec![
            Layer {
                inputs: 3,
                outputs: 5,
                weight: (0..15).map(|i| (i as f32 * 0.37).sin()).collect(),
                bias: (0..5).map(|i| i as f32 * 0.1).collect(),
            },
            Layer {
                inputs: 5,
                outputs: 2,
                weight: (0..10).map(|i| (i as f32 * 0.73).cos()).collect(),
                bias: vec![0.5, -0.5],
            },
        ];
        let net = ExactDense::new(layers, 0.01).unwrap();
        let rows = 1000;
        let inputs: Vec<Vec<f32>> = (0..3)
            .map(|c| (0..rows).map(|r| ((r * 7 + c) as f32).sin()).collect())
            .collect();
        let all = net.forward_columns(&inputs);
        let one_row: Vec<Vec<f32>> = (0..rows)
            .map(|r| {
                let row: Vec<Vec<f32>> = inputs.iter().map(|c| vec![c[r]]).collect();
                net.forward_columns(&row)
                    .into_iter()
                    .map(|o| o[0])
                    .collect()
            })
            .collect();
        for (j, column) in all.iter().enumerate() {
            for (r, v) in column.iter().enumerate() {
                assert_eq!(v.to_bits(), one_row[r][j].to_bits());
            }
        }
    }
}
