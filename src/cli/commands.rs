//! One function per subcommand.

use std::sync::Arc;

use anyhow::{Context, Result};
use baler_arrow::convert::{ConvertOptions, convert};
use baler_arrow::ingest::{self, DroppedColumn, ReadOptions};
use baler_arrow::output::default_output;

use baler_arrow::compress::{self, CompressReport};
use baler_arrow::options::CompressOptions;
use baler_arrow::{decode, fit};
use baler_udfs::format::MethodSpec;

use super::args::{
    Cli, Command, CompareArg, CompressArgs, ConvertArgs, DecompressArgs, EvaluateArgs, InspectArgs,
    LayoutArg, SqlArgs, TrainArgs,
};
use super::progress::Bar;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Convert(args) => run_convert(&args, cli.quiet),
        Command::Inspect(args) => run_inspect(&args),
        Command::Compress(args) => run_compress(&args, cli.quiet),
        Command::Train(args) => run_train(&args, cli.quiet),
        Command::Decompress(args) => run_decompress(&args, cli.quiet),
        Command::Sql(args) => run_sql(&args),
        Command::Evaluate(args) => run_evaluate(&args),
    }
}

fn run_evaluate(args: &EvaluateArgs) -> Result<()> {
    use baler_arrow::evaluate;
    let input = &args.input.input;
    if baler_arrow::field::is_numpy(input) {
        return super::field::evaluate(args);
    }
    let options = evaluate::EvaluateOptions {
        compare: CompareArg::methods(&args.compare),
        train: baler_arrow::model::TrainConfig {
            epochs: args.epochs as usize,
            ..Default::default()
        },
        ..Default::default()
    };
    let e = evaluate::evaluate(
        input,
        &args.compressed,
        &ReadOptions::from(&args.input),
        &options,
    )
    .with_context(|| {
        format!(
            "failed to evaluate `{}` against `{}`",
            args.compressed.display(),
            input.display()
        )
    })?;
    if let Some(dir) = &args.report {
        let written = evaluate::write_report(dir, &e)
            .with_context(|| format!("failed to write the report to `{}`", dir.display()))?;
        eprintln!(
            "report: {} files in `{}` (open index.html)",
            written.len(),
            dir.display()
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(());
    }
    println!("{} rows, {} raw bytes", e.rows, e.raw_bytes);
    println!(
        "guarantee checked: {} values within their bounds ({} unbounded)",
        e.verification.checked, e.verification.unbounded
    );
    print_metrics(&e.variables);
    for m in &e.methods {
        println!("{:<28} {:>12} B   R = {:.2}", m.method, m.bytes, m.ratio);
    }
    let bits: Vec<_> = e
        .truncation
        .iter()
        .map(|t| format!("{} {}", t.column, t.mantissa_bits))
        .collect();
    println!("truncation keeps mantissa bits: {}", bits.join(", "));
    for note in &e.notes {
        println!("note: {note}");
    }
    println!("verdict: {}", e.verdict);
    Ok(())
}

fn run_sql(args: &SqlArgs) -> Result<()> {
    use baler_arrow::sql;
    if let Some(path) = &args.output
        && path.exists()
        && !args.force
    {
        return Err(baler_arrow::Error::OutputExists { path: path.clone() }.into());
    }
    let runtime = tokio::runtime::Runtime::new().context("failed to start the query runtime")?;
    let dataset = match &args.dataset {
        Some(dir) => super::dataset::table_files(dir)?,
        None => Vec::new(),
    };
    let batches = runtime.block_on(async {
        let ctx = sql::session();
        for (name, path) in &dataset {
            sql::register(&ctx, name, path).await?;
        }
        for t in &args.tables {
            sql::register(&ctx, &t.name, &t.path).await?;
        }
        sql::run(&ctx, &args.query).await
    })?;
    let format = args.format.into();
    match &args.output {
        None => sql::write_results(&batches, format, &mut std::io::stdout().lock())?,
        Some(path) => {
            let mut file = baler_arrow::output::AtomicFile::create(path, args.force)?;
            sql::write_results(&batches, format, file.file())?;
            file.commit()?;
        }
    }
    Ok(())
}

fn run_compress(args: &CompressArgs, quiet: bool) -> Result<()> {
    let input = &args.input.input;
    if baler_arrow::field::is_numpy(input) {
        return super::field::compress(args);
    }
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| input.with_extension("baler.parquet"));
    if args.model.is_some() && !args.model_args.error_bound.is_empty() {
        anyhow::bail!(
            "a saved model carries its own bounds; give `--error-bound` to `train` instead"
        );
    }
    let options = CompressOptions {
        model: args.model.clone(),
        reference_model: args.reference_model,
        force: args.force,
        fallback_lossless: !args.no_fallback,
        progress: Arc::new(Bar::new(quiet || args.json)),
        ..CompressOptions::try_from(&args.model_args)?
    };
    if args.input.selection().is_some() {
        return super::dataset::compress(args, &options);
    }
    let report = compress::compress(input, &output, &ReadOptions::from(&args.input), &options)
        .with_context(|| format!("failed to compress `{}`", input.display()))?;
    if let Some(warning) = &report.warning {
        eprintln!("warning: {warning}");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn run_train(args: &TrainArgs, quiet: bool) -> Result<()> {
    let input = &args.input.input;
    let options = CompressOptions {
        progress: Arc::new(Bar::new(quiet)),
        ..CompressOptions::try_from(&args.model_args)?
    };
    baler_arrow::output::check_output(input, &args.output, args.force)?;
    let (fitted, scan) = fit::fit(input, &ReadOptions::from(&args.input), &options)
        .with_context(|| format!("failed to train on `{}`", input.display()))?;
    let tensors = match &fitted.autoencoder {
        Some(ae) => ae.tensor_bytes("")?,
        None => fitted.weights.clone(),
    };
    baler_arrow::model::saved::save(&args.output, &fitted.header, &tensors, args.force)
        .with_context(|| format!("failed to save the model to `{}`", args.output.display()))?;
    match &fitted.header.method {
        MethodSpec::Ae(a) => println!(
            "trained the autoencoder on {} of {} rows: {} epochs, final loss {:.3e}, {:.1} s; wrote `{}`",
            a.training.rows,
            scan.rows,
            a.training.epochs,
            a.training.final_loss,
            a.training.seconds,
            args.output.display()
        ),
        MethodSpec::Predict(p) | MethodSpec::Residual(p) => println!(
            "fitted method `{}` on {} of {} rows in {:.1} s; wrote `{}`",
            fitted.header.method.name(),
            p.fit.rows,
            scan.rows,
            p.fit.seconds,
            args.output.display()
        ),
    }
    Ok(())
}

fn run_decompress(args: &DecompressArgs, quiet: bool) -> Result<()> {
    if args.input.is_dir() {
        return super::dataset::decompress(args, quiet);
    }
    if baler_arrow::field::is_field_file(&args.input) {
        return super::field::decompress(args);
    }
    if args.layout == LayoutArg::Events {
        anyhow::bail!(
            "`--layout events` needs a dataset folder (from `compress --collection all`); `{}` is one table",
            args.input.display()
        );
    }
    let bar = Bar::new(quiet);
    let summary = decode::decompress(&args.input, &args.output, args.force, &bar)
        .with_context(|| format!("failed to decompress `{}`", args.input.display()))?;
    println!(
        "wrote {} rows x {} columns to `{}`",
        summary.rows,
        summary.columns,
        summary.output.display()
    );
    if let Some(original) = &args.verify {
        let read = ReadOptions::from(&super::args::InputArgs {
            input: original.clone(),
            tree: args.tree.clone(),
            collection: args.collection.clone(),
            flat: args.flat,
        });
        let checked = baler_arrow::verify::verify(original, &args.input, &read)
            .with_context(|| format!("failed to verify `{}`", args.input.display()))?;
        println!(
            "verified against `{}`: {} values within their bounds, {} unbounded",
            original.display(),
            checked.checked,
            checked.unbounded
        );
    }
    Ok(())
}

/// The compression report as a table a physicist can read.
fn print_report(r: &CompressReport) {
    print_dropped(
        r.dropped.iter().map(|(n, why)| (n.as_str(), why.as_str())),
        "non-numeric or non-jet columns",
    );
    if let Some(t) = &r.training {
        println!(
            "{} rows: {} columns -> {} {} latents ({} pass-through, {} constant); trained {} epochs on {} rows, loss {:.3e}",
            r.rows,
            r.decoded_columns,
            r.latent,
            r.latent_type,
            r.pass_through.len(),
            r.constant.len(),
            t.epochs,
            t.rows,
            t.final_loss
        );
    }
    if let Some(f) = &r.fit {
        println!(
            "{} rows: {} columns coded by method `{}` ({} pass-through, {} constant); predictors fitted on {} rows",
            r.rows,
            r.decoded_columns,
            r.method,
            r.pass_through.len(),
            r.constant.len(),
            f.rows,
        );
    }
    for e in &r.estimates {
        println!(
            "  tried {} (latent {} {}): ~{} B",
            e.method, e.latent, e.latent_type, e.bytes
        );
    }
    if !r.bounds.is_empty() {
        let b: Vec<_> = r.bounds.iter().map(|(c, b)| format!("{c} {b}")).collect();
        println!("error bounds (guaranteed): {}", b.join(", "));
    }
    print_metrics(&r.variables);
    let p = &r.parts;
    println!(
        "parts: latents {} B ({:.1} bits/row), residuals {} B ({:.1} bits/row), pass-through {} B, footer {} B",
        p.latent_bytes,
        p.latent_bits_per_row,
        p.residual_bytes,
        p.residual_bits_per_row,
        p.pass_through_bytes,
        p.footer_bytes
    );
    let s = &r.sizes;
    println!(
        "sizes: input {} B, output {} B (model included), lossless Parquet {} B",
        s.input_bytes, s.output_bytes, s.lossless_bytes
    );
    let r_latent = if r.latent > 0 {
        format!("R = {:.2} (raw/latent), ", r.ratios.r)
    } else {
        String::new()
    };
    println!(
        "{r_latent}R_actual = {:.2} (input/output), vs lossless Parquet = {:.2}",
        r.ratios.r_actual, r.ratios.r_lossless
    );
    println!("wrote `{}`", r.output.display());
}

fn run_convert(args: &ConvertArgs, quiet: bool) -> Result<()> {
    if args.layout.is_some() || args.input.selection().is_some() {
        return super::dataset::convert(args, quiet);
    }
    let input = &args.input.input;
    let output = args.output.clone().unwrap_or_else(|| default_output(input));
    let options = ConvertOptions::default()
        .with_force(args.force)
        .with_progress(Arc::new(Bar::new(quiet)));
    let summary = convert(input, &output, &ReadOptions::from(&args.input), &options)
        .with_context(|| format!("failed to convert `{}`", input.display()))?;
    print_dropped(
        summary
            .dropped
            .iter()
            .map(|d| (d.name.as_str(), d.reason.as_str())),
        "non-numeric or non-jet columns",
    );
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
    if input.is_dir() {
        return super::dataset::inspect(input);
    }
    if baler_arrow::field::is_field_file(input) {
        return super::field::inspect(input);
    }
    let mut inspection = ingest::inspect(input, &ReadOptions::from(&args.input))
        .with_context(|| format!("failed to inspect `{}`", input.display()))?;
    inspection.show_columns = args.branches;
    print!("{inspection}");
    Ok(())
}

/// The per-variable metrics as a table.
fn print_metrics(variables: &[baler_arrow::metrics::VariableMetrics]) {
    let header = baler_arrow::metrics::TABLE_HEADER;
    println!(
        "{:<28} {:>12} {:>12} {:>12} {:>10} {:>12} {:>12}",
        header[0], header[1], header[2], header[3], header[4], header[5], header[6]
    );
    for v in variables {
        let c = v.table_row();
        println!(
            "{:<28} {:>12} {:>12} {:>12} {:>10} {:>12} {:>12}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6]
        );
    }
}

/// Says which input columns (`(name, reason)`) were left out, on standard error: a warning for
/// those that could not be read (data lost), a note naming the others as `kind`.
pub(super) fn print_dropped<'a>(dropped: impl IntoIterator<Item = (&'a str, &'a str)>, kind: &str) {
    let (unreadable, other): (Vec<_>, Vec<_>) = dropped
        .into_iter()
        .partition(|(_, reason)| DroppedColumn::is_unreadable(reason));
    let list = |d: &[(&str, &str)]| {
        d.iter()
            .map(|(name, reason)| format!("{name} ({reason})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !unreadable.is_empty() {
        eprintln!(
            "warning: {} branches could not be read and are left out: {}",
            unreadable.len(),
            list(&unreadable)
        );
    }
    if !other.is_empty() {
        eprintln!("note: dropped {} {kind}: {}", other.len(), list(&other));
    }
}
