//! Integration tests: one binary, one module per area.

mod bounds;
mod cli;
mod common;
mod compress;
mod evaluate;
mod ingest_parquet;
mod ingest_root;
mod sql;
