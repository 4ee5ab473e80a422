//! A trained model saved on its own (`baler-arrow train`): safetensors with every weight (the
//! autoencoder's encoder and decoder, or the predictors' networks) and the JSON header
//! (columns, bounds, method, normalisation) in the safetensors metadata.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use baler_udfs::format::{HEADER_KEY, Header, decoding_weights, read_model};
use candle_core::{Device, Var};
use candle_nn::VarMap;
use safetensors::SafeTensors;

use super::Autoencoder;
use crate::error::{Error, Result};
use crate::output::AtomicFile;

/// Writes a model file: `tensors` (every weight, safetensors bytes) with `header` in their
/// metadata, at `path` (atomically).
///
/// # Errors
/// [`Error::ModelFile`] for weights that are not safetensors, [`Error::Write`].
pub fn save(path: &Path, header: &Header, tensors: &[u8], force: bool) -> Result<()> {
    let model_err = |message: String| Error::ModelFile {
        path: path.to_owned(),
        message,
    };
    let json = serde_json::to_string(header).map_err(|e| model_err(e.to_string()))?;
    let metadata = Some(HashMap::from([(HEADER_KEY.to_owned(), json)]));
    let bytes = if tensors.is_empty() {
        let none: Vec<(String, safetensors::tensor::TensorView)> = Vec::new();
        safetensors::serialize(none, metadata)
    } else {
        let parsed = SafeTensors::deserialize(tensors).map_err(|e| model_err(e.to_string()))?;
        let mut views = parsed.tensors();
        views.sort_by(|a, b| a.0.cmp(&b.0));
        safetensors::serialize(views, metadata)
    }
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

/// A model file read back: its header, its decoding weights (as files embed them) and, for
/// method `ae`, the autoencoder (encoder included) on `device`.
pub struct Saved {
    pub header: Header,
    pub weights: Vec<u8>,
    pub autoencoder: Option<Autoencoder>,
}

/// Reads a model written by [`save`].
///
/// # Errors
/// [`Error::Open`], and [`Error::ModelFile`] for anything that is not such a model.
pub fn load(path: &Path, device: &Device) -> Result<Saved> {
    let model_err = |message: String| Error::ModelFile {
        path: path.to_owned(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let header = read_model(&bytes).map_err(|e| {
        model_err(match e {
            baler_udfs::Error::MissingKey(key) => {
                format!("no `{key}` in its metadata: not a baler-arrow model")
            }
            e => e.to_string(),
        })
    })?;
    let weights = decoding_weights(&bytes).map_err(|e| model_err(e.to_string()))?;
    let autoencoder = match header.method.ae() {
        None => None,
        Some(spec) => {
            let tensors = candle_core::safetensors::load_buffer(&bytes, device)?;
            let vars = VarMap::new();
            {
                let mut data = vars.data().lock().expect("unpoisoned");
                for (name, tensor) in tensors {
                    data.insert(name, Var::from_tensor(&tensor)?);
                }
            }
            Some(
                Autoencoder::from_vars(&spec.model, vars, device)
                    .map_err(|e| model_err(e.to_string()))?,
            )
        }
    };
    Ok(Saved {
        header,
        weights,
        autoencoder,
    })
}
