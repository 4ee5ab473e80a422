//! # baler-udfs
//!
//! The decode side of baler-arrow, small enough for any DataFusion-based analysis to embed: the
//! compressed Parquet format ([`format`]: metadata keys, header, versioning), bit-exact
//! evaluation of the decoder and the predictors ([`exact`], [`predictor`]), the error-bound
//! grids ([`quantise`]), normalisation ([`normalise`]), pcodec streams ([`stream`]), blocks of
//! streams ↔ original columns ([`codec`]), the Parquet container ([`file`]), and the DataFusion
//! function and table ([`decode`], [`table`]).
//! It depends on neither the `baler-arrow` tool, nor oxyroot, nor clap, nor any training
//! framework.
//!
//! ```no_run
//! use baler_udfs::file::CompressedFile;
//!
//! let file = CompressedFile::open("jets.baler.parquet".as_ref())?;
//! println!(
//!     "{} columns, method `{}`, {} blocks",
//!     file.codec.output_schema().fields().len(),
//!     file.codec.header().method.name(),
//!     file.blocks.len()
//! );
//! let first = file.decode_block(0)?;
//! # Ok::<(), baler_udfs::Error>(())
//! ```

pub mod codec;
pub mod decode;
mod error;
pub mod exact;
pub mod field;
pub mod file;
pub mod format;
pub mod normalise;
pub mod predictor;
pub mod quantise;
pub mod stats;
pub mod stream;
pub mod table;

pub use error::{Error, Result};
