//! Speed of compress, decompress and SQL against the classic codecs, measured in one run on
//! generated jets, printed as Markdown tables (README's speed section).
//!
//! - compress and decompress, in MB/s of raw data (the table's values at their own widths):
//!   baler-arrow end to end (file to file, fitting included) against a lossless `convert` of
//!   the same rows, mantissa truncation + pcodec per column (in memory) and SZ3 on log|x|
//!   (`benches/sz3_baseline.py`, needs python3 with pysz and pcodec; `--no-sz3` skips it);
//! - SQL: a filtered aggregate and a scan of every column, on the compressed file against the
//!   decompressed plain Parquet, in one DataFusion session each (median of `--repeat` runs);
//! - peak memory (VmHWM) of compress and decompress, each in a child process, at each of
//!   `--rss-jets`.
//!
//! ```text
//! cargo run --release --example speed_benchmark -- --jets 600000 --rss-jets 600000,6000000
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use baler_arrow::ingest::ReadOptions;
use baler_arrow::options::{CompressOptions, ErrorBounds};
use baler_arrow::progress::NoProgress;
use baler_arrow::truncate::{
    pcodec_compress, pcodec_value_count, relative_truncation, truncated_batch,
};
use baler_arrow::{compress, convert, decode, sql};
use baler_udfs::quantise::Bound;
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Generated jets for the speed tables.
    #[arg(long, default_value_t = 600_000)]
    jets: u64,
    /// Relative bound of every float column.
    #[arg(long, default_value_t = 2e-2)]
    bound: f64,
    /// Runs of each SQL query (the median is printed).
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Jet counts at which to measure peak memory (none: skip).
    #[arg(long, value_delimiter = ',')]
    rss_jets: Vec<u64>,
    /// Skip SZ3.
    #[arg(long)]
    no_sz3: bool,
    /// Where inputs and outputs go.
    #[arg(long, default_value = "bench-data/speed")]
    dir: PathBuf,
    /// Internal: run one phase (`compress`, `decompress`, or `decode` for profiling) on
    /// `--input`/`--output` and print this process's peak memory.
    #[arg(long, hide = true)]
    phase: Option<String>,
    #[arg(long, hide = true)]
    input: Option<PathBuf>,
    #[arg(long, hide = true)]
    output: Option<PathBuf>,
}

fn main() -> Result<()> {
    // SAFETY: first thing in `main`, while the process has one thread.
    unsafe { baler_arrow::pin_thread_count() };
    let args = Args::parse();
    if let Some(phase) = &args.phase {
        return run_phase(phase, &args);
    }
    std::fs::create_dir_all(&args.dir)?;
    let input = generated(&args.dir, args.jets)?;
    let read = ReadOptions::default();
    let table = baler_arrow::ingest::read_table(&input, &read)?;
    let raw = raw_bytes(&table);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mb = |seconds: f64| raw as f64 / 1e6 / seconds;
    println!(
        "{} generated jets, {} columns, raw {raw} B; every float within {}·|x|, integers exact; {} cores",
        args.jets,
        table.num_columns(),
        args.bound,
        cores
    );
    println!();

    let plain = args.dir.join("plain.parquet");
    let convert_options = convert::ConvertOptions::default().with_force(true);
    let (_, convert_s) = timed(|| Ok(convert::convert(&input, &plain, &read, &convert_options)?))?;
    let compressed = args.dir.join("jets.baler.parquet");
    let options = options(args.bound);
    let (report, compress_s) =
        timed(|| Ok(compress::compress(&input, &compressed, &read, &options)?))?;
    let restored = args.dir.join("restored.parquet");
    let (_, decompress_s) = timed(|| {
        Ok(decode::decompress(
            &compressed,
            &restored,
            true,
            &NoProgress,
        )?)
    })?;
    // Decoding alone, to Arrow in memory as the baselines do: on every core, and on one (the
    // baselines' decoders run on one).
    let (_, decode_s) = timed(|| decode_all(&compressed))?;
    baler_arrow::set_thread_count(1);
    let (_, decode_one_s) = timed(|| decode_all(&compressed))?;
    baler_arrow::set_thread_count(0);
    let (pco_bytes, pco_compress_s, pco_decompress_s) = truncation_pcodec(&table, args.bound)?;

    println!("| codec | bytes | compress s | compress MB/s | decompress s | decompress MB/s |");
    println!("|---|---:|---:|---:|---:|---:|");
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    println!(
        "| baler-arrow `{}` (file to file, fitting included) | {} | {compress_s:.2} | {:.0} | {decompress_s:.2} | {:.0} |",
        report.method,
        size(&compressed),
        mb(compress_s),
        mb(decompress_s)
    );
    println!(
        "| baler-arrow decode only (file to Arrow in memory, {cores} threads) | | | | {decode_s:.2} | {:.0} |",
        mb(decode_s)
    );
    println!(
        "| baler-arrow decode only (file to Arrow in memory, 1 thread) | | | | {decode_one_s:.2} | {:.0} |",
        mb(decode_one_s)
    );
    println!(
        "| lossless `convert` (Parquet + zstd, file to file) | {} | {convert_s:.2} | {:.0} | | |",
        size(&plain),
        mb(convert_s)
    );
    println!(
        "| truncation + pcodec (in memory) | {pco_bytes} | {pco_compress_s:.2} | {:.0} | {pco_decompress_s:.2} | {:.0} |",
        mb(pco_compress_s),
        mb(pco_decompress_s)
    );
    let sz3_decompress_s = if args.no_sz3 {
        None
    } else {
        let (bytes, c, d) = sz3(&plain, args.bound)?;
        println!(
            "| SZ3 on log\\|x\\| (float columns only, in memory) | {bytes} | {c:.2} | {:.0} | {d:.2} | {:.0} |",
            mb(c),
            mb(d)
        );
        Some(d)
    };
    println!();
    println!(
        "compress / convert: {:.2}x the time; decode on one thread: {:.2}x truncation + pcodec's time{}",
        compress_s / convert_s,
        decode_one_s / pco_decompress_s,
        sz3_decompress_s.map_or(String::new(), |d| format!(
            ", {:.2}x SZ3's (on float columns only)",
            decode_one_s / d
        ))
    );
    println!();

    let runtime = tokio::runtime::Runtime::new()?;
    let columns: Vec<String> = table
        .schema()
        .fields()
        .iter()
        .map(|f| format!("sum(CAST({} AS DOUBLE))", f.name()))
        .collect();
    let queries = [
        (
            "filtered aggregate",
            "SELECT avg(pt) FROM jets WHERE eta > 2".to_owned(),
        ),
        (
            "scan of every column",
            format!("SELECT {} FROM jets", columns.join(", ")),
        ),
    ];
    println!("| query | compressed ms | plain Parquet ms | ratio |");
    println!("|---|---:|---:|---:|");
    for (what, query) in &queries {
        let on = |path: &Path| -> Result<f64> {
            runtime.block_on(async {
                let ctx = sql::session();
                sql::register(&ctx, "jets", path).await?;
                let mut times = Vec::new();
                for _ in 0..args.repeat.max(1) {
                    let start = Instant::now();
                    sql::run(&ctx, query).await?;
                    times.push(start.elapsed().as_secs_f64());
                }
                times.sort_by(f64::total_cmp);
                Ok(times[times.len() / 2])
            })
        };
        let (c, p) = (on(&compressed)?, on(&restored)?);
        println!(
            "| {what} | {:.1} | {:.1} | {:.2} |",
            c * 1e3,
            p * 1e3,
            c / p
        );
    }

    if !args.rss_jets.is_empty() {
        println!();
        println!("| jets | compress peak MB | decompress peak MB |");
        println!("|---:|---:|---:|");
        for &jets in &args.rss_jets {
            let input = generated(&args.dir, jets)?;
            let out = args.dir.join(format!("rss-{jets}.baler.parquet"));
            let back = args.dir.join(format!("rss-{jets}.restored.parquet"));
            let c = child_peak(&args, "compress", &input, &out)?;
            let d = child_peak(&args, "decompress", &out, &back)?;
            println!("| {jets} | {:.0} | {:.0} |", c / 1e6, d / 1e6);
        }
    }
    Ok(())
}

fn options(bound: f64) -> CompressOptions {
    CompressOptions {
        bounds: Some(ErrorBounds::all(Bound::Relative { epsilon: bound })),
        fallback_lossless: false,
        force: true,
        ..CompressOptions::default()
    }
}

fn generated(dir: &Path, jets: u64) -> Result<PathBuf> {
    let path = dir.join(format!("jets-{jets}.parquet"));
    if !path.exists() {
        baler_arrow::generate::write_parquet(&path, jets, 42, false)?;
    }
    Ok(path)
}

fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, f64)> {
    let start = Instant::now();
    let out = f()?;
    Ok((out, start.elapsed().as_secs_f64()))
}

fn raw_bytes(table: &RecordBatch) -> u64 {
    table
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().primitive_width().unwrap_or(1) as u64)
        .sum::<u64>()
        * table.num_rows() as u64
}

/// Bytes and seconds of truncating every float column to the bound's mantissa bits and coding
/// each column with pcodec (as `evaluate` and `bound_benchmark` count it), then decoding them
/// all.
fn truncation_pcodec(table: &RecordBatch, epsilon: f64) -> Result<(u64, f64, f64)> {
    let choices = relative_truncation(&table.schema(), epsilon);
    let start = Instant::now();
    let truncated = truncated_batch(table, &choices)?;
    let coded = truncated
        .columns()
        .iter()
        .map(|c| {
            Ok((
                c.data_type().clone(),
                pcodec_compress(c).map_err(anyhow::Error::msg)?,
            ))
        })
        .collect::<Result<Vec<(DataType, Vec<u8>)>>>()?;
    let compress_s = start.elapsed().as_secs_f64();
    let bytes = coded.iter().map(|(_, b)| b.len() as u64).sum();
    let start = Instant::now();
    let mut values = 0usize;
    for (dt, b) in &coded {
        values += pcodec_value_count(dt, b).map_err(anyhow::Error::msg)?;
    }
    let decompress_s = start.elapsed().as_secs_f64();
    if values != table.num_rows() * table.num_columns() {
        bail!("pcodec decoded {values} values");
    }
    Ok((bytes, compress_s, decompress_s))
}

/// SZ3's bytes and its compress and decompress seconds on `plain`'s float columns.
fn sz3(plain: &Path, epsilon: f64) -> Result<(u64, f64, f64)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/sz3_baseline.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(plain)
        .arg("--bound")
        .arg(epsilon.to_string())
        .output()
        .context("python3 with pysz and pcodec runs the SZ3 baseline (or pass --no-sz3)")?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let number = |k: &str| json[k].as_f64().unwrap_or(0.0);
    Ok((
        number("bytes") as u64,
        number("compress_seconds"),
        number("decompress_seconds"),
    ))
}

/// Decodes every block of a compressed file to Arrow, keeping nothing; the rows decoded.
fn decode_all(path: &Path) -> Result<usize> {
    let mut rows = 0;
    for batch in decode::Decoded::open(path)? {
        rows += batch?.num_rows();
    }
    Ok(rows)
}

/// Runs `phase` in a child process of this example and returns its peak memory in bytes.
fn child_peak(args: &Args, phase: &str, input: &Path, output: &Path) -> Result<f64> {
    let out = Command::new(std::env::current_exe()?)
        .args(["--phase", phase, "--bound", &args.bound.to_string()])
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .output()?;
    if !out.status.success() {
        bail!("{phase}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse::<f64>()
        .with_context(|| format!("{phase} printed `{text}`"))
}

fn run_phase(phase: &str, args: &Args) -> Result<()> {
    let (Some(input), Some(output)) = (&args.input, &args.output) else {
        bail!("--phase needs --input and --output");
    };
    match phase {
        "compress" => {
            compress::compress(input, output, &ReadOptions::default(), &options(args.bound))?;
        }
        "decompress" => {
            decode::decompress(input, output, true, &NoProgress)?;
        }
        // For profiling: decoding alone, five times, each pass's seconds on stderr.
        "decode" => {
            for _ in 0..5 {
                let (_, seconds) = timed(|| decode_all(input))?;
                eprintln!("decode: {seconds:.3} s");
            }
        }
        other => bail!("unknown phase `{other}`"),
    }
    // VmHWM: the peak resident set of this process, in kB.
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/self/status")?;
    println!("{}", kb * 1e3);
    Ok(())
}
