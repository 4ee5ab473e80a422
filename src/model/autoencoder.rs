//! The autoencoder: an encoder of the tool's own and the decoder that ships in the file.

use std::collections::HashMap;

use baler_udfs::format::{DECODER_TENSOR_PREFIX, ModelSpec, encoder_widths};
use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal, Uniform};

use super::{Decoder, Dense};

/// Tensor name prefix of the encoder.
pub const ENCODER_TENSOR_PREFIX: &str = "encoder";

/// Encoder and decoder, with their weights in a [`VarMap`] for training (a clone shares them).
#[derive(Clone)]
pub struct Autoencoder {
    pub spec: ModelSpec,
    pub encoder: Dense,
    pub decoder: Decoder,
    pub vars: VarMap,
    device: Device,
}

impl Autoencoder {
    /// A freshly initialised model. The weights come from a generator seeded with `seed`
    /// (candle cannot seed its CPU generator), drawn as candle's `linear` would: Kaiming-normal
    /// weights and uniform biases in ±1/√fan_in.
    ///
    /// # Errors
    /// Candle errors.
    pub fn new(spec: &ModelSpec, seed: u64, device: &Device) -> candle_core::Result<Self> {
        let vars = VarMap::new();
        let mut rng = StdRng::seed_from_u64(seed);
        let encoder = encoder_widths(spec);
        let decoder: Vec<usize> = encoder.iter().rev().copied().collect();
        init_dense(&vars, ENCODER_TENSOR_PREFIX, &encoder, &mut rng, device)?;
        init_dense(&vars, DECODER_TENSOR_PREFIX, &decoder, &mut rng, device)?;
        Self::from_vars(spec, vars, device)
    }

    /// Builds the model around existing weights (as loaded from a saved model).
    ///
    /// # Errors
    /// Candle errors, e.g. tensors missing or of the wrong shape.
    pub fn from_vars(spec: &ModelSpec, vars: VarMap, device: &Device) -> candle_core::Result<Self> {
        let vb = VarBuilder::from_varmap(&vars, DType::F32, device);
        let encoder = Dense::new(
            &encoder_widths(spec),
            spec.negative_slope,
            vb.pp(ENCODER_TENSOR_PREFIX),
        )?;
        let decoder = Decoder::new(spec, vb)?;
        Ok(Self {
            spec: spec.clone(),
            encoder,
            decoder,
            vars,
            device: device.clone(),
        })
    }

    /// The weights whose names start with `prefix` (`"decoder"`, `"encoder"`, or `""` for all).
    pub fn tensors(&self, prefix: &str) -> HashMap<String, Tensor> {
        let data = self.vars.data().lock().expect("unpoisoned");
        data.iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(name, var)| (name.clone(), var.as_tensor().clone()))
            .collect()
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The weights under `prefix`, copied to the CPU and sorted by name: what gets saved, so
    /// that a model trained on a GPU decodes anywhere.
    ///
    /// # Errors
    /// Candle errors copying from the device.
    pub fn cpu_tensors(&self, prefix: &str) -> candle_core::Result<Vec<(String, Tensor)>> {
        let mut sorted = self
            .tensors(prefix)
            .into_iter()
            .map(|(name, t)| Ok((name, t.to_device(&Device::Cpu)?)))
            .collect::<candle_core::Result<Vec<_>>>()?;
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(sorted)
    }

    /// The decoder's weights as safetensors bytes: what the compressed file carries.
    ///
    /// # Errors
    /// Candle errors copying the weights from the device, or serialising them.
    pub fn decoder_bytes(&self) -> candle_core::Result<Vec<u8>> {
        self.tensor_bytes(&format!("{DECODER_TENSOR_PREFIX}."))
    }

    /// The weights whose names start with `prefix`, as safetensors bytes in name order (`""`:
    /// every weight, what a model file saves).
    ///
    /// # Errors
    /// Candle errors copying the weights from the device, or serialising them.
    pub fn tensor_bytes(&self, prefix: &str) -> candle_core::Result<Vec<u8>> {
        safetensors::serialize(self.cpu_tensors(prefix)?, None)
            .map_err(|e| candle_core::Error::Msg(format!("cannot save the weights: {e}")))
    }
}

impl Module for Autoencoder {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.decoder.forward(&self.encoder.forward(x)?)
    }
}

/// Adds freshly initialised layers `{prefix}.l{i}` of a dense network of `widths` to `vars`,
/// drawn from `rng` as candle's `linear` would draw them (candle cannot seed its CPU
/// generator): Kaiming-normal weights and uniform biases in ±1/√fan_in.
///
/// # Errors
/// Candle errors.
pub(crate) fn init_dense(
    vars: &VarMap,
    prefix: &str,
    widths: &[usize],
    rng: &mut StdRng,
    device: &Device,
) -> candle_core::Result<()> {
    let mut data = vars.data().lock().expect("unpoisoned");
    for (i, w) in widths.windows(2).enumerate() {
        let (weight, bias) = init_linear(w[0], w[1], rng, device)?;
        data.insert(format!("{prefix}.l{i}.weight"), Var::from_tensor(&weight)?);
        data.insert(format!("{prefix}.l{i}.bias"), Var::from_tensor(&bias)?);
    }
    Ok(())
}

fn init_linear(
    fan_in: usize,
    fan_out: usize,
    rng: &mut StdRng,
    device: &Device,
) -> candle_core::Result<(Tensor, Tensor)> {
    let std = (2.0 / fan_in as f64).sqrt();
    let normal = Normal::new(0.0, std).expect("positive std");
    let weights: Vec<f32> = (0..fan_in * fan_out)
        .map(|_| normal.sample(rng) as f32)
        .collect();
    let bound = 1.0 / (fan_in as f64).sqrt();
    let uniform = Uniform::new(-bound, bound).expect("non-empty range");
    let biases: Vec<f32> = (0..fan_out).map(|_| uniform.sample(rng) as f32).collect();
    Ok((
        Tensor::from_vec(weights, (fan_out, fan_in), device)?,
        Tensor::from_vec(biases, fan_out, device)?,
    ))
}
