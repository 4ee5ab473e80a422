//! Writes synthetic CMS-AOD-like jets (the Baler paper's 24 variables) to Parquet.
//!
//! ```sh
//! cargo run --release --example generate_jets -- --jets 600000 -o bench-data/jets.parquet
//! ```

use std::path::PathBuf;

use baler_arrow::generate::{DEFAULT_SEED, write_parquet};
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
    let rows = write_parquet(&args.output, args.jets, args.seed, args.force)?;
    println!("wrote {rows} jets to `{}`", args.output.display());
    Ok(())
}
