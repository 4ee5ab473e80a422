//! Model files (`baler-arrow train`): safetensors holding every weight of a model, with the
//! JSON header in the safetensors metadata under [`HEADER_KEY`]. A compressed file may embed
//! its model or reference one by id ([`MODEL_KEY`]), found beside it ([`MODEL_FILE_KEY`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::SafeTensors;

use super::{DECODER_TENSOR_PREFIX, Footer, HEADER_KEY, Header};
use crate::error::{Error, Result};

/// Footer key of a file whose model is not embedded: the id of the model it needs
/// ([`Footer::model_id`]).
pub const MODEL_KEY: &str = "baler.model";
/// Footer key naming the model file a file was compressed with, looked for beside it.
pub const MODEL_FILE_KEY: &str = "baler.model_file";
/// Name prefix of the predictors' network tensors.
pub const PREDICTOR_TENSOR_PREFIX: &str = "predictor.";

/// The tensors decoding needs, of all of a model's: the decoder's and the predictors'
/// networks, as safetensors bytes in name order (the form files embed).
///
/// # Errors
/// [`Error::Weights`] for bytes that are not safetensors.
pub fn decoding_weights(all: &[u8]) -> Result<Vec<u8>> {
    let tensors = SafeTensors::deserialize(all).map_err(|e| Error::Weights(e.to_string()))?;
    let mut kept: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .tensors()
        .into_iter()
        .filter(|(name, _)| {
            name.starts_with(&format!("{DECODER_TENSOR_PREFIX}."))
                || name.starts_with(PREDICTOR_TENSOR_PREFIX)
        })
        .collect();
    if kept.is_empty() {
        return Ok(Vec::new());
    }
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    safetensors::serialize(kept, None).map_err(|e| Error::Weights(e.to_string()))
}

/// The header and every tensor of a model file's bytes, checked.
///
/// # Errors
/// [`Error::Weights`] for bytes that are not safetensors, [`Error::MissingKey`] without a
/// header, [`Error::Header`] for a header that is not valid.
pub fn read_model(bytes: &[u8]) -> Result<Header> {
    let (_, metadata) =
        SafeTensors::read_metadata(bytes).map_err(|e| Error::Weights(e.to_string()))?;
    let json = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get(HEADER_KEY))
        .ok_or(Error::MissingKey(HEADER_KEY))?;
    let header: Header = serde_json::from_str(json).map_err(|e| Error::Header(e.to_string()))?;
    header.validate()?;
    Ok(header)
}

/// The footer (header and decoding weights) of a model file.
///
/// # Errors
/// Those of [`read_model`] and [`decoding_weights`], and [`Error::Io`].
pub fn model_footer(path: &Path) -> Result<Footer> {
    let bytes = std::fs::read(path)?;
    Ok(Footer {
        header: read_model(&bytes)?,
        weights: decoding_weights(&bytes)?,
    })
}

/// The footer of a file that references its model: the model file named in its footer, or any
/// `.safetensors` file beside `data` whose model has the referenced id.
///
/// # Errors
/// [`Error::MissingModel`] naming the id and the file looked for.
pub fn referenced_footer(data: &Path, kv: &HashMap<String, String>) -> Result<Footer> {
    let id = kv.get(MODEL_KEY).ok_or(Error::MissingKey(MODEL_KEY))?;
    let dir = match data.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let named = kv.get(MODEL_FILE_KEY).map(|n| dir.join(n));
    let mut candidates: Vec<PathBuf> = named.iter().cloned().collect();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut others: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
            .filter(|p| Some(p) != named.as_ref())
            .collect();
        others.sort();
        candidates.extend(others);
    }
    for candidate in candidates {
        if let Ok(footer) = model_footer(&candidate)
            && &footer.model_id() == id
        {
            return Ok(footer);
        }
    }
    Err(Error::MissingModel {
        id: id.clone(),
        file: named.unwrap_or_else(|| dir.join("*.safetensors")),
    })
}
