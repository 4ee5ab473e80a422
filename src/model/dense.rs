//! Dense networks for training with candle: the autoencoder's halves and the predictors'
//! networks. Files are decoded by `baler_udfs::exact`, not by these.

use candle_core::{Module, Tensor};
use candle_nn::{Linear, VarBuilder};

use baler_udfs::format::{DECODER_TENSOR_PREFIX, ModelSpec, decoder_widths};

/// Leaky ReLU written as `relu(x)·(1 − a) + a·x`: candle's own `leaky_relu` makes training
/// about ten times slower.
///
/// # Errors
/// Candle errors from the tensor operations.
pub fn leaky_relu(x: &Tensor, slope: f64) -> candle_core::Result<Tensor> {
    x.relu()?.affine(1.0 - slope, 0.0)? + x.affine(slope, 0.0)?
}

/// Dense layers `widths[0] → widths[1] → …`, leaky ReLU after every layer but the last.
#[derive(Debug, Clone)]
pub struct Dense {
    layers: Vec<Linear>,
    slope: f64,
}

impl Dense {
    /// Builds (or loads, when `vb` holds them) layers named `l0`, `l1`, … under `vb`.
    ///
    /// # Errors
    /// Candle errors, e.g. a stored tensor with the wrong shape.
    pub fn new(widths: &[usize], slope: f64, vb: VarBuilder) -> candle_core::Result<Self> {
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| candle_nn::linear(w[0], w[1], vb.pp(format!("l{i}"))))
            .collect::<candle_core::Result<_>>()?;
        Ok(Self { layers, slope })
    }
}

impl Module for Dense {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let last = self.layers.len().saturating_sub(1);
        self.layers
            .iter()
            .enumerate()
            .try_fold(x.clone(), |x, (i, layer)| {
                let y = layer.forward(&x)?;
                if i < last {
                    leaky_relu(&y, self.slope)
                } else {
                    Ok(y)
                }
            })
    }
}

/// The decoder half of the autoencoder: latents → normalised columns.
#[derive(Debug, Clone)]
pub struct Decoder {
    net: Dense,
}

impl Decoder {
    /// Builds the decoder under `vb.pp("decoder")`.
    ///
    /// # Errors
    /// Candle errors, e.g. stored tensors that do not fit `spec`.
    pub fn new(spec: &ModelSpec, vb: VarBuilder) -> candle_core::Result<Self> {
        let net = Dense::new(
            &decoder_widths(spec),
            spec.negative_slope,
            vb.pp(DECODER_TENSOR_PREFIX),
        )?;
        Ok(Self { net })
    }
}

impl Module for Decoder {
    fn forward(&self, z: &Tensor) -> candle_core::Result<Tensor> {
        self.net.forward(z)
    }
}
