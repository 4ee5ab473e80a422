//! Command-line arguments. The doc comments are the `--help` text.

use std::path::PathBuf;

use baler_arrow::dataset::Selection;
use baler_arrow::ingest::{Layout, ReadOptions};
use baler_arrow::model::{
    DeviceChoice, TrainConfig,
    train::{DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE, DEFAULT_SEED},
};
use baler_arrow::options::{CompressOptions, ErrorBounds, LatentSize, LatentStorage, Method};
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
    /// Fit a model to the input and write it compressed, model included, in one Parquet file:
    /// `ae` (autoencoder: latents + decoder), `predict` (learned cross-column prediction) or
    /// `residual` (model-free); under `--error-bound` every value is guaranteed within its bound.
    Compress(CompressArgs),
    /// Fit a reusable model (any method) on the input, to compress other files with `compress --model`.
    Train(TrainArgs),
    /// Rebuild the original columns of a compressed file (any method) into lossless Parquet.
    Decompress(DecompressArgs),
    /// Run SQL over Parquet files, compressed ones decoded on the fly.
    Sql(SqlArgs),
    /// Judge a compressed file: metrics, and its method against the other methods, lossless
    /// Parquet and mantissa truncation (+ zstd, + pcodec).
    Evaluate(EvaluateArgs),
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// The compressed file made from the input.
    pub compressed: PathBuf,

    /// Write plots (PNG, SVG) and an index.html here.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,

    /// For a file written under error bounds: the other methods to compress the input with,
    /// under the same bounds, to compare (`none` for none).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "predict,ae,residual",
        value_name = "METHODS"
    )]
    pub compare: Vec<CompareArg>,

    /// Training epochs of the compared autoencoder.
    #[arg(long, default_value_t = baler_arrow::model::train::DEFAULT_EPOCHS as u32,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub epochs: u32,

    /// Print the evaluation as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--compare` values: a method, or `none`.
#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum)]
pub enum CompareArg {
    Ae,
    Predict,
    Residual,
    None,
}

impl CompareArg {
    /// The methods a list of `--compare` values names.
    pub fn methods(values: &[Self]) -> Vec<Method> {
        values
            .iter()
            .filter_map(|v| match v {
                Self::Ae => Some(MethodArg::Ae.into()),
                Self::Predict => Some(MethodArg::Predict.into()),
                Self::Residual => Some(MethodArg::Residual.into()),
                Self::None => None,
            })
            .collect()
    }
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
    /// `all`, or a list such as `Jet,Muon,events`, reads a dataset: a folder with one file per
    /// collection and `events.parquet` for the event-level branches.
    #[arg(long, value_name = "NAME", conflicts_with = "flat")]
    pub collection: Option<String>,

    /// Read one row per entry of a flat tree or table.
    #[arg(long)]
    pub flat: bool,
}

impl InputArgs {
    /// The tables of a dataset, when `--collection` names `all` or several.
    pub fn selection(&self) -> Option<Selection> {
        self.collection.as_deref().and_then(Selection::parse)
    }
}

/// How a dataset is laid out on output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LayoutArg {
    /// A folder: one file per collection (a row per element, with `event`) and `events.parquet`.
    #[default]
    Tables,
    /// One NanoAOD-style file: a row per event, counters `nX` and list columns `X_field`.
    Events,
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

    /// Output Parquet file (default: the input with extension `.parquet`; for a dataset, the
    /// folder `.dataset`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    /// For a whole tree: a folder of tables, or one file in the per-event NanoAOD layout
    /// (`events` reads every collection unless `--collection` lists them).
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,

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

/// How the model is shaped and trained.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Guaranteed error bounds, e.g. `pt=1e-2rel,eta=1e-3abs` or `all=1e-3rel`: every decoded
    /// value then lies within its bound (`rel`: |x_rec − x| ≤ ε·|x|; `abs`: ≤ ε; `exact`).
    /// Integer columns are always exact. Repeatable. Default: every float within 2^-11 of its
    /// value (NanoAOD's 10 mantissa bits); `none`: no guarantee (the autoencoder as it is).
    #[arg(long, value_name = "COLUMN=BOUND,…", value_parser = parse_bounds)]
    pub error_bound: Vec<String>,

    /// Compression method: `predict` (learned cross-column prediction), `residual` (the
    /// model-free coder) or `ae` (the Baler autoencoder; without `--error-bound`, unbounded).
    /// Default: `predict` or `residual`, whichever encodes a sample smaller; `ae` when a latent
    /// option (`--latent`, `--ratio`, `--latent-type`, `--latent-bits`) is given.
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,

    /// Type of the latent columns; default Float32, or under `--error-bound` whichever is
    /// smaller on a sample (Float16, or Float32 rounded to 0, 2, 4, 7, 10 or 23 mantissa bits).
    #[arg(long, value_enum)]
    pub latent_type: Option<LatentTypeArg>,

    /// Round Float32 latents to this many mantissa bits (0 to 23); error bounds still hold,
    /// the residuals correct the rest.
    #[arg(long, value_name = "BITS", value_parser = clap::value_parser!(u32).range(0..=23))]
    pub latent_bits: Option<u32>,

    /// Latent numbers per row.
    #[arg(long, conflicts_with = "ratio", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub latent: Option<u32>,

    /// Target ratio of compressed columns to latents: latent = ceil(columns / R) [default: 3;
    /// under `--error-bound`, the latent size is chosen on a sample].
    #[arg(long)]
    pub ratio: Option<f64>,

    /// Hidden layer widths of the encoder (the decoder mirrors them).
    #[arg(long, value_delimiter = ',', default_value = "200,100,50",
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub hidden: Vec<u32>,

    /// Training epochs (early stopping may end sooner).
    #[arg(long, default_value_t = DEFAULT_EPOCHS as u32, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub epochs: u32,

    /// Rows per training batch.
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE as u32, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub batch_size: u32,

    /// Adam learning rate.
    #[arg(long, default_value_t = DEFAULT_LEARNING_RATE, value_parser = parse_learning_rate)]
    pub lr: f64,

    /// Seed for weights and shuffling (training on the CPU is deterministic).
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,

    /// Rate-aware training: perturb the latents by up to 2^-(BITS+1) of their value, as storing
    /// them with BITS mantissa bits would (off by default: on generated jets it did not make
    /// the files smaller).
    #[arg(long, value_name = "BITS", value_parser = clap::value_parser!(u32).range(0..=23))]
    pub latent_noise_bits: Option<u32>,

    /// Columns to store losslessly as they are (besides `event`), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub keep: Vec<String>,

    /// Where to train and encode: `cuda` needs a build with `--features cuda` and a GPU; `auto`
    /// takes the GPU when there is one.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
}

/// `--method` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum MethodArg {
    Ae,
    Predict,
    Residual,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Self {
        match m {
            MethodArg::Ae => Self::Ae,
            MethodArg::Predict => Self::Predict,
            MethodArg::Residual => Self::Residual,
        }
    }
}

/// `--latent-type` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LatentTypeArg {
    Float16,
    Float32,
}

/// `--device` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DeviceArg {
    Cpu,
    Cuda,
    Auto,
}

impl From<DeviceArg> for DeviceChoice {
    fn from(d: DeviceArg) -> Self {
        match d {
            DeviceArg::Cpu => Self::Cpu,
            DeviceArg::Cuda => Self::Cuda,
            DeviceArg::Auto => Self::Auto,
        }
    }
}

impl TryFrom<&ModelArgs> for CompressOptions {
    type Error = anyhow::Error;

    /// The options of `compress` and `train`: the method (an explicit `--method`, `ae` when a
    /// latent option is given, else chosen on a sample) and the bounds (`--error-bound`, none
    /// for the autoencoder without one, else the default guarantee).
    fn try_from(a: &ModelArgs) -> anyhow::Result<Self> {
        let latent = match (a.latent, a.ratio) {
            (Some(k), _) => Some(LatentSize::Fixed(k as usize)),
            (None, Some(r)) => Some(LatentSize::Ratio(r)),
            (None, None) => None,
        };
        let latent_storage = match (a.latent_type, a.latent_bits) {
            (Some(LatentTypeArg::Float16), Some(_)) => anyhow::bail!(
                "`--latent-bits` rounds Float32 latents; it cannot go with `--latent-type float16`"
            ),
            (Some(LatentTypeArg::Float16), None) => Some(LatentStorage::Float16),
            (_, Some(mantissa_bits)) => Some(LatentStorage::Float32 { mantissa_bits }),
            (Some(LatentTypeArg::Float32), None) => Some(LatentStorage::FULL),
            (None, None) => None,
        };
        let ae_options = latent.is_some() || latent_storage.is_some();
        let method = a
            .method
            .map(Method::from)
            .or(ae_options.then_some(Method::Ae));
        let bounds = ErrorBounds::for_options(&a.error_bound, method)?;
        Ok(CompressOptions {
            latent,
            method,
            bounds,
            latent_storage,
            hidden: a.hidden.iter().map(|&w| w as usize).collect(),
            train: TrainConfig {
                epochs: a.epochs as usize,
                batch_size: a.batch_size as usize,
                learning_rate: a.lr,
                seed: a.seed,
                latent_noise_bits: a.latent_noise_bits,
                ..TrainConfig::default()
            },
            keep: a.keep.clone(),
            device: a.device.into(),
            ..CompressOptions::default()
        })
    }
}

#[derive(Debug, Args)]
pub struct CompressArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Output file (default: the input with extension `.baler.parquet`; for a dataset, the
    /// folder `.baler`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub model_args: ModelArgs,

    /// Use this model (from `baler-arrow train`) instead of fitting one; it carries its own
    /// method and bounds.
    #[arg(long, value_name = "MODEL.safetensors")]
    pub model: Option<PathBuf>,

    /// With `--model`: reference the model by its id instead of embedding it (many small files
    /// share one model file, kept beside them; it is copied into the output's folder if it is
    /// not there).
    #[arg(long, requires = "model")]
    pub reference_model: bool,

    /// Write the compressed file even when lossless Parquet would be smaller (by default the
    /// smaller of the two is written, and the report says which).
    #[arg(long)]
    pub no_fallback: bool,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,

    /// Overwrite the output if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Where to write the model (safetensors).
    #[arg(short, long)]
    pub output: PathBuf,

    #[command(flatten)]
    pub model_args: ModelArgs,

    /// Overwrite the output if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DecompressArgs {
    /// The compressed Parquet file, or a dataset folder (`compress --collection all`).
    pub input: PathBuf,

    /// Output Parquet file (for a dataset: a folder, or one file with `--layout events`).
    #[arg(short, long)]
    pub output: PathBuf,

    /// For a dataset: a folder of lossless tables, or one file in the per-event NanoAOD layout.
    #[arg(long, value_enum, default_value = "tables")]
    pub layout: LayoutArg,

    /// Check every decoded value against this original (ROOT or Parquet, read as when it was
    /// compressed, with `--tree`/`--collection`/`--flat` below): within its bound, exact
    /// columns bit for bit.
    #[arg(long, value_name = "ORIGINAL")]
    pub verify: Option<PathBuf>,

    /// The tree of the original (default: the only tree in the file).
    #[arg(long, requires = "verify")]
    pub tree: Option<String>,

    /// The collection of the original (default: `Jet`).
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "flat",
        requires = "verify"
    )]
    pub collection: Option<String>,

    /// The original is a flat tree or table.
    #[arg(long, requires = "verify")]
    pub flat: bool,

    /// Overwrite the output if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `--lr` values: positive and finite.
fn parse_learning_rate(s: &str) -> Result<f64, String> {
    let lr: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if lr.is_finite() && lr > 0.0 && lr <= 10.0 {
        Ok(lr)
    } else {
        Err(format!(
            "the learning rate must be above 0 and at most 10, not {s}"
        ))
    }
}

/// `--error-bound` values: bounds, or `none`.
fn parse_bounds(s: &str) -> Result<String, String> {
    if s.trim() != "none" {
        s.parse::<ErrorBounds>()?;
    }
    Ok(s.to_owned())
}

/// A table for `sql`: `name=path`.
#[derive(Debug, Clone)]
pub struct TableArg {
    pub name: String,
    pub path: PathBuf,
}

fn parse_table(s: &str) -> Result<TableArg, String> {
    match s.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok(TableArg {
            name: name.to_owned(),
            path: PathBuf::from(path),
        }),
        _ => Err(format!("expected NAME=PATH, got `{s}`")),
    }
}

/// Output formats of `sql`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SqlFormat {
    Table,
    Csv,
    Json,
}

impl From<SqlFormat> for baler_arrow::sql::OutputFormat {
    fn from(f: SqlFormat) -> Self {
        match f {
            SqlFormat::Table => Self::Table,
            SqlFormat::Csv => Self::Csv,
            SqlFormat::Json => Self::Json,
        }
    }
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query, e.g. "SELECT avg(pt) FROM jets WHERE eta > 2".
    pub query: String,

    /// A table: NAME=PATH to a Parquet file or folder (compressed or plain); repeat for more.
    #[arg(long = "table", value_name = "NAME=PATH", value_parser = parse_table,
          required_unless_present = "dataset")]
    pub tables: Vec<TableArg>,

    /// A dataset folder (`compress --collection all`): every table in it, by its name (`Jet`,
    /// `Muon`, …, `events`).
    #[arg(long, value_name = "DIR")]
    pub dataset: Option<PathBuf>,

    /// How to print the result.
    #[arg(long, value_enum, default_value = "table")]
    pub format: SqlFormat,

    /// Write the result to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
}
