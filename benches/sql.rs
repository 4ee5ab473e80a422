//! `SELECT avg(pt) FROM jets WHERE eta > 2` on compressed jets against the same jets as plain
//! Parquet, in one run. `BALER_BENCH_JETS` sets the number of generated jets (default 100 000;
//! README's figures use 600 000 through `benches/sql_vs_plain.sh`).

use std::path::Path;

use baler_arrow::compress;
use baler_arrow::generate::{DEFAULT_SEED, write_parquet};
use baler_arrow::ingest::ReadOptions;
use baler_arrow::model::TrainConfig;
use baler_arrow::options::CompressOptions;
use baler_arrow::sql;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::prelude::SessionContext;

const QUERY: &str = "SELECT avg(pt) FROM jets WHERE eta > 2";

fn session(runtime: &tokio::runtime::Runtime, path: &Path) -> SessionContext {
    runtime.block_on(async {
        let ctx = sql::session();
        sql::register(&ctx, "jets", path).await.expect("registered");
        ctx
    })
}

fn bench(c: &mut Criterion) {
    let rows = std::env::var("BALER_BENCH_JETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000u64);
    let dir = tempfile::tempdir().expect("temporary folder");
    let plain = dir.path().join("jets.parquet");
    let compressed = dir.path().join("jets.baler.parquet");
    write_parquet(&plain, rows, DEFAULT_SEED, true).expect("written");
    // One epoch: the decoder costs the same whatever its training.
    let options = CompressOptions {
        train: TrainConfig {
            epochs: 1,
            ..TrainConfig::default()
        },
        ..CompressOptions::default()
    };
    compress::compress(&plain, &compressed, &ReadOptions::default(), &options).expect("compressed");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("sql");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows));
    for (name, path) in [("plain", &plain), ("compressed", &compressed)] {
        let ctx = session(&runtime, path);
        group.bench_function(format!("avg_pt_eta_gt_2/{name}/{rows}"), |b| {
            b.iter(|| runtime.block_on(async { sql::run(&ctx, QUERY).await.expect("query") }))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
