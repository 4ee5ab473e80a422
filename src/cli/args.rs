//! Command-line arguments. The doc comments are the `--help` text.

use std::path::PathBuf;

use baler_arrow::ingest::{Layout, ReadOptions};
use clap::{Args, Parser, Subcommand};

/// Machine-learning lossy compression for particle-physics jet data (ROOT and Parquet).
#[derive(Debug, Parser)]
#[command(name = "baler-arrow", version, about, propagate_version = true)]
pub struct Cli {
    /// Print no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert a ROOT or Parquet file to lossless Parquet, one row per jet.
    Convert(ConvertArgs),
    /// Show the trees, branches and types of a file, and what would be read.
    Inspect(InspectArgs),
}

/// Which rows to read from the input.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// The input file (.root or .parquet).
    pub input: PathBuf,

    /// The tree to read (default: the only tree in the file).
    #[arg(long)]
    pub tree: Option<String>,

    /// The collection to flatten to rows: counter `nNAME` and arrays `NAME_*` (default: `Jet`).
    #[arg(long, value_name = "NAME", conflicts_with = "flat")]
    pub collection: Option<String>,

    /// Read one row per entry of a flat tree or table.
    #[arg(long)]
    pub flat: bool,
}

impl From<&InputArgs> for ReadOptions {
    fn from(args: &InputArgs) -> Self {
        let layout = match (&args.collection, args.flat) {
            (Some(name), _) => Layout::Collection(name.clone()),
            (None, true) => Layout::Flat,
            (None, false) => Layout::Auto,
        };
        ReadOptions::default()
            .with_tree(args.tree.clone())
            .with_layout(layout)
    }
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Output Parquet file (default: the input with extension `.parquet`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    /// Overwrite the output if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// List every branch of every tree.
    #[arg(long)]
    pub branches: bool,
}
