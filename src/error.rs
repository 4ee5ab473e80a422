//! The library's error type.

use std::path::PathBuf;

/// Errors returned by baler-arrow's library functions.
///
/// Every variant names the file, and where it applies the tree, branch or column,
/// so that the message alone tells the user what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input file does not exist or cannot be opened.
    #[error("cannot open `{}`", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The input is neither a ROOT nor a Parquet file.
    #[error("`{}` is not a ROOT or Parquet file (expected the magic bytes `root` or `PAR1`)", path.display())]
    UnknownFormat { path: PathBuf },

    /// The ROOT file is damaged or uses a layout that the reader cannot decode.
    #[error("cannot read ROOT file `{}`: {message}", path.display())]
    Root { path: PathBuf, message: String },

    /// A branch could not be decoded.
    #[error("cannot read branch `{branch}` of tree `{tree}` in `{}`: {message}", path.display())]
    Branch {
        path: PathBuf,
        tree: String,
        branch: String,
        message: String,
    },

    /// The requested tree does not exist, or several exist and none was chosen.
    #[error("{problem} in `{}`; trees in the file: {}", path.display(), list(available))]
    Tree {
        path: PathBuf,
        problem: String,
        available: Vec<String>,
    },

    /// One table of a dataset (a collection, or the event-level branches) failed.
    #[error("table `{table}` of `{}`", path.display())]
    DatasetTable {
        path: PathBuf,
        table: String,
        #[source]
        source: Box<Error>,
    },

    /// The requested jet collection does not exist, or several exist and none was chosen.
    #[error("{problem} in tree `{tree}` of `{}`; collections: {}", path.display(), list(available))]
    Collection {
        path: PathBuf,
        tree: String,
        problem: String,
        available: Vec<String>,
    },

    /// A column exists but cannot be used as asked.
    #[error("column `{column}` in `{}`: {message}", path.display())]
    Column {
        path: PathBuf,
        column: String,
        message: String,
    },

    /// No numeric column is left after dropping the unsupported ones.
    #[error("`{}` has no numeric column to read", path.display())]
    NoNumericColumns { path: PathBuf },

    /// The output would overwrite the input.
    #[error("output `{}` is the input file; choose another path with `-o`", path.display())]
    OutputIsInput { path: PathBuf },

    /// The output exists and overwriting was not allowed.
    #[error("output `{}` already exists (pass `--force` to overwrite it)", path.display())]
    OutputExists { path: PathBuf },

    /// Writing the output failed; nothing was left at the output path.
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Parquet encoding or decoding failed.
    #[error("parquet error in `{}`", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// An Arrow operation failed.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),

    /// The input has no rows to compress.
    #[error("`{}` has no rows to compress", path.display())]
    Empty { path: PathBuf },

    /// The options cannot be satisfied for this input.
    #[error("{message}")]
    Options { message: String },

    /// A saved model does not fit the input.
    #[error("model `{}` does not fit `{}`: {message}", model.display(), input.display())]
    ModelMismatch {
        model: PathBuf,
        input: PathBuf,
        message: String,
    },

    /// A saved model file cannot be read.
    #[error("cannot read model `{}`: {message}", path.display())]
    ModelFile { path: PathBuf, message: String },

    /// A compressed file's format, header or model is not usable, or its data do not decode.
    #[error("cannot decode `{}`", path.display())]
    Codec {
        path: PathBuf,
        #[source]
        source: Box<baler_udfs::Error>,
    },

    /// Encoding the input failed: a value no grid point of its bound can hold, or a model that
    /// does not fit the columns.
    #[error("cannot compress `{}`", path.display())]
    Compress {
        path: PathBuf,
        #[source]
        source: Box<baler_udfs::Error>,
    },

    /// A NumPy file that is not a field this tool takes (type, shape, order, values).
    #[error("cannot read `{}` as a field: {message}", path.display())]
    Field { path: PathBuf, message: String },

    /// A compressed file does not give back its original within the guarantee it states.
    #[error("`{}` does not match its original: {message}", path.display())]
    Verify { path: PathBuf, message: String },

    /// The method cannot compress this input (too few columns for it, say).
    #[error("{message}")]
    NotApplicable {
        method: &'static str,
        message: String,
    },

    /// A table could not be registered for SQL.
    #[error("cannot register table `{name}` from `{}`", path.display())]
    Table {
        name: String,
        path: PathBuf,
        #[source]
        source: Box<baler_udfs::Error>,
    },

    /// A SQL query failed to plan or run.
    #[error("query failed")]
    Query(#[source] Box<datafusion::error::DataFusionError>),

    /// The requested device cannot be used.
    #[error("{message}")]
    Device { message: String },

    /// Training or running a network (the autoencoder, a predictor's network) failed.
    #[error("training failed: {0}")]
    Training(#[from] candle_core::Error),
}

/// A `Result` with baler-arrow's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
