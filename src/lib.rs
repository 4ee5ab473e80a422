//! # baler-arrow
//!
//! Machine-learning lossy compression for particle-physics jet data, built on Arrow, Parquet and
//! DataFusion.
//!
//! This crate is the tool. Data flows one way:
//! - [`ingest`] reads CMS jet trees from ROOT files (NanoAOD `nJet` + `Jet_*`, the tutorial
//!   `NJet` + `Jet_*`, flat trees) or Parquet into Arrow record batches with one row per jet;
//!   [`convert`] writes them as lossless Parquet;
//! - [`fit`] learns a model from a first pass ([`model`] holds the networks and their training
//!   loop, [`options`] what can be asked);
//! - [`encode`] writes every row as baler Parquet with it, and [`compress`] runs the two;
//! - [`decode`] reads compressed files back (`decompress`), [`sql`] queries them, [`evaluate`]
//!   judges them against [`truncate`] (mantissa truncation) and lossless Parquet, [`report`]
//!   draws the plots.
//!
//! The decode side (file format, codec, bit-exact kernels, DataFusion UDFs and table) lives in
//! the `baler-udfs` crate, which depends on none of this.
//!
//! ```no_run
//! use baler_arrow::convert::{convert, ConvertOptions};
//! use baler_arrow::ingest::ReadOptions;
//!
//! let summary = convert(
//!     "tests/data/cms_nanoaod_2015_ttbar.root".as_ref(),
//!     "/tmp/ttbar_jets.parquet".as_ref(),
//!     &ReadOptions::default(),
//!     &ConvertOptions::default().with_force(true),
//! )?;
//! println!("{} jets", summary.rows);
//! # Ok::<(), baler_arrow::Error>(())
//! ```

pub mod compress;
pub mod convert;
pub mod decode;
pub mod encode;
mod error;
pub mod evaluate;
pub mod fit;
#[doc(hidden)]
pub mod fuzzing;
pub mod generate;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod options;
pub mod output;
pub mod progress;
pub mod report;
pub mod sql;
pub mod truncate;
pub mod verify;

pub use error::{Error, Result};
