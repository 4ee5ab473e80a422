//! `baler_arrow._native`: the Rust side of the `baler_arrow` Python package.
//!
//! Files are decoded here and handed to Python as Arrow C streams (pyo3-arrow), batch by batch,
//! without a copy; the package (`python/baler_arrow/__init__.py`) turns them into pyarrow
//! tables. Reports cross as JSON. Every library error becomes a `BalerError` carrying the same
//! message as the command line's, its causes joined by `: `.

mod table;

use std::path::Path;

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::{RecordBatch, RecordBatchReader};
use baler_arrow::compress::compress as compress_file;
use baler_arrow::dataset::{self, Selection, TableRows};
use baler_arrow::decode::{self, Decoded};
use baler_arrow::field;
use baler_arrow::ingest::ReadOptions;
use baler_arrow::options::{CompressOptions, ErrorBounds, Method};
use baler_arrow::progress::NoProgress;
use pyo3::prelude::*;
use pyo3_arrow::PyRecordBatchReader;

pyo3::create_exception!(
    _native,
    BalerError,
    pyo3::exceptions::PyException,
    "A file or option baler-arrow cannot use; the message says which and why."
);

/// The error and its causes as one message.
pub(crate) fn message(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn py_err(e: baler_arrow::Error) -> PyErr {
    BalerError::new_err(message(&e))
}

/// Decoded batches, projected to the asked columns, as an Arrow reader.
struct Batches {
    schema: SchemaRef,
    inner: Box<dyn Iterator<Item = baler_arrow::Result<RecordBatch>> + Send>,
    projection: Option<Vec<usize>>,
}

impl Iterator for Batches {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.inner.next()?;
        Some(
            batch
                .map_err(|e| ArrowError::ExternalError(message(&e).into()))
                .and_then(|b| match &self.projection {
                    Some(p) => b.project(p),
                    None => Ok(b),
                }),
        )
    }
}

impl RecordBatchReader for Batches {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// The indices of `names` in `schema`, or an error naming the first that is missing.
fn indices(path: &Path, schema: &SchemaRef, names: &[String]) -> baler_arrow::Result<Vec<usize>> {
    names
        .iter()
        .map(|n| baler_arrow::ingest::column_index(path, schema, n))
        .collect()
}

/// The batches of a compressed or plain Parquet file, or of a dataset folder in the per-event
/// layout. A compressed file decodes only the asked columns and those their predictions use.
fn open(path: &Path, columns: Option<Vec<String>>) -> baler_arrow::Result<Batches> {
    if field::is_field_file(path) {
        let batch = field::open(path)?
            .to_batch()
            .map_err(|source| baler_arrow::Error::Codec {
                path: path.to_owned(),
                source: Box::new(source),
            })?;
        return projected(
            path,
            batch.schema(),
            Box::new(std::iter::once(Ok(batch))),
            columns,
        );
    }
    let compressed = path.is_file() && decode::is_compressed(path)?;
    if compressed {
        let mut decoded = Decoded::open(path)?;
        if let Some(names) = &columns {
            let p = indices(path, &decoded.schema(), names)?;
            decoded = decoded.with_projection(p)?;
        }
        return Ok(Batches {
            schema: decoded.schema(),
            inner: Box::new(decoded),
            projection: None,
        });
    }
    let (schema, inner): (SchemaRef, Box<dyn Iterator<Item = _> + Send>) = if path.is_dir() {
        let events = dataset::open_events(path)?;
        (events.schema(), Box::new(events))
    } else {
        let rows = TableRows::open("", path)?;
        (rows.schema.clone(), Box::new(rows))
    };
    projected(path, schema, inner, columns)
}

/// Batches of `schema` from `inner`, projected to `columns` (all when `None`).
fn projected(
    path: &Path,
    schema: SchemaRef,
    inner: Box<dyn Iterator<Item = baler_arrow::Result<RecordBatch>> + Send>,
    columns: Option<Vec<String>>,
) -> baler_arrow::Result<Batches> {
    let projection = columns
        .map(|names| indices(path, &schema, &names))
        .transpose()?;
    let schema = match &projection {
        Some(p) => std::sync::Arc::new(schema.project(p)?),
        None => schema,
    };
    Ok(Batches {
        schema,
        inner,
        projection,
    })
}

/// A stream of the decoded columns of `path` (an object with `__arrow_c_stream__`).
#[pyfunction]
#[pyo3(signature = (path, columns=None))]
fn stream(path: std::path::PathBuf, columns: Option<Vec<String>>) -> PyResult<PyRecordBatchReader> {
    let batches = open(&path, columns).map_err(py_err)?;
    Ok(PyRecordBatchReader::new(Box::new(batches)))
}

/// Compresses `input` into `output` (a dataset folder with `collection="all"` or a list);
/// returns the report as JSON.
#[pyfunction]
#[pyo3(signature = (input, output, error_bound=None, method=None, collection=None, tree=None, force=false))]
// Python's keyword arguments, one parameter each.
#[allow(clippy::too_many_arguments)]
fn compress(
    py: Python<'_>,
    input: std::path::PathBuf,
    output: std::path::PathBuf,
    error_bound: Option<Vec<String>>,
    method: Option<String>,
    collection: Option<String>,
    tree: Option<String>,
    force: bool,
) -> PyResult<String> {
    let method = method
        .map(|m| m.parse::<Method>())
        .transpose()
        .map_err(BalerError::new_err)?;
    let bounds =
        ErrorBounds::for_options(&error_bound.unwrap_or_default(), method).map_err(py_err)?;
    let options = CompressOptions {
        method,
        bounds: bounds.clone(),
        force,
        ..Default::default()
    };
    let json = py.detach(|| -> baler_arrow::Result<String> {
        if field::is_numpy(&input) {
            let report = field::compress(&input, &output, bounds.as_ref(), force)?;
            return Ok(serde_json::to_string(&report).expect("reports serialise"));
        }
        let selection = collection.as_deref().and_then(Selection::parse);
        Ok(match selection {
            Some(selection) => {
                let tables = dataset::tables(&input, tree.as_deref(), &selection)?;
                let summary = dataset::compress(&input, &output, &tables, &options)?;
                serde_json::to_string(&summary)
            }
            None => {
                let layout = match collection {
                    Some(c) => baler_arrow::ingest::Layout::Collection(c),
                    None => baler_arrow::ingest::Layout::Auto,
                };
                let read = ReadOptions::default().with_tree(tree).with_layout(layout);
                serde_json::to_string(&compress_file(&input, &output, &read, &options)?)
            }
        }
        .expect("reports serialise"))
    });
    json.map_err(py_err)
}

/// Rebuilds the original columns of `input` (a file, or a dataset folder: `layout` "tables"
/// or "events") into lossless Parquet at `output`; returns a summary as JSON.
#[pyfunction]
#[pyo3(signature = (input, output, layout="tables", force=false))]
fn decompress(
    py: Python<'_>,
    input: std::path::PathBuf,
    output: std::path::PathBuf,
    layout: &str,
    force: bool,
) -> PyResult<String> {
    if !matches!(layout, "tables" | "events") {
        return Err(BalerError::new_err(format!(
            "layout `{layout}`: expected `tables` or `events`"
        )));
    }
    if layout == "events" && !input.is_dir() {
        return Err(BalerError::new_err(format!(
            "`layout=\"events\"` needs a dataset folder (from compress with collection=\"all\"); `{}` is one table",
            input.display()
        )));
    }
    let json = py.detach(|| -> baler_arrow::Result<String> {
        let progress = NoProgress;
        Ok(if field::is_field_file(&input) {
            let array = field::decompress(&input, &output, force)?;
            serde_json::to_string(&serde_json::json!({
                "output": output, "name": array.name, "shape": array.shape, "dtype": array.dtype,
            }))
        } else if !input.is_dir() {
            serde_json::to_string(&decode::decompress(&input, &output, force, &progress)?)
        } else if layout == "events" {
            let rows = dataset::decompress_events(&input, &output, force, &progress)?;
            serde_json::to_string(&serde_json::json!({"output": output, "events": rows}))
        } else {
            serde_json::to_string(&dataset::decompress(&input, &output, force, &progress)?)
        }
        .expect("summaries serialise"))
    });
    json.map_err(py_err)
}

/// What a compressed file holds, as JSON: rows, bytes, and its header (method, columns with
/// their storage and bounds).
#[pyfunction]
fn inspect(path: std::path::PathBuf) -> PyResult<String> {
    if field::is_field_file(&path) {
        let file = field::open(&path).map_err(py_err)?;
        return Ok(serde_json::json!({
            "path": path,
            "bytes": baler_arrow::output::file_bytes(&path),
            "method": "field",
            "blocks": file.blocks.len(),
            "header": file.header,
        })
        .to_string());
    }
    let decoded = Decoded::open(&path).map_err(py_err)?;
    let bytes = baler_arrow::output::file_bytes(&path);
    let header = serde_json::to_value(decoded.codec.header()).expect("headers serialise");
    Ok(serde_json::json!({
        "path": path,
        "rows": decoded.rows,
        "bytes": bytes,
        "method": decoded.codec.header().method.name(),
        "header": header,
    })
    .to_string())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("BalerError", m.py().get_type::<BalerError>())?;
    m.add_function(wrap_pyfunction!(stream, m)?)?;
    m.add_function(wrap_pyfunction!(compress, m)?)?;
    m.add_function(wrap_pyfunction!(decompress, m)?)?;
    m.add_function(wrap_pyfunction!(inspect, m)?)?;
    m.add_class::<table::Table>()?;
    m.add("DATAFUSION_MAJOR", table::datafusion_major())?;
    Ok(())
}
