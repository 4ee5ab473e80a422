//! # baler-udfs
//!
//! The decode side of baler-arrow, small enough for any DataFusion-based analysis to embed: the
//! compressed Parquet format (metadata keys, header, versioning), the decoder and the DataFusion
//! functions that decode inside SQL. It does not depend on the `baler-arrow` tool, on oxyroot or
//! on clap.
//!
//! The format and the UDFs arrive with the compression work; for now the crate holds the names
//! that the format reserves, so that the tool and the decoder agree on them from the start.

/// Prefix of every Parquet footer key that baler-arrow writes (as Arrow uses `ARROW:`).
pub const METADATA_PREFIX: &str = "baler.";

/// Footer key holding the format version.
pub const FORMAT_KEY: &str = "baler.format";
