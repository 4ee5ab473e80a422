//! Whole NanoAOD files (and an ATLAS mini-tree of `std::vector` branches): the dataset of every
//! table against the ROOT file, the lossless dataset and mantissa truncation + pcodec of the
//! same tables under the same bounds, in one run.
//!
//! Two bounds: NanoAOD's own precision (relative 2^-(p+1) for p mantissa bits: 10 for most
//! floats, pt, mass, area and b-tags among them; 12 for eta and phi; 6 for the jets' energy
//! fractions; integers and flags exact) and every float within 1e-3. Every compressed table is
//! checked value by value against the ROOT file.
//!
//! ```text
//! cargo run --release --example dataset_benchmark
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use baler_arrow::convert::ConvertOptions;
use baler_arrow::dataset::{self, Selection};
use baler_arrow::ingest;
use baler_arrow::options::{CompressOptions, ErrorBounds};
use baler_arrow::truncate::{TruncationChoice, bits_for_relative_bound, truncated_pcodec_size};
use baler_udfs::quantise::Bound;

/// NanoAOD's precision as `--error-bound` entries.
fn nanoaod_bounds() -> String {
    let fractions = ["chEmEF", "chHEF", "neEmEF", "neHEF", "muEF", "chFPV0EF"];
    let mut spec = vec![
        format!("all={}rel", 0.5f64.powi(11)),
        format!("eta={}rel", 0.5f64.powi(13)),
        format!("phi={}rel", 0.5f64.powi(13)),
    ];
    spec.extend(
        fractions
            .iter()
            .map(|f| format!("Jet.{f}={}rel", 0.5f64.powi(7))),
    );
    spec.join(",")
}

/// Truncation + pcodec of every table, each float column to the fewest mantissa bits that
/// keep its bound.
fn truncation_pcodec(input: &Path, tables: &[dataset::Table], bounds: &ErrorBounds) -> Result<u64> {
    let mut bytes = 0;
    for t in tables {
        let schema = ingest::open(input, &t.read)?.schema();
        let own = dataset::scoped_bounds(bounds, &t.name, tables, &schema);
        let choices: Vec<TruncationChoice> = schema
            .fields()
            .iter()
            .filter_map(|f| {
                let Some(Bound::Relative { epsilon }) = own.get(f.name()) else {
                    return None;
                };
                Some(TruncationChoice {
                    column: f.name().clone(),
                    mantissa_bits: bits_for_relative_bound(f.data_type(), epsilon)?,
                    relative_rms: 0.0,
                })
            })
            .collect();
        bytes += truncated_pcodec_size(input, &t.read, &choices)?;
    }
    Ok(bytes)
}

fn main() -> Result<()> {
    // SAFETY: first thing in `main`, while the process has one thread.
    unsafe { baler_arrow::pin_thread_count() };
    let dir = PathBuf::from("bench-data/dataset");
    std::fs::create_dir_all(&dir)?;
    println!(
        "| file | bound | ROOT file | lossless dataset | truncation + pcodec | baler-arrow | vs ROOT | vs truncation | values checked | s |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    // The ATLAS mini-tree has no NanoAOD precision to keep: only the common bound.
    for (file, nanoaod) in [
        ("cms_nanoaod_2015_ttbar.root", true),
        ("cms_nanoaod_small_dy.root", true),
        ("atlas_minitree_issue816.root", false),
    ] {
        let input = Path::new("tests/data").join(file);
        let tables = dataset::tables(&input, None, &Selection::All)?;
        let root_bytes = std::fs::metadata(&input)?.len();
        let lossless = dataset::convert(
            &input,
            &dir.join("lossless"),
            &tables,
            &ConvertOptions::default().with_force(true),
        )?
        .bytes();
        let bounds = [
            ("NanoAOD precision", nanoaod_bounds()),
            ("all 1e-3 rel", "all=1e-3rel".to_owned()),
        ];
        for (label, spec) in bounds.into_iter().skip(usize::from(!nanoaod)) {
            let bounds: ErrorBounds = spec.parse().map_err(anyhow::Error::msg)?;
            // Bounds on columns a file lacks (the Drell–Yan skim has no eta) are left out.
            let mut present = ErrorBounds {
                all: bounds.all,
                columns: Vec::new(),
            };
            for (name, b) in &bounds.columns {
                let known = tables.iter().any(|t| {
                    ingest::open(&input, &t.read).is_ok_and(|r| {
                        let column = name.split_once('.').map_or(name.as_str(), |(_, c)| c);
                        r.schema().index_of(column).is_ok()
                    })
                });
                if known {
                    present.add(name, *b);
                }
            }
            let options = CompressOptions {
                bounds: Some(present.clone()),
                force: true,
                ..Default::default()
            };
            let out = dir.join(format!("{file}.{}.baler", label.replace(' ', "_")));
            let start = Instant::now();
            let summary = dataset::compress(&input, &out, &tables, &options)?;
            let seconds = start.elapsed().as_secs_f64();
            let checked: u64 = dataset::verify(&input, &out, None)?
                .iter()
                .map(|c| c.verification.checked)
                .sum();
            let truncated = truncation_pcodec(&input, &tables, &present)?;
            let bytes = summary.bytes();
            println!(
                "| {file} | {label} | {root_bytes} | {lossless} | {truncated} | {bytes} | {:.2}× | {:.2}× | {checked} | {seconds:.1} |",
                root_bytes as f64 / bytes as f64,
                truncated as f64 / bytes as f64,
            );
        }
    }
    Ok(())
}
