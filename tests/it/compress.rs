//! compress → decompress on real and generated data, the stored file's format, and bad input.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float32Array, RecordBatch, UInt64Array};
use arrow::datatypes::Float32Type;
use baler_arrow::compress::{self, CompressReport};
use baler_arrow::decode;
use baler_arrow::generate::write_parquet;
use baler_arrow::ingest::ReadOptions;
use baler_arrow::model::TrainConfig;
use baler_arrow::options::{CompressOptions, LatentSize, Method};
use baler_arrow::progress::NoProgress;
use baler_udfs::format::{FORMAT_KEY, Footer, HEADER_KEY, WEIGHTS_KEY};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;

use crate::common::{baler, data, read_jets, read_parquet, stderr, write_table};

/// The autoencoder without bounds (the Baler paper's mode), trained for `epochs`, writing its
/// file even where lossless Parquet would be smaller.
pub fn options(epochs: usize) -> CompressOptions {
    CompressOptions {
        method: Some(Method::Ae),
        bounds: None,
        fallback_lossless: false,
        train: TrainConfig {
            epochs,
            ..TrainConfig::default()
        },
        ..CompressOptions::default()
    }
}

/// Options with `latent` latents, trained for `epochs`.
pub fn options_with_latent(latent: usize, epochs: usize) -> CompressOptions {
    CompressOptions {
        latent: Some(LatentSize::Fixed(latent)),
        ..options(epochs)
    }
}

/// Writes `rows` generated jets to `dir/name`.
pub fn generated(dir: &Path, name: &str, rows: u64, seed: u64) -> PathBuf {
    let path = dir.join(name);
    write_parquet(&path, rows, seed, true).unwrap();
    path
}

pub fn footer(path: &Path) -> HashMap<String, String> {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect()
}

/// Compresses and decompresses `input`; checks that the columns come back with their names,
/// types and row count, `event` and pass-through columns exact. Returns the report and both tables.
fn round_trip(
    input: &Path,
    options: &CompressOptions,
) -> (CompressReport, RecordBatch, RecordBatch) {
    let dir = tempfile::tempdir().unwrap();
    let compressed = dir.path().join("c.parquet");
    let restored = dir.path().join("d.parquet");
    let report = compress::compress(input, &compressed, &ReadOptions::default(), options).unwrap();
    decode::decompress(&compressed, &restored, false, &NoProgress).unwrap();
    let original = read_jets(input, &ReadOptions::default());
    let decoded = read_parquet(&restored);
    assert_eq!(decoded.num_rows(), original.num_rows());
    let names = |b: &RecordBatch| {
        b.schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&decoded), names(&original));
    for name in report.pass_through.iter().chain(&report.constant) {
        assert_eq!(
            decoded.column_by_name(name).unwrap().to_data(),
            original.column_by_name(name).unwrap().to_data(),
            "`{name}` must come back exactly"
        );
    }
    // The sizes are those of the files, decoder and footer included.
    assert_eq!(
        report.sizes.output_bytes,
        std::fs::metadata(&compressed).unwrap().len()
    );
    assert_eq!(
        report.sizes.input_bytes,
        std::fs::metadata(input).unwrap().len()
    );
    (report, original, decoded)
}

#[test]
fn real_files_round_trip_with_names_types_and_events_restored() {
    for name in [
        "cms_nanoaod_2015_ttbar.root",
        "cms_hzz_2012_tutorial.root",
        "cms_nanoaod_small_dy.root",
        "cms_zmumu_2010.root",
    ] {
        let (report, _, _) = round_trip(&data(name), &options(3));
        assert_eq!(report.training.as_ref().unwrap().epochs, 3, "{name}");
        assert!(report.latent < report.decoded_columns, "{name}");
    }
}

#[test]
fn the_footer_carries_the_format_header_and_decoder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ttbar.parquet");
    let report = compress::compress(
        &data("cms_nanoaod_2015_ttbar.root"),
        &out,
        &ReadOptions::default(),
        &options(2),
    )
    .unwrap();
    let kv = footer(&out);
    assert_eq!(kv[FORMAT_KEY], "3");
    let header = header_json(&out);
    assert_eq!(header["method"], "ae");
    assert_eq!(header["model"]["hidden"], serde_json::json!([200, 100, 50]));
    assert_eq!(header["training"]["epochs"], 2);
    // ttbar has 40 jet columns: 8 are constant in this sample, 32 go through the model.
    assert_eq!((report.decoded_columns, report.constant.len()), (32, 8));
    assert_eq!(report.latent, 11);
    assert_eq!(header["latent"]["columns"].as_array().unwrap().len(), 11);
    // One row per block: its rows, its event range and its data.
    let stored = read_parquet(&out);
    let names: Vec<_> = stored
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        ["baler_rows", "event_min", "event_max", "baler_data"]
    );
    assert_eq!(stored.num_rows(), 1);
    // The decoder (~100 kB compressed for the paper model) is counted in the output size.
    assert!(kv[WEIGHTS_KEY].len() > 50_000);
    assert!(report.sizes.output_bytes > kv[WEIGHTS_KEY].len() as u64);
}

#[test]
fn generated_jets_reconstruct_within_a_stated_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = generated(dir.path(), "jets.parquet", 8_000, 3);
    let mut opts = CompressOptions {
        latent: Some(LatentSize::Ratio(2.0)),
        ..options(40)
    };
    opts.train.batch_size = 64;
    let (report, original, decoded) = round_trip(&input, &opts);
    assert_eq!(report.decoded_columns, 24);
    assert_eq!(report.latent, 12);
    // Measured with seed 42 (40 epochs, batch 64): pt 0.058, mJetArea 0.005, energies up to
    // 0.20, multiplicities up to 0.12. An untrained model is near 1.
    for v in &report.variables {
        assert!(
            v.relative_rms < 0.5,
            "{}: relative RMS {}",
            v.name,
            v.relative_rms
        );
    }
    let area = report
        .variables
        .iter()
        .find(|v| v.name == "mJetArea")
        .unwrap();
    assert!(
        area.relative_rms < 0.02,
        "mJetArea relative RMS {}",
        area.relative_rms
    );
    let pt = report.variables.iter().find(|v| v.name == "pt").unwrap();
    assert!(pt.relative_rms < 0.1, "pt relative RMS {}", pt.relative_rms);
    // The report describes the decompressed file.
    let x = original
        .column_by_name("pt")
        .unwrap()
        .as_primitive::<Float32Type>();
    let y = decoded
        .column_by_name("pt")
        .unwrap()
        .as_primitive::<Float32Type>();
    let rms = (x
        .values()
        .iter()
        .zip(y.values())
        .map(|(a, b)| (f64::from(*b) - f64::from(*a)).powi(2))
        .sum::<f64>()
        / x.len() as f64)
        .sqrt();
    assert!(
        (rms - pt.residual_rms).abs() < 1e-6 * pt.residual_rms.max(1.0),
        "{rms} vs {}",
        pt.residual_rms
    );
    // Integer columns come back as integers of their type.
    assert_eq!(
        decoded
            .column_by_name("mChargedMultiplicity")
            .unwrap()
            .data_type(),
        &arrow::datatypes::DataType::Int32
    );
}

#[test]
fn the_same_seed_gives_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = data("cms_nanoaod_small_dy.root");
    let a = dir.path().join("a.parquet");
    let b = dir.path().join("b.parquet");
    let c = dir.path().join("c.parquet");
    let read = ReadOptions::default();
    let tiny = CompressOptions {
        latent: Some(LatentSize::Fixed(1)),
        ..options(3)
    };
    compress::compress(&input, &a, &read, &tiny).unwrap();
    compress::compress(&input, &b, &read, &tiny).unwrap();
    let mut other = tiny.clone();
    other.train.seed = 7;
    compress::compress(&input, &c, &read, &other).unwrap();
    assert_eq!(read_parquet(&a), read_parquet(&b));
    assert_ne!(read_parquet(&a), read_parquet(&c));
}

#[test]
fn a_trained_model_compresses_another_file_and_refuses_a_different_one() {
    let dir = tempfile::tempdir().unwrap();
    let a = generated(dir.path(), "a.parquet", 3000, 1);
    let b = generated(dir.path(), "b.parquet", 2000, 2);
    let model = dir.path().join("m.safetensors");
    let run = baler(&[
        "train",
        a.to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
        "--method",
        "ae",
        "--epochs",
        "2",
        "-q",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let with_model = CompressOptions {
        model: Some(model.clone()),
        ..options(2)
    };
    let (report, _, _) = round_trip(&b, &with_model);
    assert_eq!(report.rows, 2000);
    assert_eq!(
        report.training.as_ref().unwrap().rows,
        3000,
        "the model was trained on the other file"
    );

    let other = data("cms_nanoaod_small_dy.root");
    let out = dir.path().join("x.parquet");
    let err = compress::compress(&other, &out, &ReadOptions::default(), &with_model)
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("model `{}` does not fit `{}`: the model expects columns the input lacks: [eta Float32, phi Float32,", model.display(), other.display())), "{msg}");
    assert!(
        msg.ends_with("the input has columns the model lacks: [jetId Int32]"),
        "{msg}"
    );
    assert!(!out.exists());
}

#[test]
fn bad_inputs_give_clear_errors_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let read = ReadOptions::default();
    let err = |input: &Path, opts: &CompressOptions| {
        let e = compress::compress(input, &out, &read, opts)
            .expect_err("an error")
            .to_string();
        assert!(!out.exists(), "no output after: {e}");
        e.replace(&dir.path().display().to_string(), "DIR")
    };
    let nan = dir.path().join("nan.parquet");
    let x: Vec<f32> = (0..100)
        .map(|i| if i % 10 == 3 { f32::NAN } else { i as f32 })
        .collect();
    let y: Vec<f32> = (0..100).map(|i| (i * i) as f32).collect();
    let z: Vec<f32> = (0..100).map(|i| (i % 7) as f32).collect();
    write_table(
        &nan,
        vec![
            (
                "event",
                Arc::new(UInt64Array::from_iter_values(0..100)) as ArrayRef,
            ),
            ("x", Arc::new(Float32Array::from(x))),
            ("y", Arc::new(Float32Array::from(y))),
            ("z", Arc::new(Float32Array::from(z))),
        ],
    );
    assert_eq!(
        err(&nan, &options(1)),
        "column `x` in `DIR/nan.parquet`: 10 NaN or infinite and 0 null values cannot be compressed; store the column losslessly with `--keep x`"
    );
    let keep = CompressOptions {
        keep: vec!["x".into()],
        latent: Some(LatentSize::Fixed(1)),
        ..options(1)
    };
    let (report, _, decoded) = round_trip(&nan, &keep);
    assert_eq!(report.pass_through, ["event", "x"]);
    assert_eq!(decoded.column_by_name("x").unwrap().null_count(), 0);

    assert_eq!(
        err(
            &nan,
            &CompressOptions {
                keep: vec!["x".into()],
                latent: Some(LatentSize::Fixed(2)),
                ..options(1)
            }
        ),
        "a latent size of 2 does not compress 2 columns; choose `--latent` between 1 and 1"
    );
    assert_eq!(
        err(
            &nan,
            &CompressOptions {
                keep: vec!["nope".into()],
                ..options(1)
            }
        ),
        "column `nope` in `DIR/nan.parquet`: not found (columns: event, x, y, z)"
    );

    let empty = dir.path().join("empty.parquet");
    write_table(
        &empty,
        vec![
            (
                "event",
                Arc::new(UInt64Array::from(Vec::<u64>::new())) as ArrayRef,
            ),
            ("x", Arc::new(Float32Array::from(Vec::<f32>::new()))),
        ],
    );
    assert_eq!(
        err(&empty, &options(1)),
        "`DIR/empty.parquet` has no rows to compress"
    );

    let one = dir.path().join("one.parquet");
    write_table(
        &one,
        vec![
            ("event", Arc::new(UInt64Array::from(vec![1])) as ArrayRef),
            ("x", Arc::new(Float32Array::from(vec![1.5]))),
            ("y", Arc::new(Float32Array::from(vec![2.5]))),
        ],
    );
    assert_eq!(
        err(&one, &options(1)),
        "`DIR/one.parquet` has 0 varying numeric columns outside `--keep`; the autoencoder needs at least 2"
    );
}

/// Rewrites a compressed file with one footer entry replaced (one block per row group, as
/// the format has it).
pub fn with_footer_entry(src: &Path, dst: &Path, key: &str, value: &str) {
    let kv = footer(src);
    let table = read_parquet(src);
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(1))
        .build();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(dst).unwrap(),
        table.schema(),
        Some(props),
    )
    .unwrap();
    w.write(&table).unwrap();
    for (k, v) in kv.into_iter().filter(|(k, _)| k.starts_with("baler.")) {
        let v = if k == key { value.to_owned() } else { v };
        w.append_key_value_metadata(KeyValue::new(k, v));
    }
    w.close().unwrap();
}

/// A compressed file's header, as JSON.
pub fn header_json(path: &Path) -> serde_json::Value {
    let footer = Footer::from_metadata(&footer(path)).unwrap();
    serde_json::to_value(&footer.header).unwrap()
}

/// Rewrites a compressed file with its header changed by `edit` (on its JSON, then packed as
/// the format packs it).
pub fn with_header(src: &Path, dst: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let old = Footer::from_metadata(&footer(src)).unwrap();
    let mut json = serde_json::to_value(&old.header).unwrap();
    edit(&mut json);
    let new = Footer {
        header: serde_json::from_value(json).unwrap(),
        weights: old.weights,
    };
    let entries = new.entries().unwrap();
    let (_, packed) = entries.iter().find(|(k, _)| k == HEADER_KEY).unwrap();
    with_footer_entry(src, dst, HEADER_KEY, packed);
}

/// `text` (base64) with one character near `at` changed.
pub fn flip_char(text: &str, at: usize) -> String {
    let mut t = text.to_owned();
    let replacement = if &t[at..at + 4] == "AAAA" {
        "BBBB"
    } else {
        "AAAA"
    };
    t.replace_range(at..at + 4, replacement);
    t
}

#[test]
fn decompress_refuses_unknown_versions_bad_checksums_and_plain_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    compress::compress(
        &data("cms_nanoaod_small_dy.root"),
        &good,
        &ReadOptions::default(),
        &CompressOptions {
            latent: Some(LatentSize::Fixed(1)),
            ..options(1)
        },
    )
    .unwrap();
    let version = dir.path().join("v1.parquet");
    with_footer_entry(&good, &version, FORMAT_KEY, "1");
    let checksum = dir.path().join("sum.parquet");
    let kv = footer(&good);
    with_footer_entry(
        &good,
        &checksum,
        WEIGHTS_KEY,
        &flip_char(&kv[WEIGHTS_KEY], 100),
    );
    let plain = dir.path().join("plain.parquet");
    baler_arrow::convert::convert(
        &data("cms_nanoaod_small_dy.root"),
        &plain,
        &ReadOptions::default(),
        &Default::default(),
    )
    .unwrap();

    let decompress = |input: &Path| {
        let out = dir.path().join("out.parquet");
        let run = baler(&[
            "decompress",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(run.status.code(), Some(1));
        assert!(!out.exists());
        stderr(&run).lines().last().unwrap().to_owned()
    };
    assert_eq!(
        decompress(&version),
        "  caused by: unsupported baler format version `1` (this build reads version 3)"
    );
    assert!(
        decompress(&checksum).starts_with("  caused by: footer entry `baler.weights` is damaged: "),
        "{}",
        decompress(&checksum)
    );
    assert_eq!(
        decompress(&plain),
        "  caused by: not a baler-compressed file (no `baler.format` key in its footer)"
    );
}

#[test]
fn compressed_files_open_in_pyarrow() {
    if std::env::var_os("BALER_SKIP_UPROOT").is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ttbar.parquet");
    compress::compress(
        &data("cms_nanoaod_2015_ttbar.root"),
        &out,
        &ReadOptions::default(),
        &options(1),
    )
    .unwrap();
    let run = std::process::Command::new("python3")
        .args(["-c", "import sys, pyarrow.parquet as pq; t = pq.read_table(sys.argv[1]); print(t.num_rows, t.schema.names[1])"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&run.stdout), "1 event_min\n");
}

#[test]
fn compress_without_options_keeps_integers_exact_and_floats_within_nanoaod_precision() {
    let dir = tempfile::tempdir().unwrap();
    let input = data("cms_nanoaod_2015_ttbar.root");
    let out = dir.path().join("ttbar.baler.parquet");
    let run = baler(&[
        "compress",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--json",
        "-q",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    // Learned prediction or the model-free coder, whichever is smaller, never the autoencoder.
    let method = report["method"].as_str().unwrap();
    assert!(method == "predict" || method == "residual", "{method}");
    assert_eq!(report["written"], method);
    let bounds = report["bounds"].as_array().unwrap();
    assert!(bounds.contains(&serde_json::json!(["pt", "0.00048828125rel"])));
    assert!(bounds.contains(&serde_json::json!(["hadronFlavour", "exact"])));
    // Smaller than the same rows as lossless Parquet, and every value within its bound.
    let size = std::fs::metadata(&out).unwrap().len();
    assert!(
        size < report["sizes"]["lossless_bytes"].as_u64().unwrap(),
        "{report}"
    );
    let checked = baler_arrow::verify::verify(&input, &out, &ReadOptions::default()).unwrap();
    assert_eq!(checked.rows, 537);
    assert_eq!(checked.checked, 537 * 41);
    // NanoAOD stores most floats with 10 mantissa bits or fewer, which lie on the mantissa grid:
    // on that grid they come back exactly.
    let header = header_json(&out);
    let original = read_jets(&input, &ReadOptions::default());
    let restored = dir.path().join("restored.parquet");
    decode::decompress(&out, &restored, false, &NoProgress).unwrap();
    let restored = read_parquet(&restored);
    let mut exact = 0;
    for c in header["columns"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let x = original.column_by_name(name).unwrap();
        let few_bits = x.as_primitive_opt::<Float32Type>().is_some_and(|v| {
            v.values()
                .iter()
                .all(|f| f.to_bits() & ((1 << 13) - 1) == 0)
        });
        if c["grid"] == "mantissa" && few_bits {
            assert_eq!(
                restored.column_by_name(name).unwrap().to_data(),
                x.to_data(),
                "{name}"
            );
            exact += 1;
        }
    }
    assert!(exact >= 3, "{header}");
}

#[test]
fn a_shared_model_is_referenced_and_found_beside_the_file_or_named_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let a = generated(dir.path(), "a.parquet", 3000, 1);
    let b = generated(dir.path(), "b.parquet", 2000, 2);
    let model = dir.path().join("jets.safetensors");
    let run = baler(&[
        "train",
        a.to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
        "-q",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let dataset = dir.path().join("dataset");
    std::fs::create_dir(&dataset).unwrap();
    let out = dataset.join("b.baler.parquet");
    let options = CompressOptions {
        model: Some(model.clone()),
        reference_model: true,
        fallback_lossless: false,
        ..CompressOptions::default()
    };
    let report = compress::compress(&b, &out, &ReadOptions::default(), &options).unwrap();
    // The model is copied beside the data and counted apart.
    let copied = dataset.join("jets.safetensors");
    assert_eq!(
        std::fs::read(&copied).unwrap(),
        std::fs::read(&model).unwrap()
    );
    assert_eq!(
        report.sizes.model_bytes,
        std::fs::metadata(&copied).unwrap().len()
    );
    assert!(report.ratios.r_lossless_with_model < report.ratios.r_lossless);
    let kv = footer(&out);
    assert!(
        !kv.contains_key(HEADER_KEY) && kv.contains_key("baler.model"),
        "{kv:?}"
    );
    // The same file with the model embedded is larger by the model's header.
    let embedded = dir.path().join("embedded.parquet");
    let embedded_report = compress::compress(
        &b,
        &embedded,
        &ReadOptions::default(),
        &CompressOptions {
            reference_model: false,
            ..options.clone()
        },
    )
    .unwrap();
    assert!(report.sizes.output_bytes < embedded_report.sizes.output_bytes);
    // Both decode to the same values, within the model's bounds.
    baler_arrow::verify::verify(&b, &out, &ReadOptions::default()).unwrap();
    assert_eq!(
        read_compressed(&out),
        read_compressed(&embedded),
        "referenced and embedded models decode alike"
    );
    // Moved away from its model, the file names what it needs.
    let alone = dir.path().join("alone");
    std::fs::create_dir(&alone).unwrap();
    std::fs::copy(&out, alone.join("b.baler.parquet")).unwrap();
    let restored = dir.path().join("r.parquet");
    let err = decode::decompress(
        &alone.join("b.baler.parquet"),
        &restored,
        false,
        &NoProgress,
    )
    .unwrap_err();
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        cause.starts_with("the file needs model `")
            && cause.contains(&format!(
                "which is not in `{}`",
                alone.join("jets.safetensors").display()
            )),
        "{cause}"
    );
    assert!(!restored.exists());
}

/// A compressed file decoded whole.
fn read_compressed(path: &Path) -> arrow::array::RecordBatch {
    let decoded = decode::Decoded::open(path).unwrap();
    let schema = decoded.schema();
    let batches: Vec<_> = decoded.map(Result::unwrap).collect();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

#[test]
fn files_of_an_older_format_are_refused_with_their_version() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    compress::compress(
        &data("cms_nanoaod_small_dy.root"),
        &good,
        &ReadOptions::default(),
        &CompressOptions::default(),
    )
    .unwrap();
    let old = dir.path().join("v2.parquet");
    with_footer_entry(&good, &old, FORMAT_KEY, "2");
    let err = decode::Decoded::open(&old).err().unwrap();
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(
        cause,
        "unsupported baler format version `2` (this build reads version 3)"
    );
}
