//! SQL over compressed files: the same answers as over the decompressed Parquet, the decoder run
//! once per batch, and clear errors.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, UInt64Array};
use arrow::util::pretty::pretty_format_batches;
use baler_arrow::ingest::ReadOptions;
use baler_arrow::progress::NoProgress;
use baler_arrow::{compress, decode};
use baler_udfs::table::register_compressed;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

use crate::common::write_table;
use crate::compress::generated;

const ROWS: u64 = 20_000;
/// Rows per block of the compressed file: several blocks, so that partitions share them.
const BLOCK_ROWS: usize = 8192;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// One partition and 8192-row batches, so that results and batch counts are deterministic.
/// Identifiers keep their case (`mChargedMultiplicity`), as in the CLI.
fn context() -> SessionContext {
    let config = SessionConfig::new()
        .with_target_partitions(1)
        .with_batch_size(8192)
        .set_bool("datafusion.sql_parser.enable_ident_normalization", false);
    SessionContext::new_with_config(config)
}

/// Generated jets compressed (`jets.baler.parquet`) and decompressed (`jets.restored.parquet`),
/// plus a plain per-event table (`weights.parquet`).
fn files(dir: &Path) {
    let input = generated(dir, "jets.parquet", ROWS, 5);
    let options = crate::compress::options_with_latent(6, 2);
    compress::compress(
        &input,
        &dir.join("jets.baler.parquet"),
        &ReadOptions::default().with_batch_rows(BLOCK_ROWS),
        &options,
    )
    .unwrap();
    decode::decompress(
        &dir.join("jets.baler.parquet"),
        &dir.join("jets.restored.parquet"),
        false,
        &NoProgress,
    )
    .unwrap();
    let events = ROWS / 4;
    write_table(
        &dir.join("weights.parquet"),
        vec![
            (
                "event",
                Arc::new(UInt64Array::from_iter_values(0..events)) as ArrayRef,
            ),
            (
                "weight",
                Arc::new(Float64Array::from_iter_values(
                    (0..events).map(|e| 1.0 + (e % 3) as f64),
                )),
            ),
        ],
    );
}

async fn query(ctx: &SessionContext, sql: &str) -> String {
    let batches: Vec<RecordBatch> = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

const QUERIES: [&str; 7] = [
    "SELECT event, pt, eta, mChargedMultiplicity FROM jets ORDER BY event, pt LIMIT 50",
    "SELECT count(*), sum(pt), avg(mass) FROM jets WHERE eta > 2",
    "SELECT count(*), max(event) FROM jets WHERE event < 100",
    "SELECT avg(pt), min(mass), max(mNeutralMultiplicity), sum(mJetArea) FROM jets",
    "SELECT floor(pt / 20) AS bin, count(*) AS n FROM jets GROUP BY bin ORDER BY bin",
    "SELECT j.event, sum(j.pt * w.weight) AS ht FROM jets j JOIN weights w ON j.event = w.event GROUP BY j.event ORDER BY ht DESC LIMIT 10",
    "SELECT event, pt FROM jets ORDER BY pt DESC LIMIT 5",
];

#[test]
fn queries_agree_between_compressed_and_decompressed_data() {
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    runtime().block_on(async {
        let compressed = context();
        register_compressed(&compressed, "jets", &dir.path().join("jets.baler.parquet"))
            .await
            .unwrap();
        let plain = context();
        let restored = dir.path().join("jets.restored.parquet");
        plain
            .register_parquet(
                "jets",
                restored.to_str().unwrap(),
                ParquetReadOptions::default(),
            )
            .await
            .unwrap();
        let weights = dir.path().join("weights.parquet");
        for ctx in [&compressed, &plain] {
            ctx.register_parquet(
                "weights",
                weights.to_str().unwrap(),
                ParquetReadOptions::default(),
            )
            .await
            .unwrap();
        }
        for sql in QUERIES {
            let a = query(&compressed, sql).await;
            let b = query(&plain, sql).await;
            assert_eq!(a, b, "{sql}");
            assert!(a.lines().count() > 4, "{sql} returned nothing:\n{a}");
        }
    });
}

#[test]
fn the_decoder_runs_once_per_block_and_not_for_pass_through_columns() {
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    runtime().block_on(async {
        let ctx = context();
        let func = register_compressed(&ctx, "jets", &dir.path().join("jets.baler.parquet"))
            .await
            .unwrap();
        let blocks = ROWS.div_ceil(BLOCK_ROWS as u64);

        query(&ctx, "SELECT count(*) FROM jets WHERE event < 100").await;
        query(&ctx, "SELECT event FROM jets ORDER BY event LIMIT 3").await;
        assert_eq!(func.decodes(), 0, "pass-through columns need no decoding");

        query(&ctx, "SELECT pt, eta, mass, mPhotonEnergy FROM jets").await;
        assert_eq!(
            func.decodes(),
            blocks,
            "four decoded columns, one decode per block"
        );

        query(&ctx, "SELECT avg(pt) FROM jets WHERE eta > 2").await;
        assert_eq!(
            func.decodes(),
            2 * blocks,
            "a filter and a projection on decoded columns share one decode per block"
        );
    });
}

#[test]
fn the_decode_function_is_callable_on_the_stored_table() {
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    runtime().block_on(async {
        let ctx = context();
        let func = register_compressed(&ctx, "jets", &dir.path().join("jets.baler.parquet")).await.unwrap();
        let name = datafusion::logical_expr::ScalarUDFImpl::name(func.as_ref()).to_owned();
        let via_udf = query(&ctx, &format!("SELECT get_field(r, 'pt') AS pt FROM (SELECT unnest({name}(baler_data)) AS r FROM jets_stored) ORDER BY pt DESC LIMIT 3")).await;
        let via_table = query(&ctx, "SELECT pt FROM jets ORDER BY pt DESC LIMIT 3").await;
        assert_eq!(via_udf, via_table);
        let count = query(&ctx, &format!("SELECT count(*) AS n FROM (SELECT unnest({name}(baler_data)) FROM jets_stored)")).await;
        assert!(count.contains(&ROWS.to_string()), "{count}");

        let err = ctx.sql(&format!("SELECT {name}(baler_rows) FROM jets_stored")).await.unwrap_err().to_string();
        assert!(err.contains(&name) && err.contains("Binary"), "{err}");
        let err = ctx.sql(&format!("SELECT {name}(baler_data, baler_rows) FROM jets_stored")).await.unwrap_err().to_string();
        assert!(err.contains(&name), "{err}");
    });
}

#[test]
fn the_sql_command_prints_csv_and_json() {
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    let compressed = format!("jets={}", dir.path().join("jets.baler.parquet").display());
    let plain = format!(
        "jets={}",
        dir.path().join("jets.restored.parquet").display()
    );
    let query = "SELECT count(*) AS n, max(event) AS last FROM jets WHERE event < 100";
    let run = |table: &str, format: &str| {
        let out = crate::common::baler(&["sql", query, "--table", table, "--format", format]);
        assert!(out.status.success(), "{}", crate::common::stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let csv = run(&compressed, "csv");
    assert!(csv.starts_with("n,last\n"), "{csv}");
    assert_eq!(csv, run(&plain, "csv"));
    let json: serde_json::Value = serde_json::from_str(&run(&compressed, "json")).unwrap();
    assert_eq!(json[0]["last"], 99);
}

#[test]
fn unusable_compressed_files_are_clear_errors() {
    use crate::compress::{flip_char, footer, with_footer_entry, with_header};
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    let good = dir.path().join("jets.baler.parquet");
    let kv = footer(&good);
    let version = dir.path().join("version.parquet");
    with_footer_entry(&good, &version, "baler.format", "9");
    let sum = dir.path().join("sum.parquet");
    with_footer_entry(
        &good,
        &sum,
        "baler.weights",
        &flip_char(&kv["baler.weights"], 200),
    );
    let width = dir.path().join("width.parquet");
    with_header(&good, &width, |h| {
        h["model"]["latent"] = 5.into();
        h["latent"]["columns"].as_array_mut().unwrap().pop();
    });
    let mixed = dir.path().join("mixed");
    std::fs::create_dir(&mixed).unwrap();
    std::fs::copy(&good, mixed.join("a.parquet")).unwrap();
    let other_input = crate::compress::generated(dir.path(), "other.parquet", 3000, 9);
    let options = crate::compress::options_with_latent(6, 1);
    compress::compress(
        &other_input,
        &mixed.join("b.parquet"),
        &ReadOptions::default(),
        &options,
    )
    .unwrap();

    runtime().block_on(async {
        let register = |path: std::path::PathBuf| async move {
            let ctx = context();
            baler_arrow::sql::register(&ctx, "jets", &path).await.unwrap_err()
        };
        // The innermost cause: what is wrong with the file.
        let cause = |e: baler_arrow::Error| {
            let mut err: &dyn std::error::Error = &e;
            while let Some(next) = err.source() {
                err = next;
            }
            err.to_string()
        };
        assert_eq!(cause(register(version).await), "unsupported baler format version `9` (this build reads version 3)");
        let e = cause(register(sum).await);
        assert!(e.starts_with("footer entry `baler.weights` is damaged: "), "{e}");
        let e = cause(register(width).await);
        assert_eq!(e, "invalid `baler.header`: tensor `decoder.l0.weight` has 300 values, the header's model needs 250");
        assert_eq!(
            cause(register(mixed.clone()).await),
            format!(
                "`{}` and `{}` were compressed with different models; register them as separate tables",
                mixed.join("a.parquet").display(),
                mixed.join("b.parquet").display()
            )
        );
    });
}

#[test]
fn a_projection_decodes_to_the_same_bits_as_the_whole_block() {
    // Method `predict` decodes only the columns asked for and those their predictions use:
    // every single column, and the SQL queries, must come out as from the whole block.
    let dir = tempfile::tempdir().unwrap();
    let input = generated(dir.path(), "jets.parquet", ROWS, 7);
    let out = dir.path().join("predict.baler.parquet");
    compress::compress(
        &input,
        &out,
        &ReadOptions::default().with_batch_rows(BLOCK_ROWS),
        &baler_arrow::options::CompressOptions {
            method: Some(baler_arrow::options::Method::Predict),
            fallback_lossless: false,
            ..baler_arrow::options::CompressOptions::default()
        },
    )
    .unwrap();
    let file = baler_udfs::file::CompressedFile::open(&out).unwrap();
    let block = file.read_block(1).unwrap();
    let whole = file.codec.decode_block(&block).unwrap();
    let mut with_dependencies = 0;
    for i in 0..whole.num_columns() {
        let (one, model) = file.codec.decode_projected(&block, &[i]).unwrap();
        assert_eq!(one.column(0), whole.column(i), "column {i}");
        with_dependencies += usize::from(model);
    }
    assert!(with_dependencies > 10, "{with_dependencies}");
    let restored = dir.path().join("predict.restored.parquet");
    decode::decompress(&out, &restored, false, &NoProgress).unwrap();
    runtime().block_on(async {
        let compressed = context();
        register_compressed(&compressed, "jets", &out)
            .await
            .unwrap();
        let plain = context();
        plain
            .register_parquet(
                "jets",
                restored.to_str().unwrap(),
                ParquetReadOptions::default(),
            )
            .await
            .unwrap();
        for sql in QUERIES.iter().filter(|q| !q.contains("weights")) {
            assert_eq!(
                query(&compressed, sql).await,
                query(&plain, sql).await,
                "{sql}"
            );
        }
    });
}

#[test]
fn blocks_whose_decoded_statistics_rule_a_filter_out_are_not_decoded() {
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    let restored = crate::common::read_parquet(&dir.path().join("jets.restored.parquet"));
    let pt = restored
        .column_by_name("pt")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::Float32Array>()
        .unwrap();
    let top = arrow::compute::max(pt).unwrap();
    runtime().block_on(async {
        let ctx = context();
        let func = register_compressed(&ctx, "jets", &dir.path().join("jets.baler.parquet"))
            .await
            .unwrap();
        let plain = context();
        plain
            .register_parquet(
                "jets",
                dir.path().join("jets.restored.parquet").to_str().unwrap(),
                ParquetReadOptions::default(),
            )
            .await
            .unwrap();
        let blocks = ROWS.div_ceil(BLOCK_ROWS as u64);
        assert!(blocks >= 3);

        // The events of the first block only: the other blocks are not even read.
        let sql = "SELECT count(*), avg(pt) FROM jets WHERE event < 100";
        assert_eq!(query(&ctx, sql).await, query(&plain, sql).await);
        assert_eq!(func.decodes(), 1, "one block holds events below 100");

        // The largest decoded pt lies in one block; the others' maxima rule them out.
        let sql = format!("SELECT count(*), min(pt) FROM jets WHERE pt >= CAST({top} AS FLOAT)");
        let answer = query(&ctx, &sql).await;
        assert_eq!(answer, query(&plain, &sql).await);
        assert!(answer.contains(&format!("| {top}")), "{answer}");
        assert_eq!(
            func.decodes(),
            2,
            "only the block with the largest pt is decoded"
        );

        // A filter statistics cannot decide decodes every block, and still answers right.
        let sql = "SELECT count(*), sum(pt) FROM jets WHERE eta > 2";
        assert_eq!(query(&ctx, sql).await, query(&plain, sql).await);
        assert_eq!(func.decodes(), 2 + blocks);
    });
}
