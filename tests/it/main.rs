//! Integration tests: one binary, one module per area.

mod cli;
mod common;
mod ingest_parquet;
mod ingest_root;
