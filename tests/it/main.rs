//! Integration tests: one binary, one module per area.

mod bad_data;
mod bounds;
mod cli;
mod common;
mod compress;
mod dataset;
mod evaluate;
mod field;
mod fuzz;
mod ingest_parquet;
mod ingest_root;
mod sql;
