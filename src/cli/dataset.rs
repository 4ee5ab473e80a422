//! The subcommands on whole trees: datasets of tables, and the per-event layout.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use baler_arrow::convert::ConvertOptions;
use baler_arrow::dataset::{self, DatasetSummary, Selection};
use baler_arrow::options::CompressOptions;
use baler_arrow::output::file_bytes;

use super::args::{CompressArgs, ConvertArgs, DecompressArgs, InputArgs, LayoutArg};
use super::progress::Bar;

/// The tables `--collection` asks for (every one when only `--layout events` is given).
fn tables(input: &InputArgs) -> Result<Vec<dataset::Table>> {
    let selection = input.selection().unwrap_or(Selection::All);
    dataset::tables(&input.input, input.tree.as_deref(), &selection)
        .with_context(|| format!("failed to list the tables of `{}`", input.input.display()))
}

/// `convert --collection all` and `convert --layout events`.
pub fn convert(args: &ConvertArgs, quiet: bool) -> Result<()> {
    let input = &args.input.input;
    let tables = tables(&args.input)?;
    let options = ConvertOptions::default()
        .with_force(args.force)
        .with_progress(Arc::new(Bar::new(quiet)));
    let fail = || format!("failed to convert `{}`", input.display());
    if args.layout == Some(LayoutArg::Events) {
        let output = args
            .output
            .clone()
            .unwrap_or_else(|| baler_arrow::output::default_output(input));
        baler_arrow::output::check_output(input, &output, args.force)?;
        let (events, dropped) = dataset::read_events(input, &tables).with_context(fail)?;
        super::commands::print_dropped(
            dropped.iter().map(|(n, why)| (n.as_str(), why.as_str())),
            "branches that are in no table",
        );
        let columns = events.schema().fields().len();
        let rows = dataset::write_events(events, &output, args.force, options.progress.as_ref())
            .with_context(fail)?;
        println!(
            "wrote {rows} events x {columns} columns ({} tables) to `{}` ({} bytes)",
            tables.len(),
            output.display(),
            file_bytes(&output)
        );
        return Ok(());
    }
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| input.with_extension("dataset"));
    let summary = dataset::convert(input, &output, &tables, &options).with_context(fail)?;
    print_summary(&summary, "the ROOT file");
    Ok(())
}

/// `compress --collection all`.
pub fn compress(args: &CompressArgs, options: &CompressOptions) -> Result<()> {
    let input = &args.input.input;
    if args.model.is_some() {
        anyhow::bail!(
            "`--model` fits one table; a dataset fits a model per table (drop `--model`, or compress one `--collection`)"
        );
    }
    let tables = tables(&args.input)?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| input.with_extension("baler"));
    let summary = dataset::compress(input, &output, &tables, options)
        .with_context(|| format!("failed to compress `{}`", input.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary, "the ROOT file");
    }
    Ok(())
}

/// `decompress DIR`: a dataset folder into lossless tables or the per-event layout.
pub fn decompress(args: &DecompressArgs, quiet: bool) -> Result<()> {
    let bar = Bar::new(quiet);
    let fail = || format!("failed to decompress `{}`", args.input.display());
    match args.layout {
        LayoutArg::Events => {
            let rows = dataset::decompress_events(&args.input, &args.output, args.force, &bar)
                .with_context(fail)?;
            println!(
                "wrote {rows} events to `{}` ({} bytes)",
                args.output.display(),
                file_bytes(&args.output)
            );
        }
        LayoutArg::Tables => {
            let summary = dataset::decompress(&args.input, &args.output, args.force, &bar)
                .with_context(fail)?;
            print_summary(&summary, "the dataset");
        }
    }
    if let Some(original) = &args.verify {
        let checks = dataset::verify(original, &args.input, args.tree.as_deref())
            .with_context(|| format!("failed to verify `{}`", args.input.display()))?;
        let checked: u64 = checks.iter().map(|c| c.verification.checked).sum();
        let unbounded: u64 = checks.iter().map(|c| c.verification.unbounded).sum();
        println!(
            "verified {} tables against `{}`: {checked} values within their bounds, {unbounded} unbounded",
            checks.len(),
            original.display()
        );
    }
    Ok(())
}

/// The tables of a dataset folder, for `sql --dataset`.
pub fn table_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    dataset::table_files(dir).with_context(|| format!("failed to read dataset `{}`", dir.display()))
}

/// `inspect DIR`: each table of a dataset with its rows, size and what it stores.
pub fn inspect(dir: &Path) -> Result<()> {
    let mut total = 0;
    println!("{:<20} {:>9} {:>10}  stored", "table", "rows", "bytes");
    for (name, path) in table_files(dir)? {
        let inspection = baler_arrow::ingest::inspect(&path, &Default::default())
            .with_context(|| format!("failed to inspect `{}`", path.display()))?;
        let bytes = file_bytes(&path);
        total += bytes;
        let table = inspection.tables.first();
        println!(
            "{:<20} {:>9} {:>10}  {}",
            name,
            table.map_or(0, |t| t.entries),
            bytes,
            table
                .and_then(|t| t.compressed.clone())
                .unwrap_or_else(|| "lossless Parquet".into())
        );
    }
    println!("{:<20} {:>9} {:>10}", "total", "", total);
    Ok(())
}

/// The tables written, their sizes, and the dataset against its input.
fn print_summary(s: &DatasetSummary, input_name: &str) {
    super::commands::print_dropped(
        s.dropped.iter().map(|(n, why)| (n.as_str(), why.as_str())),
        "branches that are in no table",
    );
    println!(
        "{:<20} {:>9} {:>8} {:>10} {:>10} {:>7}  written",
        "table", "rows", "columns", "bytes", "lossless", "ratio"
    );
    for t in &s.tables {
        println!(
            "{:<20} {:>9} {:>8} {:>10} {:>10} {:>7.2}  {}",
            t.table,
            t.rows,
            t.columns,
            t.bytes,
            t.lossless_bytes,
            t.lossless_bytes as f64 / t.bytes.max(1) as f64,
            t.written
        );
    }
    let (bytes, lossless) = (s.bytes(), s.lossless_bytes());
    println!(
        "{:<20} {:>9} {:>8} {:>10} {:>10} {:>7.2}",
        "total",
        "",
        "",
        bytes,
        lossless,
        lossless as f64 / bytes.max(1) as f64
    );
    println!(
        "{input_name}: {} B; the dataset: {bytes} B ({:.2}x smaller)",
        s.input_bytes,
        s.input_bytes as f64 / bytes.max(1) as f64
    );
    println!("wrote `{}`", s.output.display());
}
