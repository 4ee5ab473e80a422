//! Error-bounded compression against the classic codecs, on generated jets or a real file.
//!
//! For each relative bound ε, every float value is guaranteed within ε·|x| and every integer is
//! exact, for every method measured in one run:
//! - baler-arrow's methods (`predict`, `residual`, optionally `ae`), each file decoded and
//!   checked value by value against the original;
//! - truncation: float mantissas rounded to the fewest bits with 2^-(bits+1) ≤ ε, then
//!   Parquet + zstd (the CMS NanoAOD scheme) or pcodec on each column;
//! - SZ3 on log|x| (`benches/sz3_baseline.py`, which checks its own output);
//! - lossless Parquet + zstd;
//! - per column, the order-0 entropy of the grid cells (the floor of a coder that codes each
//!   column on its own), printed against what `predict` spends on it.
//!
//! ```text
//! cargo run --release --example bound_benchmark -- --jets 600000
//! cargo run --release --example bound_benchmark -- --input tests/data/cms_nanoaod_2015_ttbar.root
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow::record_batch::RecordBatch;
use baler_arrow::compress::{self, CompressReport};
use baler_arrow::ingest::{self, ReadOptions, f64_values};
use baler_arrow::model::TrainConfig;
use baler_arrow::options::{CompressOptions, ErrorBounds, Method};
use baler_arrow::truncate::{relative_truncation, truncated_pcodec_size, truncated_size};
use baler_udfs::codec::StreamKind;
use baler_udfs::quantise::{Bound, Quantiser};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// A real input (ROOT or Parquet); without it, generated jets.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Number of generated jets.
    #[arg(long, default_value_t = 600_000)]
    jets: u64,
    /// Relative bounds to measure.
    #[arg(long, value_delimiter = ',', default_value = "2e-2,1e-3,1e-4")]
    bounds: Vec<f64>,
    /// Training epochs of the autoencoder.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// baler-arrow methods to run.
    #[arg(long, value_delimiter = ',', default_value = "predict,residual")]
    methods: Vec<Method>,
    /// Skip SZ3 (which needs python3 with pysz and pcodec).
    #[arg(long)]
    no_sz3: bool,
    /// Print, per column, predict's bits per row against the order-0 floor.
    #[arg(long)]
    columns: bool,
    /// Working folder (the generated input is kept there).
    #[arg(long, default_value = "bench-data")]
    dir: PathBuf,
}

/// One line of the table.
struct Row {
    method: String,
    bytes: u64,
    checked: String,
    seconds: f64,
}

fn main() -> Result<()> {
    // SAFETY: first thing in `main`, while the process has one thread.
    unsafe { baler_arrow::pin_thread_count() };
    let args = Args::parse();
    std::fs::create_dir_all(&args.dir)?;
    let read = ReadOptions::default();
    let input = match &args.input {
        Some(p) => p.clone(),
        None => {
            let p = args.dir.join(format!("jets-{}.parquet", args.jets));
            if !p.exists() {
                baler_arrow::generate::write_parquet(&p, args.jets, 42, false)?;
            }
            p
        }
    };
    let table = ingest::read_table(&input, &read)?;
    let rows = table.num_rows() as u64;
    let raw: u64 = table
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().primitive_width().unwrap_or(8) as u64)
        .sum::<u64>()
        * rows;
    // Plain Parquet of the same rows, for SZ3 (which reads Parquet) and the lossless baseline.
    let plain = args.dir.join("bench-input.parquet");
    let convert = baler_arrow::convert::ConvertOptions::default().with_force(true);
    baler_arrow::convert::convert(&input, &plain, &read, &convert)?;
    let lossless = truncated_size(&input, &read, &[])?;
    println!(
        "`{}`: {rows} rows x {} columns, raw {raw} B, lossless Parquet + zstd {lossless} B",
        input.display(),
        table.num_columns()
    );
    println!();
    println!("| bound | method | bytes | R | R / best classic | checked | seconds |");
    println!("|---|---|---:|---:|---:|---|---:|");
    for &epsilon in &args.bounds {
        let bound = Bound::Relative { epsilon };
        let choices = relative_truncation(&table.schema(), epsilon);
        let bits = choices.first().map_or(0, |c| c.mantissa_bits);
        let mut table_rows = Vec::new();
        let timed = |f: &dyn Fn() -> Result<u64>| -> Result<(u64, f64)> {
            let start = Instant::now();
            Ok((f()?, start.elapsed().as_secs_f64()))
        };
        let (zstd, s) = timed(&|| Ok(truncated_size(&input, &read, &choices)?))?;
        table_rows.push(Row::new(
            format!("truncation ({bits} bits) + Parquet zstd"),
            zstd,
            "by construction",
            s,
        ));
        let (pco, s) = timed(&|| Ok(truncated_pcodec_size(&input, &read, &choices)?))?;
        table_rows.push(Row::new(
            format!("truncation ({bits} bits) + pcodec"),
            pco,
            "by construction",
            s,
        ));
        let mut best_classic = pco;
        if !args.no_sz3 {
            let (sz3, s) = timed(&|| sz3_bytes(&plain, epsilon))?;
            table_rows.push(Row::new(
                "SZ3 on log|x| (interp + Lorenzo)".into(),
                sz3,
                "every value",
                s,
            ));
            best_classic = best_classic.min(sz3);
        }
        table_rows.push(Row::new(
            "lossless Parquet + zstd".into(),
            lossless,
            "lossless",
            0.0,
        ));
        let mut predict_report = None;
        for &method in &args.methods {
            let output = args
                .dir
                .join(format!("bound-{epsilon}-{}.baler.parquet", method.name()));
            let options = CompressOptions {
                bounds: Some(ErrorBounds::all(bound)),
                method: Some(method),
                train: TrainConfig {
                    epochs: args.epochs,
                    ..TrainConfig::default()
                },
                force: true,
                // The method's own file, even where lossless Parquet would be smaller.
                fallback_lossless: false,
                ..CompressOptions::default()
            };
            let start = Instant::now();
            let report = compress::compress(&input, &output, &read, &options)
                .with_context(|| format!("{} at {epsilon}", method.name()))?;
            let seconds = start.elapsed().as_secs_f64();
            let checked = baler_arrow::verify::verify(&input, &output, &read)
                .with_context(|| format!("checking {}", output.display()))?;
            let label = if method == Method::Ae {
                format!(
                    "baler-arrow ae (k={}, {})",
                    report.latent, report.latent_type
                )
            } else {
                format!("baler-arrow {}", method.name())
            };
            table_rows.push(Row::new(
                label,
                report.sizes.output_bytes,
                &format!("{} values", checked.checked),
                seconds,
            ));
            if method == Method::Predict {
                predict_report = Some(report);
            }
        }
        let floor = floors(&table, bound)?;
        let floor_total: f64 = floor.values().sum();
        table_rows.push(Row::new(
            "order-0 floor of a per-column coder (model columns)".into(),
            floor_total as u64,
            "",
            0.0,
        ));
        for r in &table_rows {
            println!(
                "| {epsilon:e} | {} | {} | {:.2} | {:.2} | {} | {:.1} |",
                r.method,
                r.bytes,
                raw as f64 / r.bytes as f64,
                best_classic as f64 / r.bytes as f64,
                r.checked,
                r.seconds
            );
        }
        if args.columns
            && let Some(report) = &predict_report
        {
            print_columns(report, &floor, rows);
        }
    }
    Ok(())
}

impl Row {
    fn new(method: String, bytes: u64, checked: &str, seconds: f64) -> Self {
        Self {
            method,
            bytes,
            checked: checked.to_owned(),
            seconds,
        }
    }
}

/// SZ3's bytes from `benches/sz3_baseline.py`, which fails unless every value is in bound.
fn sz3_bytes(plain: &Path, epsilon: f64) -> Result<u64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/sz3_baseline.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(plain)
        .args(["--bound", &epsilon.to_string()])
        .output()
        .context("python3 with pysz and pcodec runs the SZ3 baseline (or pass --no-sz3)")?;
    if !out.status.success() {
        bail!(
            "SZ3 baseline failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    if report["broken"] != 0 {
        bail!("SZ3 broke the bound: {report}");
    }
    report["bytes"].as_u64().context("SZ3 report without bytes")
}

/// Per column but the event index: the order-0 entropy, in bytes, of its grid cells under
/// `bound` (floats) or of its values (integers, exact).
fn floors(table: &RecordBatch, bound: Bound) -> Result<HashMap<String, f64>> {
    let mut out = HashMap::new();
    for (f, c) in table.schema().fields().iter().zip(table.columns()) {
        if f.name() == ingest::EVENT_COLUMN {
            continue;
        }
        let q = Quantiser::new(f.name(), bound, f.data_type())?;
        let mut counts: HashMap<i64, u64> = HashMap::new();
        for x in f64_values(c)? {
            *counts.entry(q.index_of_value(x)).or_default() += 1;
        }
        let n = c.len() as f64;
        let bits: f64 = counts
            .values()
            .map(|&m| -(m as f64) * (m as f64 / n).log2())
            .sum();
        out.insert(f.name().clone(), bits / 8.0);
    }
    Ok(out)
}

/// Predict's bits per row for each column against the floor.
fn print_columns(report: &CompressReport, floor: &HashMap<String, f64>, rows: u64) {
    println!();
    println!("| column | predict bits/row | order-0 floor bits/row |");
    println!("|---|---:|---:|");
    let per_row = |bytes: f64| 8.0 * bytes / rows.max(1) as f64;
    // A split column has several streams: its cost is theirs together.
    let mut columns: Vec<(String, u64)> = Vec::new();
    for s in report
        .streams
        .iter()
        .filter(|s| s.kind == StreamKind::Residual)
    {
        match columns.iter_mut().find(|(c, _)| *c == s.column) {
            Some((_, bytes)) => *bytes += s.bytes as u64,
            None => columns.push((s.column.clone(), s.bytes as u64)),
        }
    }
    for (column, bytes) in columns {
        println!(
            "| {column} | {:.2} | {:.2} |",
            per_row(bytes as f64),
            per_row(floor.get(&column).copied().unwrap_or(0.0))
        );
    }
    println!();
}
