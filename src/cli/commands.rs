//! One function per subcommand.

use std::sync::Arc;

use anyhow::{Context, Result};
use baler_arrow::convert::{ConvertOptions, convert};
use baler_arrow::ingest::{self, DroppedColumn, ReadOptions};
use baler_arrow::output::default_output;

use super::args::{Cli, Command, ConvertArgs, InspectArgs};
use super::progress::Bar;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Convert(args) => run_convert(&args, cli.quiet),
        Command::Inspect(args) => run_inspect(&args),
    }
}

fn run_convert(args: &ConvertArgs, quiet: bool) -> Result<()> {
    let input = &args.input.input;
    let output = args.output.clone().unwrap_or_else(|| default_output(input));
    let options = ConvertOptions::default()
        .with_force(args.force)
        .with_progress(Arc::new(Bar::new(quiet)));
    let summary = convert(input, &output, &ReadOptions::from(&args.input), &options)
        .with_context(|| format!("failed to convert `{}`", input.display()))?;
    print_dropped(&summary.dropped);
    println!(
        "wrote {} rows x {} columns to `{}` ({} bytes)",
        summary.rows,
        summary.columns,
        summary.output.display(),
        summary.bytes
    );
    Ok(())
}

fn run_inspect(args: &InspectArgs) -> Result<()> {
    let input = &args.input.input;
    let mut inspection = ingest::inspect(input, &ReadOptions::from(&args.input))
        .with_context(|| format!("failed to inspect `{}`", input.display()))?;
    inspection.show_columns = args.branches;
    print!("{inspection}");
    Ok(())
}

/// Says which input columns were left out, on standard error.
fn print_dropped(dropped: &[DroppedColumn]) {
    if dropped.is_empty() {
        return;
    }
    let names: Vec<_> = dropped
        .iter()
        .map(|d| format!("{} ({})", d.name, d.reason))
        .collect();
    eprintln!(
        "note: dropped {} non-numeric or non-jet columns: {}",
        dropped.len(),
        names.join(", ")
    );
}
