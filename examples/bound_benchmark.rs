//! Error-bounded compression against float mantissa truncation + zstd, on generated jets.
//!
//! For each relative bound ε, every float value is guaranteed within ε·|x| and every integer is
//! exact, for every method: `predict` (learned cross-column prediction), `ae` (autoencoder +
//! residuals), `residual` (the model-free residual coder), and truncation + zstd (the fewest
//! mantissa bits with 2^-(bits+1) ≤ ε, rounded to nearest). Prints a Markdown table of file
//! sizes and R = raw bytes / file bytes, all measured in one run.
//!
//! ```text
//! cargo run --release --example bound_benchmark -- --jets 600000
//! ```

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use baler_arrow::compress;
use baler_arrow::ingest::{self, ReadOptions};
use baler_arrow::model::TrainConfig;
use baler_arrow::options::{CompressOptions, ErrorBounds, Method};
use baler_arrow::truncate::{TruncationChoice, bits_for_relative_bound, truncated_size};
use baler_udfs::quantise::Bound;
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Number of generated jets.
    #[arg(long, default_value_t = 600_000)]
    jets: u64,
    /// Relative bounds to measure.
    #[arg(long, value_delimiter = ',', default_value = "2e-2,1e-3,1e-4")]
    bounds: Vec<f64>,
    /// Training epochs of the autoencoder.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Methods to run.
    #[arg(long, value_delimiter = ',', default_value = "predict,ae,residual")]
    methods: Vec<Method>,
    /// Working folder (the generated input is kept there).
    #[arg(long, default_value = "bench-data")]
    dir: PathBuf,
}

fn main() -> Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.dir)?;
    let input = args.dir.join(format!("jets-{}.parquet", args.jets));
    if !input.exists() {
        baler_arrow::generate::write_parquet(&input, args.jets, 42, false)?;
    }
    let read = ReadOptions::default();
    let schema = ingest::open(&input, &read)?.schema();
    let raw: u64 = schema
        .fields()
        .iter()
        .map(|f| f.data_type().primitive_width().unwrap_or(8) as u64)
        .sum::<u64>()
        * args.jets;
    // Rewritten now, with this build's lossless writer (the input may be older).
    let lossless = truncated_size(&input, &read, &[])?;
    println!(
        "{} jets, raw {} B, lossless Parquet + zstd {} B (R {:.2})",
        args.jets,
        raw,
        lossless,
        raw as f64 / lossless as f64
    );
    println!();
    println!("| bound | method | bytes | R | R / truncation | seconds |");
    println!("|---|---|---:|---:|---:|---:|");
    for epsilon in &args.bounds {
        let choices: Vec<TruncationChoice> = schema
            .fields()
            .iter()
            .filter_map(|f| {
                Some(TruncationChoice {
                    column: f.name().clone(),
                    mantissa_bits: bits_for_relative_bound(f.data_type(), *epsilon)?,
                    relative_rms: 0.0,
                })
            })
            .collect();
        let start = Instant::now();
        let truncation = truncated_size(&input, &read, &choices)?;
        let mut rows = vec![(
            format!(
                "truncation + zstd ({} bits)",
                choices.first().map_or(0, |c| c.mantissa_bits)
            ),
            truncation,
            start.elapsed().as_secs_f64(),
        )];
        rows.push(("lossless Parquet + zstd".into(), lossless, 0.0));
        for &method in &args.methods {
            let name = method.name();
            let output = args
                .dir
                .join(format!("bound-{epsilon}-{name}.baler.parquet"));
            let options = CompressOptions {
                bounds: Some(ErrorBounds::all(Bound::Relative { epsilon: *epsilon })),
                method: Some(method),
                train: TrainConfig {
                    epochs: args.epochs,
                    ..TrainConfig::default()
                },
                force: true,
                ..CompressOptions::default()
            };
            let start = Instant::now();
            let report = compress::compress(&input, &output, &read, &options)
                .with_context(|| format!("{name} at {epsilon}"))?;
            let label = if method == Method::Ae {
                format!("ae (k={}, {})", report.latent, report.latent_type)
            } else {
                name.to_owned()
            };
            rows.push((
                label,
                report.sizes.output_bytes,
                start.elapsed().as_secs_f64(),
            ));
        }
        for (label, bytes, seconds) in rows {
            println!(
                "| {epsilon:e} | {label} | {bytes} | {:.2} | {:.2} | {seconds:.1} |",
                raw as f64 / bytes as f64,
                truncation as f64 / bytes as f64
            );
        }
    }
    Ok(())
}
