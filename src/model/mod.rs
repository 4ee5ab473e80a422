//! The autoencoder: architecture, normalisation, training.

mod autoencoder;
mod device;
mod normalise;
pub mod train;

pub use autoencoder::Autoencoder;
pub(crate) use autoencoder::init_dense;
pub use device::{CUDA_BUILT, DeviceChoice, SelectedDevice, select_device};
pub use normalise::{ColumnStats, Normaliser};
pub use train::{TrainConfig, TrainSummary, train};

/// Hidden widths of the Baler paper's HEP model (n → 200 → 100 → 50 → k, mirrored decoder).
pub const DEFAULT_HIDDEN: [usize; 3] = [200, 100, 50];
/// Slope of the leaky ReLU for negative inputs.
pub const DEFAULT_NEGATIVE_SLOPE: f64 = 0.01;
