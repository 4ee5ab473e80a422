//! Progress reporting. The library never prints: long operations report through [`Progress`],
//! which the command-line tool implements with a progress bar.

/// Receives progress from long operations. Every method has an empty default.
pub trait Progress: Send + Sync {
    /// A stage starts; `total` is the number of rows when known.
    fn start(&self, _stage: &str, _total: Option<u64>) {}
    /// `rows` more rows are done.
    fn advance(&self, _rows: u64) {}
    /// A training epoch ended (1-based) with this mean loss and learning rate.
    fn epoch(&self, _epoch: usize, _loss: f64, _learning_rate: f64) {}
    /// Something the user should know that is not an error (e.g. a device fallback).
    fn note(&self, _message: &str) {}
    /// The stage is over.
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
