//! Error-bounded compression: every decoded value within its bound, for every method, on real
//! and generated data; exact identities; the same bits through every decoding path; SQL over
//! bounded values; the size report and the automatic method choice.

use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float32Type, Float64Type, Int64Type};
use baler_arrow::compress::{self, CompressReport};
use baler_arrow::decode;
use baler_arrow::ingest::ReadOptions;
use baler_arrow::options::{CompressOptions, ErrorBounds, LatentStorage, Method};
use baler_arrow::progress::NoProgress;
use baler_udfs::codec::StreamKind;
use baler_udfs::file::CompressedFile;
use baler_udfs::quantise::{Bound, half_ulp};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::common::{baler, data, read_jets, read_parquet};
use crate::compress::{generated, options, options_with_latent};

/// Options for `method` under `bounds`, trained `epochs` (2 latents for `ae`).
pub fn bounded(method: Method, bounds: &str, epochs: usize) -> CompressOptions {
    CompressOptions {
        method: Some(method),
        bounds: Some(bounds.parse().unwrap()),
        ..if method == Method::Ae {
            options_with_latent(2, epochs)
        } else {
            options(epochs)
        }
    }
}

/// Compresses, decompresses, and checks every value of every column against its bound.
fn check_bounds(input: &Path, dir: &Path, options: &CompressOptions, tag: &str) -> CompressReport {
    check_bounds_reading(input, dir, &ReadOptions::default(), options, tag)
}

/// [`check_bounds`], reading the input with `read`.
fn check_bounds_reading(
    input: &Path,
    dir: &Path,
    read: &ReadOptions,
    options: &CompressOptions,
    tag: &str,
) -> CompressReport {
    let compressed = dir.join(format!("{tag}.baler.parquet"));
    let restored = dir.join(format!("{tag}.restored.parquet"));
    let report = compress::compress(input, &compressed, read, options).unwrap();
    decode::decompress(&compressed, &restored, true, &NoProgress).unwrap();
    let original = read_jets(input, read);
    let rebuilt = read_parquet(&restored);
    let bounds = options.bounds.clone().unwrap();
    let mut checked = 0;
    for (field, x) in original.schema().fields().iter().zip(original.columns()) {
        let y = rebuilt.column_by_name(field.name()).unwrap();
        let floating = field.data_type().is_floating();
        let bound = match bounds.get(field.name()) {
            Some(b) if floating => b,
            Some(_) => Bound::Exact,
            // Every method stores a column that the bounds do not name exactly.
            None => Bound::Exact,
        };
        let cast = |a: &dyn Array| {
            arrow::compute::cast(a, &DataType::Float64)
                .unwrap()
                .as_primitive::<Float64Type>()
                .values()
                .to_vec()
        };
        let single = *field.data_type() == DataType::Float32;
        for (r, (x, y)) in cast(x.as_ref())
            .into_iter()
            .zip(cast(y.as_ref()))
            .enumerate()
        {
            let limit = match bound {
                Bound::Exact => 0.0,
                Bound::Relative { epsilon } => epsilon * x.abs(),
                Bound::Absolute { epsilon } => epsilon + half_ulp(x, single),
            };
            assert!(
                (x - y).abs() <= limit,
                "{tag}: `{}` row {r}: {x} decoded as {y}, bound {bound}",
                field.name()
            );
            checked += 1;
        }
    }
    assert!(checked > original.num_rows(), "{tag}: nothing checked");
    report
}

#[test]
fn every_value_lies_within_its_bound_for_every_method_on_real_and_generated_data() {
    let dir = tempfile::tempdir().unwrap();
    let jets = generated(dir.path(), "jets.parquet", 3000, 11);
    let ttbar = data("cms_nanoaod_2015_ttbar.root");
    let hzz = data("cms_hzz_2012_tutorial.root");
    let cases = [
        (&jets, Method::Predict, "all=1e-2rel"),
        (&jets, Method::Residual, "all=1e-3rel"),
        (&jets, Method::Ae, "all=1e-2rel"),
        (&jets, Method::Predict, "pt=1e-4rel,eta=1e-3abs,phi=0.01abs"),
        (&jets, Method::Ae, "pt=1e-3rel,eta=1e-3abs"),
        (&ttbar, Method::Predict, "all=1e-3rel,eta=1e-2abs"),
        (&ttbar, Method::Ae, "all=2e-2rel"),
        (&hzz, Method::Predict, "all=1e-4rel"),
    ];
    for (i, (input, method, bounds)) in cases.into_iter().enumerate() {
        let tag = format!("case{i}");
        let report = check_bounds(input, dir.path(), &bounded(method, bounds, 3), &tag);
        assert_eq!(report.method, method.name(), "{tag}");
        assert!(!report.bounds.is_empty(), "{tag}");
    }
}

#[test]
fn latents_rounded_to_few_mantissa_bits_and_noisy_training_keep_the_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let jets = generated(dir.path(), "jets.parquet", 3000, 12);
    let mut options = bounded(Method::Ae, "all=1e-2rel", 2);
    options.latent_storage = Some(LatentStorage::Float32 { mantissa_bits: 3 });
    options.train.latent_noise_bits = Some(3);
    let report = check_bounds(&jets, dir.path(), &options, "rounded");
    assert_eq!(report.latent_type, "Float32 (3 mantissa bits)");
    let streams = streams(&dir.path().join("rounded.baler.parquet"));
    for i in 0..report.latent {
        let z = stream(&streams, &format!("latent {i}"), StreamKind::Latent)
            .as_primitive::<Float32Type>();
        // Only the 3 highest of 23 mantissa bits are set.
        assert!(
            z.values()
                .iter()
                .all(|z| z.to_bits() & ((1 << 20) - 1) == 0)
        );
        assert!(z.values().iter().any(|z| z.to_bits() & (1 << 20) != 0));
    }
}

/// Every stream of a compressed file's only block, decoded as stored.
fn streams(path: &Path) -> Vec<(String, StreamKind, ArrayRef)> {
    let file = CompressedFile::open(path).unwrap();
    assert_eq!(file.blocks.len(), 1);
    file.codec
        .decode_streams(&file.read_block(0).unwrap())
        .unwrap()
}

/// The stream of `column` of the given kind.
fn stream<'a>(
    streams: &'a [(String, StreamKind, ArrayRef)],
    column: &str,
    kind: StreamKind,
) -> &'a ArrayRef {
    &streams
        .iter()
        .find(|(c, k, _)| c == column && *k == kind)
        .unwrap_or_else(|| panic!("no {kind:?} stream for `{column}`"))
        .2
}

#[test]
fn exact_identities_leave_all_zero_residuals() {
    let dir = tempfile::tempdir().unwrap();
    let jets = generated(dir.path(), "jets.parquet", 4000, 3);
    let out = dir.path().join("jets.baler.parquet");
    compress::compress(
        &jets,
        &out,
        &ReadOptions::default(),
        &bounded(Method::Predict, "all=1e-3rel", 1),
    )
    .unwrap();
    let streams = streams(&out);
    let zero = |column: &str| {
        stream(&streams, column, StreamKind::Residual)
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .all(|q| *q == 0)
    };
    // The generator's identities: charged EM = electron energy, charged mu = muon energy,
    // neutral EM = photon + HF EM, and multiplicities that add up. Whichever member is coded
    // last is predicted exactly.
    for group in [
        &["mChargedEmEnergy", "mElectronEnergy"][..],
        &["mChargedMuEnergy", "mMuonEnergy"],
        &["mNeutralEmEnergy", "mPhotonEnergy", "mHFEMEnergy"],
        &[
            "mChargedMultiplicity",
            "mChargedHadronMultiplicity",
            "mElectronMultiplicity",
            "mMuonMultiplicity",
        ],
        &[
            "mNeutralMultiplicity",
            "mNeutralHadronMultiplicity",
            "mPhotonMultiplicity",
            "mHFHadronMultiplicity",
            "mHFEMMultiplicity",
        ],
    ] {
        assert!(
            group.iter().any(|c| zero(c)),
            "no all-zero residual among {group:?}"
        );
    }
    // Independent columns are not.
    assert!(!zero("pt") && !zero("phi"));
}

/// Compresses `input` into `path` in blocks of `block_rows` rows, then decodes it block by
/// block.
fn decode_with_blocks(
    input: &Path,
    path: &Path,
    options: &CompressOptions,
    block_rows: usize,
) -> Vec<RecordBatch> {
    let read = ReadOptions::default().with_batch_rows(block_rows);
    compress::compress(
        input,
        path,
        &read,
        &CompressOptions {
            force: true,
            ..options.clone()
        },
    )
    .unwrap();
    let file = CompressedFile::open(path).unwrap();
    assert_eq!(
        file.blocks.len() as u64,
        file.rows().div_ceil(block_rows as u64)
    );
    (0..file.blocks.len())
        .map(|b| file.decode_block(b).unwrap())
        .collect()
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow::compute::concat_batches(&batches[0].schema(), batches).unwrap()
}

#[test]
fn decoding_gives_the_same_bits_through_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let jets = generated(dir.path(), "jets.parquet", 3000, 8);
    for method in [Method::Ae, Method::Predict] {
        let out = dir.path().join(format!("{}.baler.parquet", method.name()));
        let options = bounded(method, "all=1e-3rel", 2);
        let other = dir.path().join("other.baler.parquet");
        for rows in [7, 1000] {
            assert_eq!(
                concat(&decode_with_blocks(&jets, &other, &options, rows)),
                concat(&decode_with_blocks(&jets, &out, &options, 65_536)),
                "{method:?}: blocks of {rows}"
            );
        }
        let reference = concat(&decode_with_blocks(&jets, &out, &options, 65_536));
        // SQL, on 1 and 4 partitions, gives the same values too.
        for partitions in [1, 4] {
            let ctx = SessionContext::new_with_config(
                SessionConfig::new()
                    .with_target_partitions(partitions)
                    .set_bool("datafusion.sql_parser.enable_ident_normalization", false),
            );
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let batches = runtime.block_on(async {
                baler_udfs::table::register_compressed(&ctx, "jets", &out)
                    .await
                    .unwrap();
                ctx.sql("SELECT * FROM jets ORDER BY event, pt, eta")
                    .await
                    .unwrap()
                    .collect()
                    .await
                    .unwrap()
            });
            let sql = concat(&batches);
            let sorted = {
                let ctx = SessionContext::new();
                let runtime = tokio::runtime::Runtime::new().unwrap();
                runtime.block_on(async {
                    ctx.register_batch("t", reference.clone()).unwrap();
                    concat(
                        &ctx.sql("SELECT * FROM t ORDER BY event, pt, eta")
                            .await
                            .unwrap()
                            .collect()
                            .await
                            .unwrap(),
                    )
                })
            };
            assert_eq!(
                sql.columns(),
                sorted.columns(),
                "{method:?}: {partitions} partitions"
            );
        }
    }
}

/// `x`, and `y` a function of it that no linear predictor follows (sin(8x) turns back over
/// x in [1, 1.5]), over enough rows for a predictor network to pay for its weights.
fn nonlinear(path: &Path, rows: usize) {
    use arrow::array::{ArrayRef, Float32Array, UInt64Array};
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let x: Vec<f32> = (0..rows).map(|_| rng.random_range(1.0..1.5f32)).collect();
    let y: Vec<f32> = x.iter().map(|x| 10.0 + 5.0 * (8.0 * x).sin()).collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "event",
            std::sync::Arc::new(UInt64Array::from_iter_values(0..rows as u64)),
        ),
        ("x", std::sync::Arc::new(Float32Array::from(x))),
        ("y", std::sync::Arc::new(Float32Array::from(y))),
    ];
    crate::common::write_table(path, columns);
}

#[test]
fn a_predictor_network_keeps_the_bounds_and_decodes_alike_in_any_batches() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("nonlinear.parquet");
    nonlinear(&input, 40_000);
    let options = bounded(Method::Predict, "all=1e-3rel", 1);
    check_bounds(&input, dir.path(), &options, "net");
    let out = dir.path().join("net.baler.parquet");
    let file = CompressedFile::open(&out).unwrap();
    let network = file
        .codec
        .header()
        .method
        .predictors()
        .iter()
        .find(|p| p.network.is_some());
    assert_eq!(network.map(|p| p.column.as_str()), Some("y"));
    // The same file without the network (the model-free coder is no help either) is larger.
    let residual = dir.path().join("residual.baler.parquet");
    let plain = compress::compress(
        &input,
        &residual,
        &ReadOptions::default(),
        &bounded(Method::Residual, "all=1e-3rel", 1),
    )
    .unwrap();
    assert!(
        std::fs::metadata(&out).unwrap().len() < plain.sizes.output_bytes,
        "the network does not pay"
    );
    let reference = concat(&decode_with_blocks(&input, &out, &options, 65_536));
    for rows in [7, 1000] {
        let other = dir.path().join("other.baler.parquet");
        assert_eq!(
            concat(&decode_with_blocks(&input, &other, &options, rows)),
            reference,
            "blocks of {rows}"
        );
    }
}

#[test]
fn bounds_hold_and_values_are_alike_on_one_thread_and_on_several() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("nonlinear.parquet");
    nonlinear(&input, 40_000);
    // Ten blocks, so that several threads share them.
    let read = ReadOptions::default().with_batch_rows(4000);
    let options = bounded(Method::Predict, "all=1e-3rel", 1);
    for threads in [1, 3] {
        baler_arrow::set_thread_count(threads);
        check_bounds_reading(
            &input,
            dir.path(),
            &read,
            &options,
            &format!("threads{threads}"),
        );
    }
    // Each file decoded on 1, 3 and 4 threads: the same values (the files differ only in the
    // fitting time their headers record).
    let decoded: Vec<RecordBatch> = [(1, 1), (1, 3), (1, 4), (3, 1), (3, 4)]
        .into_iter()
        .map(|(written, threads)| {
            let path = dir.path().join(format!("threads{written}.baler.parquet"));
            assert_eq!(CompressedFile::open(&path).unwrap().blocks.len(), 10);
            baler_arrow::set_thread_count(threads);
            let batches = decode::Decoded::open(&path)
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            concat(&batches)
        })
        .collect();
    baler_arrow::set_thread_count(0);
    for (i, d) in decoded.iter().enumerate() {
        assert_eq!(d, &decoded[0], "decoding {i}");
    }
}

#[test]
fn the_json_report_gives_the_bytes_of_each_part_and_the_methods_tried() {
    let dir = tempfile::tempdir().unwrap();
    let jets = generated(dir.path(), "jets.parquet", 2000, 4);
    let out = dir.path().join("jets.baler.parquet");
    let result = baler(&[
        "compress",
        jets.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--error-bound",
        "all=1e-2rel",
        "--error-bound",
        "pt=1e-3rel",
        "--epochs",
        "1",
        "--json",
    ]);
    assert!(
        result.status.success(),
        "{}",
        crate::common::stderr(&result)
    );
    let report: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    let parts = &report["parts"];
    let part = |k: &str| parts[k].as_u64().unwrap();
    assert_eq!(
        part("pass_through_bytes")
            + part("latent_bytes")
            + part("residual_bytes")
            + part("footer_bytes"),
        report["sizes"]["output_bytes"].as_u64().unwrap()
    );
    assert!(part("residual_bytes") > 0);
    // Without `--method`, the methods were tried on a sample and the smallest kept.
    let estimates = report["estimates"].as_array().unwrap();
    let tried = |m: &str| {
        estimates
            .iter()
            .any(|e| e["method"].as_str().unwrap().starts_with(m))
    };
    assert!(tried("predict") && tried("residual"), "{estimates:?}");
    let smallest = estimates
        .iter()
        .min_by_key(|e| e["bytes"].as_u64().unwrap())
        .unwrap();
    assert!(
        smallest["method"]
            .as_str()
            .unwrap()
            .starts_with(report["method"].as_str().unwrap()),
        "{report}"
    );
    let bounds = report["bounds"].as_array().unwrap();
    assert!(bounds.contains(&serde_json::json!(["pt", "0.001rel"])));
    assert!(bounds.contains(&serde_json::json!(["eta", "0.01rel"])));
    assert!(bounds.contains(&serde_json::json!(["mMuonMultiplicity", "exact"])));
}

#[test]
fn the_autoencoder_under_bounds_tries_every_latent_storage() {
    let dir = tempfile::tempdir().unwrap();
    let jets = generated(dir.path(), "jets.parquet", 2000, 4);
    let out = dir.path().join("jets.baler.parquet");
    let result = baler(&[
        "compress",
        jets.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--method",
        "ae",
        "--error-bound",
        "all=1e-2rel",
        "--epochs",
        "1",
        "--no-fallback",
        "--json",
    ]);
    assert!(
        result.status.success(),
        "{}",
        crate::common::stderr(&result)
    );
    let report: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    let estimates = report["estimates"].as_array().unwrap();
    // The autoencoder's final model was tried with each latent storage.
    let storages: Vec<&str> = estimates
        .iter()
        .filter(|e| e["method"] == "ae")
        .map(|e| e["latent_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        storages,
        [
            "Float16",
            "Float32 (0 mantissa bits)",
            "Float32 (2 mantissa bits)",
            "Float32 (4 mantissa bits)",
            "Float32 (7 mantissa bits)",
            "Float32 (10 mantissa bits)",
            "Float32"
        ]
    );
}

#[test]
fn bad_bounds_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let jets = generated(dir.path(), "jets.parquet", 500, 4);
    let out = dir.path().join("jets.baler.parquet");
    for (bound, message) in [
        ("ptt=1e-2rel", "`ptt`"),
        ("pt=1e-2", "`1e-2rel` (relative)"),
        ("pt", "not `column=bound`"),
        ("all=2rel", "below 1"),
    ] {
        let result = baler(&[
            "compress",
            jets.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--error-bound",
            bound,
            "--method",
            "predict",
        ]);
        let err = crate::common::stderr(&result);
        assert!(
            !result.status.success() && err.contains(message),
            "{bound}: {err}"
        );
        assert!(!out.exists());
    }
    let _: ErrorBounds = "pt=1e-2rel".parse().unwrap();
    let result = baler(&[
        "compress",
        jets.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--latent-type",
        "float16",
        "--latent-bits",
        "4",
    ]);
    let err = crate::common::stderr(&result);
    assert!(
        !result.status.success() && err.contains("`--latent-bits` rounds Float32 latents"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn predict_conditions_on_the_previous_jet_of_the_event_and_splits_streams() {
    let dir = tempfile::tempdir().unwrap();
    let jets = generated(dir.path(), "jets.parquet", 20_000, 6);
    let options = bounded(Method::Predict, "all=2e-2rel", 1);
    let report = check_bounds(&jets, dir.path(), &options, "events");
    let header = crate::compress::header_json(&dir.path().join("events.baler.parquet"));
    assert_eq!(header["event"], "event");
    let predictors = header["predictors"].as_array().unwrap();
    let lagged = predictors.iter().any(|p| {
        p["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["lag"] == "previous")
    });
    assert!(lagged, "no predictor uses the previous jet: {predictors:?}");
    let split = header["columns"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["split"].is_object());
    assert!(split, "no residual stream is split");
    // The same jets without their event index: no context, a larger file.
    let table = read_jets(&jets, &ReadOptions::default());
    let without = dir.path().join("no-events.parquet");
    let events = table.schema().index_of("event").unwrap();
    let mut columns: Vec<_> = table
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    columns[events] = "jet_event".into();
    let renamed = arrow::record_batch::RecordBatch::try_new(
        std::sync::Arc::new(arrow::datatypes::Schema::new(
            table
                .schema()
                .fields()
                .iter()
                .zip(&columns)
                .map(|(f, n)| f.as_ref().clone().with_name(n))
                .collect::<Vec<_>>(),
        )),
        table.columns().to_vec(),
    )
    .unwrap();
    crate::common::write_table(
        &without,
        columns
            .iter()
            .map(|n| n.as_str())
            .zip(renamed.columns().iter().cloned())
            .collect(),
    );
    let plain = CompressOptions {
        keep: vec!["jet_event".into()],
        ..options
    };
    let out = dir.path().join("no-events.baler.parquet");
    let no_context = compress::compress(&without, &out, &ReadOptions::default(), &plain).unwrap();
    // Jets come pt-ordered within an event: pt costs less given the previous jet's.
    let pt_bytes = |r: &CompressReport| -> usize {
        r.streams
            .iter()
            .filter(|s| s.column == "pt")
            .map(|s| s.bytes)
            .sum()
    };
    assert!(
        pt_bytes(&report) < pt_bytes(&no_context),
        "pt: {} B with event context, {} B without",
        pt_bytes(&report),
        pt_bytes(&no_context)
    );
}
