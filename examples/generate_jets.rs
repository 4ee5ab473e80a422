//! Writes synthetic CMS-AOD-like jets (the Baler paper's 24 variables) to Parquet.
//!
//! ```sh
//! cargo run --release --example generate_jets -- --jets 600000 -o bench-data/jets.parquet
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use baler_arrow::convert::{DEFAULT_ZSTD_LEVEL, lossless_properties, write_batches};
use baler_arrow::generate::{DEFAULT_SEED, generate, jet_schema};
use baler_arrow::ingest::DEFAULT_BATCH_ROWS;
use baler_arrow::output::AtomicFile;
use baler_arrow::progress::NoProgress;
use clap::Parser;

/// Generate synthetic jets to Parquet.
#[derive(Parser)]
struct Args {
    /// Number of jets.
    #[arg(long, default_value_t = 600_000)]
    jets: u64,
    /// Random seed.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Output Parquet file.
    #[arg(short, long, default_value = "bench-data/jets.parquet")]
    output: PathBuf,
    /// Overwrite the output if it exists.
    #[arg(long)]
    force: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(dir) = args.output.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let schema = jet_schema();
    let props = lossless_properties(&schema, DEFAULT_ZSTD_LEVEL)?;
    let mut file = AtomicFile::create(&args.output, args.force)?;
    let batches = generate(args.jets, args.seed, DEFAULT_BATCH_ROWS).map(Ok);
    let rows = write_batches(
        file.file(),
        &args.output,
        Arc::clone(&schema),
        batches,
        props,
        &NoProgress,
    )?;
    file.commit()?;
    println!("wrote {rows} jets to `{}`", args.output.display());
    Ok(())
}
