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
pub mod dataset;
pub mod decode;
pub mod encode;
mod error;
pub mod evaluate;
pub mod field;
pub mod fit;
#[doc(hidden)]
pub mod fuzzing;
pub mod generate;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod options;
pub mod output;
mod parallel;
pub mod progress;
pub mod report;
pub mod sql;
pub mod truncate;
pub mod verify;

pub use error::{Error, Result};
pub use parallel::set_thread_count;

/// Sets `RAYON_NUM_THREADS` to the machine's cores when it is not set. candle asks `num_cpus`
/// for the thread count on every tensor operation unless that variable is set, and on Linux
/// that reads /proc and cgroup files each time: a third of the time of fitting `predict`'s
/// networks on 50k jets. Programs call it first thing in `main`.
///
/// # Safety
/// It changes the environment: call it while the process has one thread, before anything
/// else reads or writes the environment.
pub unsafe fn pin_thread_count() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        // SAFETY: the caller guarantees that no other thread exists.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    }
}
