//! An analysis on compressed jets: compress generated jets, register the file, and run the
//! queries a physicist would — a pT histogram, an eta cut, HT per event, a join on `event` —
//! next to the same queries on the original data.
//!
//! ```sh
//! cargo run --release --example sql_analysis -- --jets 200000 --epochs 20
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use baler_arrow::compress;
use baler_arrow::generate::{DEFAULT_SEED, write_parquet};
use baler_arrow::ingest::ReadOptions;
use baler_arrow::model::TrainConfig;
use baler_arrow::options::CompressOptions;
use baler_arrow::sql::{self, OutputFormat};
use clap::Parser;

/// Compress generated jets and query them with SQL.
#[derive(Parser)]
struct Args {
    /// Number of jets.
    #[arg(long, default_value_t = 100_000)]
    jets: u64,
    /// Training epochs.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Folder for the files (default: a temporary folder).
    #[arg(long)]
    dir: Option<PathBuf>,
}

const QUERIES: [(&str, &str); 4] = [
    (
        "pT histogram, 20 GeV bins",
        "SELECT floor(pt / 20) * 20 AS pt_low, count(*) AS jets FROM jets GROUP BY pt_low ORDER BY pt_low LIMIT 8",
    ),
    (
        "forward jets (eta > 2)",
        "SELECT count(*) AS jets, avg(pt) AS mean_pt, avg(mass) AS mean_mass FROM jets WHERE eta > 2",
    ),
    (
        "HT per event, leading events",
        "SELECT event, sum(pt) AS ht, count(*) AS jets FROM jets GROUP BY event ORDER BY ht DESC LIMIT 5",
    ),
    (
        "join with a plain per-event table",
        "SELECT e.trigger, count(*) AS jets, avg(j.pt) AS mean_pt FROM jets j JOIN events e ON j.event = e.event GROUP BY e.trigger ORDER BY e.trigger",
    ),
];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let plain = dir.join("jets.parquet");
    let compressed = dir.join("jets.baler.parquet");
    let events = dir.join("events.parquet");

    write_parquet(&plain, args.jets, DEFAULT_SEED, true)?;
    let options = CompressOptions {
        train: TrainConfig {
            epochs: args.epochs,
            ..TrainConfig::default()
        },
        force: true,
        ..CompressOptions::default()
    };
    let report = compress::compress(&plain, &compressed, &ReadOptions::default(), &options)?;
    println!(
        "{} jets: {} B as Parquet, {} B compressed ({} latents, R_actual {:.2})\n",
        report.rows,
        report.sizes.input_bytes,
        report.sizes.output_bytes,
        report.latent,
        report.ratios.r_actual
    );

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let original = sql::session();
        let decoded = sql::session();
        sql::register(&original, "jets", &plain).await?;
        sql::register(&decoded, "jets", &compressed).await?;
        for ctx in [&original, &decoded] {
            sql::register(ctx, "events", &events_table(&events, args.jets / 3)?).await?;
        }
        let mut out = std::io::stdout().lock();
        for (title, query) in QUERIES {
            println!("== {title}\n{query}\n-- original");
            sql::write_results(
                &sql::run(&original, query).await?,
                OutputFormat::Table,
                &mut out,
            )?;
            println!("-- compressed");
            sql::write_results(
                &sql::run(&decoded, query).await?,
                OutputFormat::Table,
                &mut out,
            )?;
        }
        Ok(())
    })
}

/// A plain per-event table (`event`, `trigger`), written once.
fn events_table(path: &std::path::Path, events: u64) -> anyhow::Result<PathBuf> {
    use arrow::array::{ArrayRef, Int32Array, RecordBatch, UInt64Array};
    if !path.exists() {
        let batch = RecordBatch::try_from_iter([
            (
                "event",
                Arc::new(UInt64Array::from_iter_values(0..events)) as ArrayRef,
            ),
            (
                "trigger",
                Arc::new(Int32Array::from_iter_values(
                    (0..events).map(|e| (e % 3) as i32),
                )),
            ),
        ])?;
        let mut writer = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(path)?,
            batch.schema(),
            None,
        )?;
        writer.write(&batch)?;
        writer.close()?;
    }
    Ok(path.to_owned())
}
