//! A trained model saved on its own (`baler-arrow train`): safetensors with every weight and the
//! JSON header (columns, normalisation, architecture) in the safetensors metadata.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use baler_udfs::format::{HEADER_KEY, Header};
use candle_core::{Device, Var};
use candle_nn::VarMap;

use super::Autoencoder;
use crate::error::{Error, Result};
use crate::output::AtomicFile;

/// Writes `model` and its header to `path` (atomically).
///
/// # Errors
/// [`Error::Write`] and serialisation failures.
pub fn save(path: &Path, model: &Autoencoder, header: &Header, force: bool) -> Result<()> {
    let model_err = |message: String| Error::ModelFile {
        path: path.to_owned(),
        message,
    };
    let json = serde_json::to_string(header).map_err(|e| model_err(e.to_string()))?;
    let tensors = model.cpu_tensors("")?;
    let bytes = safetensors::serialize(
        tensors,
        Some(HashMap::from([(HEADER_KEY.to_owned(), json)])),
    )
    .map_err(|e| model_err(e.to_string()))?;
    let mut file = AtomicFile::create(path, force)?;
    file.file()
        .write_all(&bytes)
        .map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })?;
    file.commit()
}

/// Reads a model written by [`save`].
///
/// # Errors
/// [`Error::Open`], and [`Error::ModelFile`] for anything that is not such a model.
pub fn load(path: &Path, device: &Device) -> Result<(Autoencoder, Header)> {
    let model_err = |message: String| Error::ModelFile {
        path: path.to_owned(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| model_err(format!("not a safetensors file: {e}")))?;
    let json = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get(HEADER_KEY))
        .ok_or_else(|| {
            model_err(format!(
                "no `{HEADER_KEY}` in its metadata: not a baler-arrow model"
            ))
        })?;
    let header: Header = serde_json::from_str(json).map_err(|e| model_err(e.to_string()))?;
    header.validate().map_err(|e| model_err(e.to_string()))?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)?;
    let vars = VarMap::new();
    {
        let mut data = vars.data().lock().expect("unpoisoned");
        for (name, tensor) in tensors {
            data.insert(name, Var::from_tensor(&tensor)?);
        }
    }
    let spec = header
        .method
        .ae()
        .ok_or_else(|| model_err("not an autoencoder".into()))?;
    let model =
        Autoencoder::from_vars(&spec.model, vars, device).map_err(|e| model_err(e.to_string()))?;
    Ok((model, header))
}
