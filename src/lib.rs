//! # baler-arrow
//!
//! Machine-learning lossy compression for particle-physics jet data, built on Arrow, Parquet and
//! DataFusion.
//!
//! This crate is the tool: [`ingest`] reads CMS jet trees from ROOT files (NanoAOD `nJet` +
//! `Jet_*`, the tutorial `NJet` + `Jet_*`, flat trees) or Parquet into Arrow record batches with
//! one row per jet, and [`convert`] writes them as lossless Parquet. The decode side (file
//! format, decoder, DataFusion UDFs) lives in the `baler-udfs` crate.
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

pub mod convert;
pub mod encode;
mod error;
pub mod evaluate;
pub mod generate;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod output;
pub mod progress;
pub mod report;
pub mod sql;

pub use error::{Error, Result};
