//! `baler_arrow.Table`: a compressed file as a datafusion-python table.
//!
//! datafusion-python takes a Rust [`TableProvider`] through `datafusion-ffi`: an object whose
//! `__datafusion_table_provider__(session)` returns a PyCapsule holding an
//! [`FFI_TableProvider`]. The provider is the command line's own ([`CompressedTable`]): blocks
//! spread over the session's partitions, each decoding only the columns the query reads.
//! Filters cross the boundary as inexact: the table uses them to skip blocks whose decoded
//! statistics rule them out, and DataFusion still applies them to the rows, as for the command
//! line.
//!
//! The FFI structs are stable within one DataFusion major version only; the Python side checks
//! datafusion-python's major against [`DATAFUSION_MAJOR`] before it hands a table over.

use std::path::PathBuf;
use std::ptr::NonNull;
use std::sync::Arc;

use baler_udfs::table::CompressedTable;
use datafusion_ffi::proto::logical_extension_codec::FFI_LogicalExtensionCodec;
use datafusion_ffi::table_provider::FFI_TableProvider;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::{BalerError, message};

/// The DataFusion major version this module's FFI structs belong to.
pub fn datafusion_major() -> u64 {
    datafusion_ffi::version()
}

/// A compressed file (or a folder of files compressed with one model) as a table for
/// `datafusion.SessionContext().register_table(name, table)`.
#[pyclass(frozen, name = "Table", module = "baler_arrow._native")]
pub struct Table {
    provider: Arc<CompressedTable>,
    path: PathBuf,
}

#[pymethods]
impl Table {
    #[new]
    fn new(path: PathBuf) -> PyResult<Self> {
        let provider = CompressedTable::open(&path).map_err(|e| {
            BalerError::new_err(format!(
                "`{}` cannot be a baler_arrow.Table: {}",
                path.display(),
                message(&e)
            ))
        })?;
        Ok(Self {
            provider: Arc::new(provider),
            path,
        })
    }

    /// The FFI table provider for `session` (a `datafusion.SessionContext`), whose logical
    /// extension codec the provider adopts.
    fn __datafusion_table_provider__<'py>(
        &self,
        py: Python<'py>,
        session: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let codec = logical_codec(session)?;
        let provider =
            FFI_TableProvider::new_with_ffi_codec(self.provider.clone(), true, None, codec);
        PyCapsule::new_with_value(py, provider, c"datafusion_table_provider")
    }

    /// How many blocks have had model columns decoded by queries on this table so far (blocks
    /// that filters rule out by their statistics are not).
    #[getter]
    fn blocks_decoded(&self) -> u64 {
        self.provider.decodes()
    }

    fn __repr__(&self) -> String {
        format!("baler_arrow.Table({:?})", self.path.display().to_string())
    }
}

/// The session's logical extension codec: from `__datafusion_logical_extension_codec__()`, or
/// the capsule itself.
fn logical_codec(session: Bound<'_, PyAny>) -> PyResult<FFI_LogicalExtensionCodec> {
    const ATTR: &str = "__datafusion_logical_extension_codec__";
    let capsule = if session.hasattr(ATTR)? {
        session.getattr(ATTR)?.call0()?
    } else {
        session
    };
    let capsule = capsule.cast::<PyCapsule>().map_err(|_| {
        BalerError::new_err(
            "the session is not a datafusion.SessionContext (it has no logical extension codec)",
        )
    })?;
    let data: NonNull<FFI_LogicalExtensionCodec> = capsule
        .pointer_checked(Some(c"datafusion_logical_extension_codec"))?
        .cast();
    // SAFETY: the capsule's name says it holds an FFI_LogicalExtensionCodec, which lives as
    // long as the capsule; the clone is an owned handle.
    Ok(unsafe { data.as_ref() }.clone())
}
