//! The networks the tool trains (with candle): the autoencoder, the dense layers it and the
//! predictors' networks are made of, the one training loop, first-pass statistics, device
//! selection, and models saved on their own.

mod autoencoder;
mod dense;
mod device;
pub mod saved;
mod stats;
pub mod train;

pub use autoencoder::Autoencoder;
pub(crate) use autoencoder::init_dense;
pub use dense::{Decoder, Dense, leaky_relu};
pub use device::{CUDA_BUILT, DeviceChoice, SelectedDevice, select_device};
pub use stats::ColumnStats;
pub use train::{TrainConfig, TrainSummary, train};

/// Hidden widths of the Baler paper's HEP model (n → 200 → 100 → 50 → k, mirrored decoder).
pub const DEFAULT_HIDDEN: [usize; 3] = [200, 100, 50];
/// Slope of the leaky ReLU for negative inputs.
pub const DEFAULT_NEGATIVE_SLOPE: f64 = 0.01;
