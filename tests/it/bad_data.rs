//! Bad and hostile input, one case per test, in the style of parquet's `bad_data.rs`: each
//! asserts the exact error, or the exact round trip, and that nothing is left behind.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Float64Array, Int64Array, UInt64Array};
use baler_arrow::compress;
use baler_arrow::ingest::ReadOptions;
use baler_arrow::options::{CompressOptions, ErrorBounds, Method};
use baler_arrow::verify::verify;

use crate::common::write_table;

/// A table of `rows` rows: an event index, Float64 columns holding float32 values and values
/// that are not, and a Float32 column.
fn mixed_floats(path: &Path, rows: u64) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let as_f32: Vec<f64> = (0..rows)
        .map(|_| f64::from((next() * 8.0 - 4.0) as f32))
        .collect();
    let wide: Vec<f64> = (0..rows).map(|_| (next() - 0.5) * 1e3).collect();
    let single: Vec<f32> = (0..rows).map(|_| (next() * 100.0) as f32).collect();
    write_table(
        path,
        vec![
            (
                "event",
                Arc::new(UInt64Array::from_iter_values((0..rows).map(|r| r / 3))) as ArrayRef,
            ),
            ("eta", Arc::new(Float64Array::from(as_f32))),
            ("wide", Arc::new(Float64Array::from(wide))),
            ("pt", Arc::new(Float32Array::from(single))),
        ],
    );
}

fn exact(method: Method) -> CompressOptions {
    CompressOptions {
        method: Some(method),
        bounds: Some(ErrorBounds::all(baler_udfs::quantise::Bound::Exact)),
        fallback_lossless: false,
        latent: (method == Method::Ae).then_some(baler_arrow::options::LatentSize::Fixed(1)),
        train: baler_arrow::model::TrainConfig {
            epochs: 2,
            ..Default::default()
        },
        ..CompressOptions::default()
    }
}

#[test]
fn exact_is_bit_identical_for_float32_and_float64_columns_with_every_method() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.parquet");
    mixed_floats(&input, 3000);
    for method in Method::ALL {
        let out = dir.path().join(format!("{}.baler.parquet", method.name()));
        compress::compress(&input, &out, &ReadOptions::default(), &exact(method)).unwrap();
        let checked = verify(&input, &out, &ReadOptions::default()).unwrap();
        assert_eq!(checked.checked, 3000 * 4, "{method:?}");
        assert_eq!(checked.unbounded, 0, "{method:?}");
    }
}

#[test]
fn columns_without_a_bound_are_exact_under_predict_and_residual() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.parquet");
    mixed_floats(&input, 3000);
    for method in [Method::Predict, Method::Residual] {
        let out = dir.path().join(format!("{}.baler.parquet", method.name()));
        let options = CompressOptions {
            bounds: Some("pt=1e-3rel".parse().unwrap()),
            ..exact(method)
        };
        compress::compress(&input, &out, &ReadOptions::default(), &options).unwrap();
        // `verify` checks eta and wide bit for bit: they have no bound, so they are exact.
        let checked = verify(&input, &out, &ReadOptions::default()).unwrap();
        assert_eq!(
            (checked.checked, checked.unbounded),
            (3000 * 4, 0),
            "{method:?}"
        );
    }
}

#[test]
fn int64_values_near_the_type_limits_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.parquet");
    let big: Vec<i64> = (0..2000).map(|i| i64::MAX - i * 977).collect();
    let small: Vec<i64> = (0..2000).map(|i| i64::MIN + i * 13).collect();
    write_table(
        &input,
        vec![
            (
                "event",
                Arc::new(UInt64Array::from_iter_values(0..2000)) as ArrayRef,
            ),
            ("big", Arc::new(Int64Array::from(big))),
            ("small", Arc::new(Int64Array::from(small))),
            (
                "x",
                Arc::new(Float32Array::from_iter_values((0..2000).map(|i| i as f32))),
            ),
        ],
    );
    for method in [Method::Predict, Method::Residual] {
        let out = dir.path().join(format!("{}.parquet", method.name()));
        compress::compress(&input, &out, &ReadOptions::default(), &exact(method)).unwrap();
        verify(&input, &out, &ReadOptions::default()).unwrap();
    }
}
