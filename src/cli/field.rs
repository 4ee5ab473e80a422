//! The commands on fields (NumPy `.npy`/`.npz` arrays): compress, decompress, inspect.

use std::path::Path;

use anyhow::{Context, Result};
use baler_arrow::field;
use baler_arrow::options::ErrorBounds;

use super::args::{CompressArgs, DecompressArgs, EvaluateArgs};

/// `compress f.npz`: the field under its bound.
pub fn compress(args: &CompressArgs) -> Result<()> {
    let input = &args.input.input;
    if args.input.selection().is_some() || args.model.is_some() {
        anyhow::bail!(
            "`{}` is a NumPy field: `--collection` and `--model` apply to tables",
            input.display()
        );
    }
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| input.with_extension("baler.parquet"));
    let bounds = ErrorBounds::for_options(&args.model_args.error_bound, None)?;
    let report = field::compress(input, &output, bounds.as_ref(), args.force)
        .with_context(|| format!("failed to compress `{}`", input.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "field `{}` {:?} {:?} under {}: {} B ({} B raw, input file {} B), {:.2}x the raw values; {} block(s), {} neighbours{}",
        report.name,
        report.shape,
        report.dtype,
        report.bound,
        report.output_bytes,
        report.raw_bytes,
        report.input_bytes,
        report.raw_bytes as f64 / report.output_bytes.max(1) as f64,
        report.blocks,
        report.stencil.offsets.len(),
        if report.refitted {
            ", weights refitted on decoded neighbours"
        } else {
            ""
        }
    );
    println!("wrote `{}`", output.display());
    Ok(())
}

/// `decompress f.baler.parquet -o f.npz [--verify f.npz]`.
pub fn decompress(args: &DecompressArgs) -> Result<()> {
    let array = field::decompress(&args.input, &args.output, args.force)
        .with_context(|| format!("failed to decompress `{}`", args.input.display()))?;
    println!(
        "wrote field `{}` {:?} {:?} to `{}`",
        array.name,
        array.shape,
        array.dtype,
        args.output.display()
    );
    if let Some(original) = &args.verify {
        let check = field::verify(original, &args.input)
            .with_context(|| format!("failed to verify `{}`", args.input.display()))?;
        println!(
            "verified against `{}`: {} values within their bound (largest error {:.3e})",
            original.display(),
            check.values,
            check.max_abs_error
        );
    }
    Ok(())
}

/// `inspect f.baler.parquet` for a field file.
pub fn inspect(path: &Path) -> Result<()> {
    let file = field::open(path)?;
    let h = &file.header;
    println!(
        "`{}`: field `{}` {:?} {:?} under {}, {} B in {} block(s) of up to {} frames",
        path.display(),
        h.name,
        h.shape,
        h.dtype,
        h.bound,
        baler_arrow::output::file_bytes(path),
        file.blocks.len(),
        h.frames_per_block
    );
    println!("prediction: intercept {:e}", h.stencil.intercept);
    for (o, w) in h.stencil.offsets.iter().zip(&h.stencil.weights) {
        println!(
            "  (dt {:>2}, dy {:>2}, dx {:>2})  {w:+.6}",
            o[0], o[1], o[2]
        );
    }
    Ok(())
}

/// `evaluate f.npz f.baler.parquet [--report DIR]` for a field.
pub fn evaluate(args: &EvaluateArgs) -> Result<()> {
    let input = &args.input.input;
    let (e, original, decoded) = field::evaluate(input, &args.compressed).with_context(|| {
        format!(
            "failed to evaluate `{}` against `{}`",
            args.compressed.display(),
            input.display()
        )
    })?;
    if let Some(dir) = &args.report {
        // The last frame: in an animation, the one furthest from where its block began.
        let (h, w) = (e.shape[e.shape.len() - 2], e.shape[e.shape.len() - 1]);
        let start = original.values.len() - h * w;
        let frames = original.values.len() / (h * w);
        let written = baler_arrow::report::write_field_maps(
            dir,
            (h, w),
            &original.values[start..],
            &decoded.values[start..],
            &format!("`{}` frame {} under {}", e.name, frames - 1, e.bound),
        )
        .with_context(|| format!("failed to write the maps to `{}`", dir.display()))?;
        eprintln!("report: {} maps in `{}`", written.len(), dir.display());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(());
    }
    println!(
        "field `{}` {:?} {:?}: {} values, {} raw bytes, file {} B: ratio {:.2}",
        e.name, e.shape, e.dtype, e.values, e.raw_bytes, e.file_bytes, e.ratio
    );
    println!(
        "guarantee checked: every value within {}; largest error {:.3e}, RMSE {:.3e}, PSNR {:.1} dB, largest relative error {:.3e}",
        e.bound, e.max_abs_error, e.rmse, e.psnr_db, e.max_relative_error
    );
    for b in &e.baselines {
        println!(
            "  {:<56} {:>10} B  ({:.2}x the file)",
            b.name, b.bytes, b.ratio_to_file
        );
    }
    println!("SZ3 and ZFP at the same bound: python3 benches/field_benchmark.py");
    Ok(())
}
