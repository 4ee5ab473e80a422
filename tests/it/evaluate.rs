//! `evaluate`: the verdict where lossless must win and where the autoencoder must, and the report.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float32Array, UInt64Array};
use arrow::datatypes::Float32Type;
use baler_arrow::compress;
use baler_arrow::evaluate::{self, EvaluateOptions};
use baler_arrow::ingest::ReadOptions;
use baler_arrow::options::Method;
use rand::{Rng, SeedableRng};

use crate::bounds::bounded;
use crate::common::{baler, data, stderr, write_table};

fn compress(input: &Path, output: &Path, latent: usize, epochs: usize) {
    let options = crate::compress::options_with_latent(latent, epochs);
    compress::compress(input, output, &ReadOptions::default(), &options).unwrap();
}

#[test]
fn lossless_wins_on_a_tiny_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ttbar.baler.parquet");
    let input = data("cms_nanoaod_2015_ttbar.root");
    compress(&input, &out, 11, 2);
    let e = evaluate::evaluate(
        &input,
        &out,
        &ReadOptions::default(),
        &EvaluateOptions::default(),
    )
    .unwrap();
    assert_eq!(e.rows, 537);
    // Without error bounds, no other method is run.
    assert_eq!(e.methods.len(), 4, "{:?}", e.methods);
    let ae = &e.methods[0];
    let lossless = &e.methods[1];
    assert_eq!(ae.method, "ae (this file)");
    assert_eq!(lossless.method, "lossless Parquet + zstd");
    assert!(lossless.ratio > ae.ratio, "{:?}", e.methods);
    assert!(
        !e.verdict.starts_with("the autoencoder wins"),
        "{}",
        e.verdict
    );
    assert!(
        e.verdict.ends_with("the autoencoder does not pay here"),
        "{}",
        e.verdict
    );
    // Truncation keeps, per float column, no more error than the autoencoder made there.
    for t in &e.truncation {
        if let Some(v) = e.variables.iter().find(|v| v.name == t.column) {
            assert!(
                t.relative_rms <= v.relative_rms,
                "{t:?} vs {}",
                v.relative_rms
            );
        }
    }
}

/// 20 columns that are linear functions of two hidden numbers: two latents hold everything.
fn redundant(path: &Path, rows: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let (u, v): (Vec<f32>, Vec<f32>) = (0..rows)
        .map(|_| (rng.random::<f32>(), rng.random::<f32>()))
        .unzip();
    let mut columns: Vec<(String, ArrayRef)> = vec![(
        "event".into(),
        Arc::new(UInt64Array::from_iter_values(0..rows as u64)),
    )];
    for i in 0..20 {
        let (a, b, c) = (
            rng.random_range(1.0..5.0f32),
            rng.random_range(1.0..5.0f32),
            rng.random_range(10.0..20.0f32),
        );
        let x = u.iter().zip(&v).map(|(u, v)| a * u + b * v + c);
        columns.push((format!("x{i}"), Arc::new(Float32Array::from_iter_values(x))));
    }
    write_table(
        path,
        columns
            .iter()
            .map(|(n, a)| (n.as_str(), a.clone()))
            .collect(),
    );
}

#[test]
fn the_autoencoder_wins_on_redundant_columns_and_the_report_renders() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("redundant.parquet");
    let out = dir.path().join("redundant.baler.parquet");
    redundant(&input, 30_000);
    compress(&input, &out, 2, 10);
    let report = dir.path().join("report");
    let run = baler(&[
        "evaluate",
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--json",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let e: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let verdict = e["verdict"].as_str().unwrap();
    assert!(verdict.starts_with("the autoencoder wins: R "), "{verdict}");
    let ratio = |i: usize| e["methods"][i]["ratio"].as_f64().unwrap();
    assert!(
        ratio(0) > ratio(1) && ratio(0) > ratio(2),
        "{}",
        e["methods"]
    );
    assert_eq!(e["variables"].as_array().unwrap().len(), 20);

    let index = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(index.contains(verdict), "the page shows the verdict");
    for name in [
        "ratios.png",
        "x0_distribution.png",
        "x0_response.png",
        "x19_distribution.svg",
        "x19_response.svg",
    ] {
        assert!(report.join(name).is_file(), "{name} missing");
    }
    assert!(index.contains("x19_response.png"));
}

#[test]
fn a_bounded_file_is_compared_with_every_method_under_the_same_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let input = crate::compress::generated(dir.path(), "jets.parquet", 3000, 5);
    let out = dir.path().join("jets.baler.parquet");
    let options = bounded(Method::Predict, "all=1e-3rel,eta=1e-3abs", 2);
    compress::compress(&input, &out, &ReadOptions::default(), &options).unwrap();
    let e = evaluate::evaluate(
        &input,
        &out,
        &ReadOptions::default(),
        &EvaluateOptions {
            train: crate::compress::options(2).train,
            ..EvaluateOptions::default()
        },
    )
    .unwrap();
    let names: Vec<&str> = e.methods.iter().map(|m| m.method.as_str()).collect();
    assert_eq!(
        names,
        [
            "predict (this file)",
            "ae",
            "residual",
            "lossless Parquet + zstd",
            "truncation + zstd (same bounds)",
            "truncation + pcodec (same bounds)"
        ]
    );
    assert!(e.methods.iter().all(|m| m.bytes > 0), "{:?}", e.methods);
    // pcodec codes the same truncated values in fewer bytes than Parquet + zstd.
    assert!(e.methods[5].bytes < e.methods[4].bytes, "{:?}", e.methods);
    // Learned prediction beats lossless Parquet (the autoencoder's decoder outweighs 3000 rows),
    // and the verdict names the file's method.
    assert!(e.methods[0].bytes < e.methods[3].bytes, "{:?}", e.methods);
    assert!(e.verdict.contains("learned prediction"), "{}", e.verdict);
    // Truncation meets the same guarantee with the fewest bits: 2^-(b+1) <= 1e-3 for relative
    // columns, and 2^-(b+1)·max|eta| <= 1e-3 for eta.
    let table = crate::common::read_parquet(&input);
    let eta_max = table
        .column_by_name("eta")
        .unwrap()
        .as_primitive::<Float32Type>()
        .values()
        .iter()
        .fold(0f32, |m, x| m.max(x.abs()));
    for t in &e.truncation {
        let b = t.mantissa_bits as i32;
        let magnitude = if t.column == "eta" {
            f64::from(eta_max)
        } else {
            1.0
        };
        assert!(0.5f64.powi(b + 1) * magnitude <= 1e-3, "{t:?}");
        assert!(
            0.5f64.powi(b) * magnitude > 1e-3,
            "{t:?}: not the fewest bits"
        );
    }
}

#[test]
fn a_method_that_does_not_apply_is_noted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("one.parquet");
    write_table(
        &input,
        vec![
            (
                "event",
                Arc::new(UInt64Array::from_iter_values(0..500)) as ArrayRef,
            ),
            (
                "pt",
                Arc::new(Float32Array::from_iter_values(
                    (0..500).map(|i| 20.0 + i as f32),
                )),
            ),
        ],
    );
    let out = dir.path().join("one.baler.parquet");
    let options = bounded(Method::Predict, "all=1e-2rel", 1);
    compress::compress(&input, &out, &ReadOptions::default(), &options).unwrap();
    let e = evaluate::evaluate(
        &input,
        &out,
        &ReadOptions::default(),
        &EvaluateOptions {
            compare: vec![Method::Ae],
            ..EvaluateOptions::default()
        },
    )
    .unwrap();
    assert_eq!(e.methods.len(), 4, "{:?}", e.methods);
    assert_eq!(e.notes.len(), 1, "{:?}", e.notes);
    assert!(
        e.notes[0].starts_with("ae not compared: ") && e.notes[0].contains("at least 2"),
        "{}",
        e.notes[0]
    );
}

#[test]
fn evaluate_refuses_a_compressed_file_of_other_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dy.baler.parquet");
    compress(&data("cms_nanoaod_small_dy.root"), &out, 1, 1);
    let err = evaluate::evaluate(
        &data("cms_hzz_2012_tutorial.root"),
        &out,
        &ReadOptions::default(),
        &EvaluateOptions {
            plot_rows: 10,
            ..EvaluateOptions::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("has columns [event UInt64, Px Float32,"),
        "{err}"
    );
    assert!(
        err.contains("decodes to [event UInt64, jetId Int32, pt Float32]"),
        "{err}"
    );
}

#[test]
fn compress_falls_back_to_lossless_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ttbar.parquet");
    let input = data("cms_nanoaod_2015_ttbar.root");
    let run = baler(&[
        "compress",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--method",
        "ae",
        "--epochs",
        "1",
        "--json",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("was larger than lossless Parquet"),
        "{}",
        stderr(&run)
    );
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["written"], "lossless");
    assert_eq!(
        report["sizes"]["output_bytes"],
        std::fs::metadata(&out).unwrap().len()
    );
    let plain = crate::common::read_parquet(&out);
    assert_eq!(plain.num_rows(), 537);
    assert_eq!(plain.num_columns(), 41, "all original columns, no latents");
    let without = baler(&[
        "compress",
        input.to_str().unwrap(),
        "-o",
        dir.path().join("ae.parquet").to_str().unwrap(),
        "--method",
        "ae",
        "--epochs",
        "1",
        "--no-fallback",
        "-q",
    ]);
    assert!(
        stderr(&without).starts_with("warning: the autoencoder's file"),
        "{}",
        stderr(&without)
    );
}
