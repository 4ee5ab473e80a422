//! The decode side's error type.

/// Errors from reading or decoding a baler-compressed file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file has no `baler.format` key: it is not a baler-compressed file.
    #[error("not a baler-compressed file (no `baler.format` key in its footer)")]
    NotCompressed,

    /// The file was written by a newer or unknown version of the format.
    #[error("unsupported baler format version `{found}` (this build reads version {supported})")]
    UnsupportedVersion { found: String, supported: u32 },

    /// A footer key that the format requires is missing.
    #[error("footer key `{0}` is missing")]
    MissingKey(&'static str),

    /// The header is not valid JSON of the expected shape, or contradicts itself.
    #[error("invalid `baler.header`: {0}")]
    Header(String),

    /// The model's weights do not match their checksum.
    #[error("decoder checksum mismatch: footer says {expected}, bytes hash to {found}")]
    Checksum { expected: String, found: String },

    /// A file references a model that is not beside it.
    #[error("the file needs model `{id}`, which is not in `{}` (copy the model file beside it, or compress again without `--reference-model`)", file.display())]
    MissingModel {
        id: String,
        file: std::path::PathBuf,
    },

    /// A footer entry is not base64, not zstd, fails its checksum, or unpacks to too much.
    #[error("footer entry `{key}` is damaged: {message}")]
    Damaged { key: String, message: String },

    /// The model's weights are not readable safetensors bytes.
    #[error("the model's weights cannot be read: {0}")]
    Weights(String),

    /// A numeric stream cannot be coded or decoded.
    #[error("{0}")]
    Stream(String),

    /// A stored block is damaged: its checksum, its framing or its streams.
    #[error("damaged block: {0}")]
    Block(String),

    /// A problem with one block of a file.
    #[error("block {block}")]
    InBlock {
        block: usize,
        #[source]
        source: Box<Error>,
    },

    /// A column named by the header is missing from the data.
    #[error("column `{0}` is missing")]
    MissingColumn(String),

    /// A column does not have the type the format expects.
    #[error("column `{column}` has type {found}, expected {expected}")]
    ColumnType {
        column: String,
        expected: String,
        found: String,
    },

    /// Reading the Parquet file failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),

    /// An Arrow operation failed.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),

    /// A problem with one file of several.
    #[error("in `{}`", path.display())]
    File {
        path: std::path::PathBuf,
        #[source]
        source: Box<Error>,
    },

    /// Files registered as one table were compressed with different models.
    #[error("`{}` and `{}` were compressed with different models; register them as separate tables", first.display(), other.display())]
    DifferentModels {
        first: std::path::PathBuf,
        other: std::path::PathBuf,
    },

    /// DataFusion failed.
    #[error(transparent)]
    DataFusion(Box<datafusion::error::DataFusionError>),

    /// A value cannot be held within its column's error bound, or the bound does not fit the
    /// column.
    #[error("error bound on column `{column}`: {message}")]
    Bound { column: String, message: String },

    /// The file cannot be opened.
    #[error("cannot open the file")]
    Io(#[from] std::io::Error),
}

/// A `Result` with the decode side's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Self::DataFusion(Box::new(e))
    }
}
