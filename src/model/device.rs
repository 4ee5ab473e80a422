//! Choosing where to train and encode: the CPU, or an NVIDIA GPU with the `cuda` feature.

use candle_core::Device;

use crate::error::{Error, Result};

/// The device the user asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU (the default; deterministic for a given seed).
    #[default]
    Cpu,
    /// The first CUDA device; an error when the build or the machine has none.
    Cuda,
    /// CUDA when the build has the `cuda` feature and a device is present, else the CPU.
    Auto,
}

/// The device picked, and a note for the user when `auto` fell back to the CPU.
#[derive(Debug, Clone)]
pub struct SelectedDevice {
    pub device: Device,
    pub note: Option<String>,
}

impl SelectedDevice {
    /// `"cpu"` or `"cuda"`, as recorded in the file's header.
    pub fn name(&self) -> &'static str {
        if self.device.is_cuda() { "cuda" } else { "cpu" }
    }
}

/// Whether this binary was built with the `cuda` feature.
pub const CUDA_BUILT: bool = cfg!(feature = "cuda");

/// Picks the device for `choice`.
///
/// # Errors
/// [`Error::Device`] for `cuda` in a build without the `cuda` feature, or when no CUDA device
/// can be opened; the message says what to do instead.
pub fn select_device(choice: DeviceChoice) -> Result<SelectedDevice> {
    let cpu = |note: Option<String>| SelectedDevice {
        device: Device::Cpu,
        note,
    };
    match choice {
        DeviceChoice::Cpu => Ok(cpu(None)),
        DeviceChoice::Cuda if !CUDA_BUILT => Err(Error::Device {
            message: "this binary was built without CUDA support; rebuild with `cargo build --release --features cuda`, or pass `--device cpu`".into(),
        }),
        DeviceChoice::Cuda => Device::new_cuda(0)
            .map(|device| SelectedDevice { device, note: None })
            .map_err(|e| Error::Device {
                message: format!("no usable CUDA device ({e}); pass `--device cpu` to train on the CPU"),
            }),
        DeviceChoice::Auto if !CUDA_BUILT => Ok(cpu(Some(
            "training on the CPU: this binary was built without the `cuda` feature".into(),
        ))),
        DeviceChoice::Auto => Ok(match Device::new_cuda(0) {
            Ok(device) => SelectedDevice { device, note: None },
            Err(e) => cpu(Some(format!("training on the CPU: no usable CUDA device ({e})"))),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_always_available() {
        let d = select_device(DeviceChoice::Cpu).unwrap();
        assert!(d.device.is_cpu());
        assert_eq!((d.name(), d.note), ("cpu", None));
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn without_the_feature_cuda_is_an_error_and_auto_falls_back_with_a_note() {
        let err = select_device(DeviceChoice::Cuda).unwrap_err().to_string();
        assert_eq!(
            err,
            "this binary was built without CUDA support; rebuild with `cargo build --release --features cuda`, or pass `--device cpu`"
        );
        let auto = select_device(DeviceChoice::Auto).unwrap();
        assert!(auto.device.is_cpu());
        assert_eq!(
            auto.note.as_deref(),
            Some("training on the CPU: this binary was built without the `cuda` feature")
        );
    }

    #[cfg(feature = "cuda")]
    #[test]
    #[ignore = "needs an NVIDIA GPU"]
    fn cuda_opens_the_first_gpu() {
        assert_eq!(select_device(DeviceChoice::Cuda).unwrap().name(), "cuda");
    }
}
