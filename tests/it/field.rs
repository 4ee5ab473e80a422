//! Fields (NumPy arrays): the bundled CFD samples round-trip within their bounds, bit for bit
//! the same through every path, and bad inputs are refused with the file and the array named.

use std::path::Path;

use baler_arrow::field::{self, Array};
use baler_arrow::options::ErrorBounds;
use baler_udfs::field::{FieldFile, FieldType};
use npyz::WriterBuilder;

use crate::common::{baler, data, stderr};

/// `|x − y| ≤ ε + ½ ulp(x)` for every value (docs/format.md: the grid point is rounded to the
/// field's type), with zero tolerance beyond it; returns the largest error.
fn assert_within_abs(original: &Array, decoded: &Array, epsilon: f64) -> f64 {
    assert_eq!(decoded.shape, original.shape);
    assert_eq!(decoded.dtype, original.dtype);
    let mut largest = 0.0f64;
    for (i, (&x, &y)) in original.values.iter().zip(&decoded.values).enumerate() {
        let half_ulp = match original.dtype {
            FieldType::Float64 => (f64::from_bits(x.abs().to_bits() + 1) - x.abs()) / 2.0,
            FieldType::Float32 => {
                let v = (x as f32).abs();
                f64::from(f32::from_bits(v.to_bits() + 1) - v) / 2.0
            }
        };
        assert!(
            (x - y).abs() <= epsilon + half_ulp,
            "value {i}: {y} for {x}, bound {epsilon}"
        );
        largest = largest.max((x - y).abs());
    }
    largest
}

fn value_range(a: &Array) -> f64 {
    let max = a.values.iter().copied().fold(f64::MIN, f64::max);
    let min = a.values.iter().copied().fold(f64::MAX, f64::min);
    max - min
}

fn bounds(s: &str) -> ErrorBounds {
    s.parse().unwrap()
}

#[test]
fn the_cfd_samples_round_trip_within_absolute_bounds_of_their_range() {
    let dir = tempfile::tempdir().unwrap();
    for (name, fractions) in [
        ("cfd_still.npz", &[1e-2, 1e-3, 1e-4][..]),
        ("cfd_animation.npz", &[1e-3][..]),
    ] {
        let original = field::read(&data(name)).unwrap();
        assert_eq!(original.name, "data");
        assert_eq!(original.dtype, FieldType::Float64);
        for &fraction in fractions {
            let epsilon = fraction * value_range(&original);
            let out = dir.path().join(format!("{name}.{fraction}.baler.parquet"));
            let b = bounds(&format!("all={epsilon:e}abs"));
            let report = field::compress(&data(name), &out, Some(&b), false).unwrap();
            assert!(
                report.output_bytes * 4 < report.raw_bytes,
                "{name} at {fraction}: {} B of {} raw",
                report.output_bytes,
                report.raw_bytes
            );
            let restored = dir.path().join(format!("{name}.{fraction}.npz"));
            let decoded = field::decompress(&out, &restored, false).unwrap();
            let largest = assert_within_abs(&original, &decoded, epsilon);
            // The bound is used, not wasted: errors reach most of it.
            assert!(
                largest > epsilon / 2.0,
                "{name}: largest error {largest} of {epsilon}"
            );
            // The written .npz reads back as the decoded values, bit for bit.
            assert_eq!(field::read(&restored).unwrap(), decoded);
            let check = field::verify(&data(name), &out).unwrap();
            assert_eq!(check.values, original.values.len());
        }
    }
}

#[test]
fn a_finer_bound_costs_more_bytes_and_the_animation_uses_its_frames() {
    let dir = tempfile::tempdir().unwrap();
    let still = field::read(&data("cfd_still.npz")).unwrap();
    let range = value_range(&still);
    let mut sizes = Vec::new();
    for fraction in [1e-2, 1e-3, 1e-4] {
        let out = dir.path().join(format!("{fraction}.baler.parquet"));
        let b = bounds(&format!("all={:e}abs", fraction * range));
        sizes.push(field::compress(&data("cfd_still.npz"), &out, Some(&b), false).unwrap());
    }
    assert!(sizes[0].output_bytes < sizes[1].output_bytes);
    assert!(sizes[1].output_bytes < sizes[2].output_bytes);
    // A still frame has no previous frame: its stencil is spatial only.
    assert!(sizes[0].stencil.offsets.iter().all(|o| o[0] == 0));
    let out = dir.path().join("anim.baler.parquet");
    let b = bounds(&format!("all={:e}abs", 1e-3 * range));
    let anim = field::compress(&data("cfd_animation.npz"), &out, Some(&b), false).unwrap();
    assert!(anim.stencil.offsets.iter().any(|o| o[0] == 1));
    // The previous frame is the strongest neighbour of a slowly changing flow.
    let prev = anim
        .stencil
        .offsets
        .iter()
        .position(|o| *o == [1, 0, 0])
        .unwrap();
    assert!(anim.stencil.weights[prev] > 0.3, "{:?}", anim.stencil);
}

fn write_npy_f32(path: &Path, shape: &[u64], values: &[f32]) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .unwrap();
    w.extend(values.iter().copied()).unwrap();
    w.finish().unwrap();
}

#[test]
fn float32_npy_fields_keep_their_type_under_relative_and_exact_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let still = field::read(&data("cfd_still.npz")).unwrap();
    let values: Vec<f32> = still.values.iter().map(|&v| v as f32).collect();
    let input = dir.path().join("frame.npy");
    write_npy_f32(&input, &[50, 50], &values);
    let original = field::read(&input).unwrap();
    assert_eq!(original.shape, vec![50, 50]);
    assert_eq!(original.dtype, FieldType::Float32);

    let out = dir.path().join("rel.baler.parquet");
    field::compress(&input, &out, Some(&bounds("all=1e-3rel")), false).unwrap();
    let decoded = field::decompress(&out, &dir.path().join("rel.npy"), false).unwrap();
    assert_eq!(decoded.dtype, FieldType::Float32);
    for (&x, &y) in original.values.iter().zip(&decoded.values) {
        assert!((x - y).abs() <= 1e-3 * x.abs(), "{y} for {x}");
        assert_eq!(f64::from(y as f32), y, "decoded values are float32");
    }

    let out = dir.path().join("exact.baler.parquet");
    field::compress(&input, &out, Some(&bounds("all=exact")), false).unwrap();
    let decoded = field::decompress(&out, &dir.path().join("exact.npy"), false).unwrap();
    assert_eq!(
        decoded
            .values
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>(),
        original
            .values
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    );
}

#[test]
fn the_command_line_compresses_decompresses_verifies_and_inspects_a_field() {
    let dir = tempfile::tempdir().unwrap();
    let input = data("cfd_still.npz");
    let out = dir.path().join("still.baler.parquet");
    let restored = dir.path().join("still.npz");
    let run = baler(&[
        "compress",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--error-bound",
        "all=1e-4abs",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("field `data` [1, 50, 50]"));
    let run = baler(&[
        "decompress",
        out.to_str().unwrap(),
        "-o",
        restored.to_str().unwrap(),
        "--verify",
        input.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("2500 values within their bound"));
    let run = baler(&["inspect", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("(dt  0, dy  0, dx  1)"));

    // SQL sees one row per value with its indices.
    let run = baler(&[
        "sql",
        "SELECT count(*) AS n, max(x) AS w, min(data) AS lo FROM f WHERE frame = 0 AND y < 10",
        "--table",
        &format!("f={}", out.display()),
        "--format",
        "csv",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let csv = String::from_utf8_lossy(&run.stdout).into_owned();
    let still = field::read(&input).unwrap();
    let decoded = field::decode(&out).unwrap();
    let lo = decoded.values[..500]
        .iter()
        .copied()
        .fold(f64::MAX, f64::min);
    assert_eq!(csv.lines().nth(1).unwrap(), format!("500,49,{lo}"), "{csv}");
    assert!(still.values[..500].iter().any(|&v| (v - lo).abs() <= 1e-4));

    // Decompressing to a table format is refused; so is an existing output.
    let run = baler(&["decompress", out.to_str().unwrap(), "-o", "x.parquet"]);
    assert!(stderr(&run).contains("decompress it to a `.npy` or `.npz` file"));
    let run = baler(&[
        "decompress",
        out.to_str().unwrap(),
        "-o",
        restored.to_str().unwrap(),
    ]);
    assert!(stderr(&run).contains("already exists"));
}

#[test]
fn bad_fields_are_refused_naming_the_file_and_the_array() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.baler.parquet");
    let b = bounds("all=1e-3abs");
    let message = |input: &Path| {
        let e = field::compress(input, &out, Some(&b), false).unwrap_err();
        assert!(!out.exists(), "no output is left behind");
        e.to_string()
    };

    let ints = dir.path().join("ints.npy");
    npyz::to_file_1d(&ints, [1i32, 2, 3]).unwrap();
    let m = message(&ints);
    assert!(
        m.contains("ints.npy") && m.contains("array `ints`") && m.contains("<i4"),
        "{m}"
    );

    let flat = dir.path().join("flat.npy");
    write_npy_f32(&flat, &[6], &[1.0; 6]);
    assert!(
        message(&flat).contains("not shape [6]"),
        "{}",
        message(&flat)
    );

    let nan = dir.path().join("nan.npy");
    write_npy_f32(&nan, &[2, 2], &[1.0, f32::NAN, 0.0, 2.0]);
    assert!(
        message(&nan).contains("NaN at index 1"),
        "{}",
        message(&nan)
    );

    let not_zip = dir.path().join("bad.npz");
    std::fs::write(&not_zip, b"not a zip archive at all").unwrap();
    assert!(message(&not_zip).contains("not a NumPy .npz archive"));

    let e = field::compress(&data("cfd_still.npz"), &out, None, false).unwrap_err();
    assert!(e.to_string().contains("always compressed under a bound"));

    // A flipped byte in the block: the CRC names it, nothing panics.
    let good = dir.path().join("good.baler.parquet");
    field::compress(&data("cfd_still.npz"), &good, Some(&b), false).unwrap();
    let mut bytes = std::fs::read(&good).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x20;
    let damaged = dir.path().join("damaged.baler.parquet");
    std::fs::write(&damaged, bytes).unwrap();
    let failed = FieldFile::open(&damaged).and_then(|f| f.decode());
    assert!(failed.is_err());
}

#[test]
fn evaluate_checks_a_field_and_beats_the_classic_lorenzo_predictor_on_the_animation() {
    let dir = tempfile::tempdir().unwrap();
    let input = data("cfd_animation.npz");
    let original = field::read(&input).unwrap();
    let epsilon = 1e-3 * value_range(&original);
    let out = dir.path().join("anim.baler.parquet");
    field::compress(
        &input,
        &out,
        Some(&bounds(&format!("all={epsilon:e}abs"))),
        false,
    )
    .unwrap();
    let (e, _, _) = field::evaluate(&input, &out).unwrap();
    assert_eq!(e.values, 150_000);
    // The documented guarantee, ε + ½ ulp, at the largest magnitude (which has the largest ulp).
    let top = original.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let half_ulp = (f64::from_bits(top.to_bits() + 1) - top) / 2.0;
    assert!(e.max_abs_error <= epsilon + half_ulp && e.rmse < e.max_abs_error);
    assert!(e.ratio > 20.0, "{e:?}");
    // The learned neighbours against the fixed ones, same quantiser and coder: smaller.
    let lorenzo = &e.baselines[1];
    assert!(lorenzo.name.starts_with("Lorenzo"));
    assert!(lorenzo.ratio_to_file > 1.1, "{e:?}");

    let report = dir.path().join("report");
    let run = baler(&[
        "evaluate",
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("guarantee checked: every value within"));
    for map in [
        "field_original.png",
        "field_error.png",
        "field_relative_error.png",
    ] {
        assert!(
            std::fs::metadata(report.join(map)).unwrap().len() > 1000,
            "{map}"
        );
    }
}
