//! # baler-udfs
//!
//! The decode side of baler-arrow, small enough for any DataFusion-based analysis to embed: the
//! compressed Parquet format ([`format`]: metadata keys, header, versioning), the decoder network
//! ([`decoder`]) and decoding of stored batches back to the original columns ([`codec`]). It
//! depends on neither the `baler-arrow` tool, nor oxyroot, nor clap.
//!
//! ```no_run
//! use baler_udfs::codec::Codec;
//!
//! let codec = Codec::open("jets.baler.parquet".as_ref())?;
//! println!("{} columns from {} latents", codec.output_schema().fields().len(), codec.header().latent.columns.len());
//! # Ok::<(), baler_udfs::Error>(())
//! ```

pub mod codec;
pub mod decode;
pub mod decoder;
mod error;
pub mod exact;
pub mod format;
pub mod predictor;
pub mod quantise;
pub mod table;

pub use error::{Error, Result};
