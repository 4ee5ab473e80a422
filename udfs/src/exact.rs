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
    pub fn forward_columns<C: AsRef<[f32]>>(&self, columns: &[C]) -> Vec<Vec<f32>> {
        let rows = columns.first().map_or(0, |c| c.as_ref().len());
        let widest = self
            .layers
            .iter()
            .map(|l| l.outputs)
            .chain([self.inputs()])
            .max()
            .unwrap_or(0);
        let mut out = vec![Vec::with_capacity(rows); self.outputs()];
        // A block's activations, feature-major (`width × n`), in two buffers reused throughout:
        // one a layer reads, one it writes.
        let mut read = vec![0.0f32; widest * BLOCK_ROWS];
        let mut write = vec![0.0f32; widest * BLOCK_ROWS];
        let last = self.layers.len().saturating_sub(1);
        for start in (0..rows).step_by(BLOCK_ROWS) {
            let n = (rows - start).min(BLOCK_ROWS);
            for (slot, c) in read.chunks_exact_mut(n).zip(columns) {
                slot.copy_from_slice(&c.as_ref()[start..start + n]);
            }
            for (li, layer) in self.layers.iter().enumerate() {
                let slope = (li < last).then_some(self.slope);
                dense(
                    layer,
                    &read[..layer.inputs * n],
                    &mut write[..layer.outputs * n],
                    slope,
                );
                std::mem::swap(&mut read, &mut write);
            }
            for (o, y) in out.iter_mut().zip(read.chunks_exact(n)) {
                o.extend_from_slice(y);
            }
        }
        out
    }
}

/// One layer on a block of rows: `input` is `layer.inputs × n` and `output` `layer.outputs × n`,
/// feature-major; leaky ReLU with `slope` after it when given. The same scalar code compiled for
/// the widest vector unit the CPU has, chosen at run time: it vectorises across rows only, with
/// separate multiplies and adds, so every build gives the same bits.
fn dense(layer: &Layer, input: &[f32], output: &mut [f32], slope: Option<f32>) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { dense_avx512(layer, input, output, slope) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { dense_avx2(layer, input, output, slope) };
        }
    }
    dense_portable(layer, input, output, slope);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn dense_avx512(layer: &Layer, input: &[f32], output: &mut [f32], slope: Option<f32>) {
    dense_portable(layer, input, output, slope);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dense_avx2(layer: &Layer, input: &[f32], output: &mut [f32], slope: Option<f32>) {
    dense_portable(layer, input, output, slope);
}

/// [`dense`] for any CPU; inlined into the vector builds so that they compile it for their unit.
#[inline(always)]
fn dense_portable(layer: &Layer, input: &[f32], output: &mut [f32], slope: Option<f32>) {
    let n = output.len() / layer.outputs.max(1);
    if n == 0 {
        return;
    }
    for (j, acc) in output.chunks_exact_mut(n).enumerate() {
        acc.fill(layer.bias[j]);
        let w = &layer.weight[j * layer.inputs..(j + 1) * layer.inputs];
        for (wi, x) in w.iter().zip(input.chunks_exact(n)) {
            for (s, x) in acc.iter_mut().zip(x) {
                *s += wi * x;
            }
        }
        if let Some(slope) = slope {
            let keep = 1.0 - slope;
            for s in acc.iter_mut() {
                // A select, not `max`: `max` may return either zero for ±0, and differently in
                // vector and scalar code.
                let positive = if *s > 0.0 { *s } else { 0.0 };
                *s = positive * keep + *s * slope;
            }
        }
    }
}

/// `x` rounded to the nearest integer, halves away from zero: the bits of [`f64::round`],
/// without the call into the maths library that it compiles to on CPUs before SSE4.1.
#[inline]
pub fn round(x: f64) -> f64 {
    // From 2^52 on every float is an integer (and NaN and the infinities stay as they are).
    if x.is_nan() || x.abs() >= 4_503_599_627_370_496.0 {
        return x;
    }
    // Both exact below 2^52: the truncation, and what is left of `x` after it.
    let t = x as i64 as f64;
    let fraction = x - t;
    let r = if fraction >= 0.5 {
        t + 1.0
    } else if fraction <= -0.5 {
        t - 1.0
    } else {
        t
    };
    // `-0.3` rounds to `-0`, as `f64::round` gives.
    r.copysign(x)
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
    let k = round(x / std::f64::consts::LN_2);
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

    #[test]
    fn round_gives_the_bits_of_the_standard_library_s() {
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -2.5,
            0.499_999_999_999_999_94,
            -0.499_999_999_999_999_94,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9.3e18,
            -1e300,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        values.extend((0..20_000).map(|i| (f64::from(i) * 0.731).sin() * 10f64.powi(i % 19)));
        values.extend((0..2000).map(|i| f64::from(i) / 4.0 - 250.0));
        for x in values {
            assert_eq!(round(x).to_bits(), x.round().to_bits(), "{x}");
        }
    }

    #[test]
    fn the_vector_units_give_the_portable_code_s_bits() {
        let layer = Layer {
            inputs: 7,
            outputs: 9,
            weight: (0..63).map(|i| (i as f32 * 0.61).sin() * 3.0).collect(),
            bias: (0..9).map(|i| (i as f32 * 0.29).cos()).collect(),
        };
        let n = 203;
        let input: Vec<f32> = (0..7 * n)
            .map(|i| (i as f32 * 0.013).tan().clamp(-1e3, 1e3))
            .collect();
        let mut portable = vec![0.0; 9 * n];
        dense_portable(&layer, &input, &mut portable, Some(0.01));
        let mut dispatched = vec![0.0; 9 * n];
        dense(&layer, &input, &mut dispatched, Some(0.01));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&portable), bits(&dispatched));
        // A row on its own (no vector lanes to fill) gives the same bits as within the block.
        let row: Vec<f32> = (0..7).map(|i| input[i * n + 100]).collect();
        let mut alone = vec![0.0; 9];
        dense_portable(&layer, &row, &mut alone, Some(0.01));
        let column: Vec<f32> = (0..9).map(|j| portable[j * n + 100]).collect();
        assert_eq!(bits(&alone), bits(&column));
    }
}
