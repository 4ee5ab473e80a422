//! The decoder network: dense layers with leaky ReLU, loaded from safetensors bytes.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder};

use crate::format::{DECODER_TENSOR_PREFIX, ModelSpec};

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

    /// Loads the decoder from safetensors bytes.
    ///
    /// # Errors
    /// Candle errors for malformed bytes or missing or misshapen tensors.
    pub fn from_safetensors(
        spec: &ModelSpec,
        bytes: &[u8],
        device: &Device,
    ) -> candle_core::Result<Self> {
        let vb = VarBuilder::from_buffered_safetensors(bytes.to_vec(), DType::F32, device)?;
        Self::new(spec, vb)
    }
}

impl Module for Decoder {
    fn forward(&self, z: &Tensor) -> candle_core::Result<Tensor> {
        self.net.forward(z)
    }
}
