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

/// The error of parsing and checking a crafted header from the fuzz corpus, as a reader sees it.
fn header_error(name: &str) -> String {
    use baler_udfs::codec::Codec;
    use baler_udfs::format::{Footer, Header};
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus/header")
        .join(name);
    let bytes = std::fs::read(path).unwrap();
    let header = match serde_json::from_slice::<Header>(&bytes) {
        Ok(h) => h,
        Err(e) => return e.to_string(),
    };
    header
        .validate()
        .and_then(|()| {
            Codec::try_new(&Footer {
                header,
                weights: Vec::new(),
            })
        })
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

#[test]
fn a_header_declaring_a_trillion_outputs_is_refused_before_allocating() {
    let e = header_error("huge_outputs.json");
    assert!(
        e.contains("the decoder has layers [1, 8, 1000000000000]: each must be 1 to 4096 wide"),
        "{e}"
    );
}

#[test]
fn a_header_with_absurd_layer_widths_is_refused() {
    let e = header_error("huge_hidden.json");
    assert!(e.contains("each must be 1 to 4096 wide"), "{e}");
}

#[test]
fn a_header_with_a_negative_or_zero_bound_is_refused() {
    for (name, bound) in [
        ("negative_bound.json", "-0.5abs"),
        ("zero_bound.json", "0rel"),
    ] {
        let e = header_error(name);
        assert!(
            e.contains(&format!("`{bound}`: a bound must be positive")),
            "{name}: {e}"
        );
    }
}

#[test]
fn a_header_with_a_null_or_infinite_number_is_refused() {
    let e = header_error("null_intercept.json");
    assert!(e.contains("invalid type: null, expected f64"), "{e}");
    let e = header_error("infinite_intercept.json");
    assert!(e.contains("number out of range"), "{e}");
}

/// `input` compressed with the defaults into `dir`.
fn compressed_dy(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("dy.baler.parquet");
    compress::compress(
        &crate::common::data("cms_nanoaod_small_dy.root"),
        &out,
        &ReadOptions::default(),
        &CompressOptions {
            fallback_lossless: false,
            ..CompressOptions::default()
        },
    )
    .unwrap();
    out
}

#[test]
fn a_flipped_bit_in_a_block_is_an_error_naming_the_file_and_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let good = compressed_dy(dir.path());
    let file = baler_udfs::file::CompressedFile::open(&good).unwrap();
    let block = file.read_block(0).unwrap();
    let mut bytes = std::fs::read(&good).unwrap();
    let at = bytes
        .windows(block.len())
        .position(|w| w == &block[..])
        .expect("the block's bytes are stored as they are");
    bytes[at + block.len() / 2] ^= 0x10;
    let bad = dir.path().join("flipped.baler.parquet");
    std::fs::write(&bad, &bytes).unwrap();
    let restored = dir.path().join("restored.parquet");
    let out = crate::common::baler(&[
        "decompress",
        bad.to_str().unwrap(),
        "-o",
        restored.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let message = crate::common::stderr(&out);
    assert!(message.contains("flipped.baler.parquet"), "{message}");
    assert!(message.contains("caused by: block 0\n"), "{message}");
    assert!(
        message.contains("damaged block: checksum mismatch"),
        "{message}"
    );
    assert!(!restored.exists());
    // SQL reads the same block and names the file too.
    let table = format!("jets={}", bad.display());
    let out = crate::common::baler(&["sql", "SELECT avg(pt) FROM jets", "--table", &table]);
    assert!(!out.status.success());
    let message = crate::common::stderr(&out);
    assert!(message.contains("flipped.baler.parquet"), "{message}");
    assert!(message.contains("checksum mismatch"), "{message}");
}

#[test]
fn values_near_the_largest_double_round_trip_within_their_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("huge.parquet");
    let rows = 2000u64;
    let huge: Vec<f64> = (0..rows)
        .map(|i| if i % 2 == 0 { 1.7e308 } else { -1.7e308 } * (1.0 - i as f64 * 1e-6))
        .collect();
    write_table(
        &input,
        vec![
            (
                "event",
                Arc::new(UInt64Array::from_iter_values(0..rows)) as ArrayRef,
            ),
            ("huge", Arc::new(Float64Array::from(huge.clone()))),
            (
                "negated",
                Arc::new(Float64Array::from_iter_values(
                    huge.iter().map(|x| -x * 0.5),
                )),
            ),
        ],
    );
    let options = |method| CompressOptions {
        bounds: Some(ErrorBounds::default_guarantee()),
        ..exact(method)
    };
    for method in [Method::Predict, Method::Residual] {
        let out = dir.path().join(format!("{}.baler.parquet", method.name()));
        compress::compress(&input, &out, &ReadOptions::default(), &options(method)).unwrap();
        let checked = verify(&input, &out, &ReadOptions::default()).unwrap();
        assert_eq!(checked.checked, rows * 3, "{method:?}");
    }
    // The autoencoder's min-max range overflows: training diverges, and that is an error before
    // anything is written, never a header with a NaN loss.
    let out = dir.path().join("ae.baler.parquet");
    let err = compress::compress(&input, &out, &ReadOptions::default(), &options(Method::Ae))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("training diverged: the loss after 2 epochs is NaN"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn absurd_option_values_are_refused_when_parsed() {
    let input = crate::common::data("cms_nanoaod_small_dy.root");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.baler.parquet");
    let lr = "the learning rate must be above 0 and at most 10";
    let cases: [(&[&str], &str); 9] = [
        (&["--hidden", "0"], "0 is not in 1..=4096"),
        (&["--hidden", "50,0,50"], "0 is not in 1..=4096"),
        (&["--hidden", "100000,100000"], "100000 is not in 1..=4096"),
        (&["--epochs", "0"], "0 is not in 1..=1000000"),
        (&["--batch-size", "0"], "0 is not in 1..=1048576"),
        (&["--lr", "nan"], lr),
        (&["--lr", "inf"], lr),
        (&["--lr", "1e30"], lr),
        (&["--lr", "0"], lr),
    ];
    for (args, expected) in cases {
        let mut all = vec![
            "compress",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--method",
            "ae",
        ];
        all.extend_from_slice(args);
        let result = crate::common::baler(&all);
        let message = crate::common::stderr(&result);
        assert!(!result.status.success(), "{args:?}");
        assert!(message.contains(expected), "{args:?}: {message}");
        assert!(!message.contains("panicked"), "{args:?}: {message}");
        assert!(!out.exists(), "{args:?}");
    }
}

/// Reads a crafted ROOT file from the fuzz corpus to the end; its error.
fn root_error(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus/input_file")
        .join(name);
    baler_arrow::ingest::open(&path, &ReadOptions::default())
        .and_then(|r| r.collect::<baler_arrow::Result<Vec<_>>>())
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

/// Reads a crafted ROOT file from the fuzz corpus to the end; the branches it left out.
fn root_dropped(name: &str) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus/input_file")
        .join(name);
    let reader = baler_arrow::ingest::open(&path, &ReadOptions::default()).unwrap();
    let dropped = reader
        .dropped()
        .iter()
        .map(|d| (d.name.clone(), d.reason.clone()))
        .collect();
    reader.collect::<baler_arrow::Result<Vec<_>>>().unwrap();
    dropped
}

#[test]
fn a_basket_key_with_a_negative_length_leaves_out_its_branch_by_name() {
    assert_eq!(
        root_dropped("negative_basket_length.root"),
        [(
            "Jet_pt".to_owned(),
            "cannot be read: corrupt key of basket `Jet_pt` (tree `tree`) at byte 1510: uncompressed length -16".to_owned()
        )]
    );
}

#[test]
fn a_basket_key_longer_than_the_file_leaves_out_its_branch_and_allocates_nothing() {
    assert_eq!(
        root_dropped("huge_basket_length.root"),
        [(
            "Jet_pt".to_owned(),
            "cannot be read: corrupt key of basket `Jet_pt` (tree `tree`) at byte 1510: uncompressed length 2147483647".to_owned()
        )]
    );
}

#[test]
fn a_damaged_counter_is_an_error_before_the_arrays_are_allocated() {
    // An uncompressed file whose third `nJet` is 2^31 − 1: the jets it promises (8 GB of
    // `Jet_pt` alone) are checked against the baskets before anything is allocated.
    // No array agrees with the counter: the collection is refused, naming the counter.
    let e = root_error("damaged_uncompressed_counter.root");
    assert!(
        e.contains("cannot read branch `nJet` of tree `Events` in `"),
        "{e}"
    );
    assert!(
        e.contains("no array of collection `Jet` agrees with it: `Jet_pt` cannot be read"),
        "{e}"
    );
    assert!(
        e.contains("holds 741 values where the counter says 2147484387"),
        "{e}"
    );
}

#[test]
fn a_tree_declaring_2_to_the_50_entries_is_an_error_not_an_allocation() {
    // Found by the fuzzer: the entry count was trusted to size the entries' offsets (an abort
    // allocating 9 PB); now the baskets are found and checked against it first.
    let e = root_error("huge_tree_entries.root");
    assert!(e.contains("cannot read branch `x` of tree `t` in `"), "{e}");
    assert!(
        e.contains(
            "entries 777..1125899906842624 are in no basket: the tree record holds none for them"
        ),
        "{e}"
    );
}

#[test]
fn a_damaged_compressed_basket_is_an_error_naming_the_branch() {
    let e = root_error("damaged_counter.root");
    assert!(
        e.contains("cannot read branch `nJet` of tree `tree` in `"),
        "{e}"
    );
    assert!(e.contains("ZL block: corrupt deflate stream"), "{e}");
}

#[cfg(unix)]
#[test]
fn writing_to_dev_null_writes_in_place_and_never_replaces_the_device() {
    use std::os::unix::fs::FileTypeExt;
    let input = crate::common::data("cms_nanoaod_small_dy.root");
    let result = crate::common::baler(&[
        "convert",
        input.to_str().unwrap(),
        "-o",
        "/dev/null",
        "--force",
    ]);
    assert!(
        result.status.success(),
        "{}",
        crate::common::stderr(&result)
    );
    let meta = std::fs::metadata("/dev/null").unwrap();
    assert!(meta.file_type().is_char_device());
}

#[test]
fn duplicate_column_names_are_an_error_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("dup.parquet");
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("pt", arrow::datatypes::DataType::Float32, false),
        arrow::datatypes::Field::new("pt", arrow::datatypes::DataType::Float32, false),
    ]));
    let batch = arrow::record_batch::RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Float32Array::from(vec![1.0f32, 2.0])),
            Arc::new(Float32Array::from(vec![3.0f32, 4.0])),
        ],
    )
    .unwrap();
    let file = std::fs::File::create(&input).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let e = baler_arrow::ingest::open(
        &input,
        &ReadOptions::default().with_layout(baler_arrow::ingest::Layout::Flat),
    )
    .and_then(|r| r.collect::<baler_arrow::Result<Vec<_>>>())
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(e.contains("column `pt` in `"), "{e}");
    assert!(
        e.contains("dup.parquet`: appears twice (columns 0 and 1)"),
        "{e}"
    );
}

#[test]
fn baskets_stored_out_of_entry_order_are_read_in_entry_order() {
    // The first and last baskets of `x` trade places in the file (tests/data/make_fixtures.py):
    // read in file order, entries 0..99 would hold 200..299.
    let input = crate::common::data("baskets_out_of_order.root");
    let table = crate::common::read_jets(
        &input,
        &ReadOptions::default().with_layout(baler_arrow::ingest::Layout::Flat),
    );
    let x: Vec<f64> = table
        .column_by_name("x")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .values()
        .to_vec();
    let expected: Vec<f64> = (0..300).map(f64::from).collect();
    assert_eq!(x, expected);
    let y = table.column_by_name("y").unwrap();
    let y = arrow::compute::cast(y, &arrow::datatypes::DataType::Float64).unwrap();
    assert_eq!(
        y.as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .values()
            .to_vec(),
        expected
    );
}
