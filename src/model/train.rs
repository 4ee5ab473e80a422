//! Training: one loop ([`run`]: Adam over shuffled batches, a learning-rate schedule) for every
//! network the tool trains, and the autoencoder's loss and schedule ([`train`]: (1 − β)·MSE +
//! β·L1, reduce-on-plateau, early stopping).

use std::time::Instant;

use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::Autoencoder;
use crate::progress::Progress;

/// Training settings; the defaults are the Baler paper's.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Weight β of the L1 term (mean absolute weight) in (1 − β)·MSE + β·L1.
    pub l1: f64,
    /// Epochs without improvement before the learning rate is multiplied by `lr_factor`.
    pub lr_patience: usize,
    pub lr_factor: f64,
    pub min_lr: f64,
    /// Epochs without improvement before training stops.
    pub stop_patience: usize,
    pub seed: u64,
    /// Rate-aware training: relative noise of up to `2^-(bits+1)` added to the latents (as
    /// rounding them to `bits` mantissa bits would move them), so that the decoder learns to
    /// work from latents stored with few bits. `None`: no noise.
    pub latent_noise_bits: Option<u32>,
}

/// Default number of epochs.
pub const DEFAULT_EPOCHS: usize = 50;
/// Default batch size.
pub const DEFAULT_BATCH_SIZE: usize = 512;
/// Default learning rate (Adam).
pub const DEFAULT_LEARNING_RATE: f64 = 1e-3;
/// Default weight of the L1 term.
pub const DEFAULT_L1: f64 = 1e-4;
/// Default seed.
pub const DEFAULT_SEED: u64 = 42;

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: DEFAULT_EPOCHS,
            batch_size: DEFAULT_BATCH_SIZE,
            learning_rate: DEFAULT_LEARNING_RATE,
            l1: DEFAULT_L1,
            lr_patience: 50,
            lr_factor: 0.5,
            min_lr: 1e-6,
            stop_patience: 100,
            seed: DEFAULT_SEED,
            latent_noise_bits: None,
        }
    }
}

/// How training went.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSummary {
    pub epochs: usize,
    /// Mean loss of the last epoch.
    pub final_loss: f64,
    /// Mean squared error (normalised units) of the last epoch.
    pub final_mse: f64,
    pub learning_rate: f64,
    pub rows: u64,
    pub seconds: f64,
}

/// Trains `model` on `rows × n` normalised values (row-major): (1 − β)·MSE + β·mean |w|,
/// with the paper's reduce-on-plateau and early stopping.
///
/// # Errors
/// Candle errors.
pub fn train(
    model: &Autoencoder,
    data: Vec<f32>,
    config: &TrainConfig,
    device: &Device,
    progress: &dyn Progress,
) -> candle_core::Result<TrainSummary> {
    let n = model.spec.outputs;
    let rows = data.len() / n;
    let x = Tensor::from_vec(data, (rows, n), device)?;
    let weights: Vec<Tensor> = model
        .tensors("")
        .into_iter()
        .filter(|(name, _)| name.ends_with(".weight"))
        .map(|(_, t)| t)
        .collect();
    let n_weights: usize = weights.iter().map(Tensor::elem_count).sum();
    let mut rng = StdRng::seed_from_u64(config.seed);
    let schedule = Schedule {
        epochs: config.epochs,
        batch_size: config.batch_size,
        learning_rate: config.learning_rate,
        change: LearningRateChange::Plateau(Plateau::new(config)),
    };
    progress.start("train", Some(config.epochs as u64));
    let summary = run(
        model.vars.all_vars(),
        rows,
        &schedule,
        &mut rng,
        progress,
        |chunk, rng| {
            let index = Tensor::from_slice(chunk, chunk.len(), device)?;
            let batch = x.index_select(&index, 0)?;
            let rebuilt = match config.latent_noise_bits {
                None => model.forward(&batch)?,
                Some(bits) => {
                    let z = model.encoder.forward(&batch)?;
                    let a = 0.5f32.powi(bits as i32 + 1);
                    let u: Vec<f32> = (0..z.elem_count())
                        .map(|_| rng.random_range(-a..=a))
                        .collect();
                    let u = Tensor::from_vec(u, z.shape(), device)?;
                    model.decoder.forward(&(&z + z.abs()?.mul(&u)?)?)?
                }
            };
            let mse = rebuilt.sub(&batch)?.sqr()?.mean_all()?;
            let l1 = weights
                .iter()
                .map(|w| w.abs()?.sum_all())
                .try_fold(Tensor::zeros((), DType::F32, device)?, |acc, s| acc + s?)?
                .affine(1.0 / n_weights as f64, 0.0)?;
            let loss = (mse.affine(1.0 - config.l1, 0.0)? + l1.affine(config.l1, 0.0)?)?;
            Ok((loss, mse))
        },
    );
    progress.finish();
    summary
}

/// How the learning rate changes from epoch to epoch.
pub enum LearningRateChange {
    /// Reduce on plateau of the epoch loss, and stop early (the Baler paper's schedule).
    Plateau(Plateau),
    /// Divide the learning rate by `factor` once, at the start of epoch `at`.
    Step { at: usize, factor: f64 },
}

/// The optimisation schedule of [`run`]: Adam (AdamW without weight decay) over shuffled
/// batches.
pub struct Schedule {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub change: LearningRateChange,
}

/// The training loop shared by every network the tool trains: each epoch shuffles the row
/// order with `rng`, hands each batch of row indices (and `rng`) to `batch`, which returns the
/// loss to minimise and a value to monitor (both scalars), and takes one Adam step; the
/// learning rate then follows `schedule.change`. Progress gets each epoch's mean loss.
///
/// # Errors
/// Candle errors from `batch` or the optimiser.
pub fn run(
    vars: Vec<Var>,
    rows: usize,
    schedule: &Schedule,
    rng: &mut StdRng,
    progress: &dyn Progress,
    mut batch: impl FnMut(&[u32], &mut StdRng) -> candle_core::Result<(Tensor, Tensor)>,
) -> candle_core::Result<TrainSummary> {
    let params = ParamsAdamW {
        lr: schedule.learning_rate,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    };
    let mut optimizer = AdamW::new(vars, params)?;
    let mut order: Vec<u32> = (0..rows as u32).collect();
    let mut plateau = match &schedule.change {
        LearningRateChange::Plateau(p) => Some(p.clone()),
        LearningRateChange::Step { .. } => None,
    };
    let start = Instant::now();
    let mut summary = TrainSummary {
        epochs: 0,
        final_loss: f64::NAN,
        final_mse: f64::NAN,
        learning_rate: schedule.learning_rate,
        rows: rows as u64,
        seconds: 0.0,
    };
    for epoch in 0..schedule.epochs {
        if let LearningRateChange::Step { at, factor } = schedule.change
            && epoch == at
        {
            optimizer.set_learning_rate(schedule.learning_rate / factor);
        }
        order.shuffle(rng);
        let (mut loss_sum, mut monitor_sum) = (0.0, 0.0);
        for chunk in order.chunks(schedule.batch_size.max(1)) {
            let (loss, monitor) = batch(chunk, rng)?;
            optimizer.backward_step(&loss)?;
            let weight = chunk.len() as f64;
            loss_sum += f64::from(loss.to_scalar::<f32>()?) * weight;
            monitor_sum += f64::from(monitor.to_scalar::<f32>()?) * weight;
        }
        summary.epochs = epoch + 1;
        summary.final_loss = loss_sum / rows.max(1) as f64;
        summary.final_mse = monitor_sum / rows.max(1) as f64;
        progress.epoch(epoch + 1, summary.final_loss, optimizer.learning_rate());
        if let Some(plateau) = &mut plateau {
            match plateau.observe(summary.final_loss, optimizer.learning_rate()) {
                Step::Continue => {}
                Step::SetLearningRate(lr) => optimizer.set_learning_rate(lr),
                Step::Stop => break,
            }
        }
    }
    summary.learning_rate = optimizer.learning_rate();
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

enum Step {
    Continue,
    SetLearningRate(f64),
    Stop,
}

/// Reduce-on-plateau and early stopping on the epoch loss.
#[derive(Debug, Clone)]
pub struct Plateau {
    best: f64,
    since_best: usize,
    since_lr_change: usize,
    lr_patience: usize,
    lr_factor: f64,
    min_lr: f64,
    stop_patience: usize,
}

impl Plateau {
    /// The plateau rule of a training configuration.
    pub fn new(c: &TrainConfig) -> Self {
        Self {
            best: f64::INFINITY,
            since_best: 0,
            since_lr_change: 0,
            lr_patience: c.lr_patience,
            lr_factor: c.lr_factor,
            min_lr: c.min_lr,
            stop_patience: c.stop_patience,
        }
    }

    fn observe(&mut self, loss: f64, lr: f64) -> Step {
        if loss < self.best {
            self.best = loss;
            self.since_best = 0;
            self.since_lr_change = 0;
            return Step::Continue;
        }
        self.since_best += 1;
        self.since_lr_change += 1;
        if self.since_best >= self.stop_patience {
            Step::Stop
        } else if self.since_lr_change >= self.lr_patience && lr > self.min_lr {
            self.since_lr_change = 0;
            Step::SetLearningRate((lr * self.lr_factor).max(self.min_lr))
        } else {
            Step::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(lr_patience: usize, stop_patience: usize) -> TrainConfig {
        TrainConfig {
            lr_patience,
            stop_patience,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn the_learning_rate_halves_after_a_plateau_and_training_stops_later() {
        let mut p = Plateau::new(&config(2, 5));
        assert!(matches!(p.observe(1.0, 1e-3), Step::Continue));
        assert!(matches!(p.observe(1.0, 1e-3), Step::Continue));
        assert!(matches!(p.observe(1.0, 1e-3), Step::SetLearningRate(lr) if lr == 5e-4));
        assert!(matches!(p.observe(0.5, 5e-4), Step::Continue));
        for _ in 0..4 {
            assert!(!matches!(p.observe(0.9, 5e-4), Step::Stop));
        }
        assert!(matches!(p.observe(0.9, 5e-4), Step::Stop));
    }

    #[test]
    fn the_learning_rate_never_goes_below_its_minimum() {
        let mut p = Plateau::new(&config(1, 100));
        p.observe(1.0, 1.5e-6);
        assert!(matches!(p.observe(1.0, 1.5e-6), Step::SetLearningRate(lr) if lr == 1e-6));
        assert!(matches!(p.observe(1.0, 1e-6), Step::Continue));
    }
}
