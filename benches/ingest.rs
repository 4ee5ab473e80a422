//! Ingest throughput: ROOT and Parquet to Arrow jet batches, in jets per second.
//!
//! The ROOT case reads the bundled NanoAOD sample, and a large generated file when
//! `BALER_BENCH_ROOT` names one (`benches/ingest_vs_uproot.sh` writes it and compares with
//! uproot in the same run). The Parquet case reads generated jets written here.

use std::path::{Path, PathBuf};

use baler_arrow::generate::write_parquet;
use baler_arrow::ingest::{self, ReadOptions};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Reads every batch of `path`; returns the number of jets.
fn read_all(path: &Path) -> u64 {
    let reader = ingest::open(path, &ReadOptions::default()).expect("readable input");
    reader
        .map(|b| b.expect("valid batch").num_rows() as u64)
        .sum()
}

fn bench_file(c: &mut Criterion, id: &str, path: &Path) {
    let jets = read_all(path);
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(jets));
    group.sample_size(10);
    group.bench_function(format!("{id}/{jets}"), |b| {
        b.iter(|| std::hint::black_box(read_all(path)))
    });
    group.finish();
}

fn ingest(c: &mut Criterion) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    bench_file(
        c,
        "root_nanoaod_ttbar",
        &manifest.join("tests/data/cms_nanoaod_2015_ttbar.root"),
    );
    if let Some(path) = std::env::var_os("BALER_BENCH_ROOT").map(PathBuf::from) {
        bench_file(c, "root_generated", &path);
    }
    let dir = tempfile::tempdir().expect("temporary folder");
    let parquet = dir.path().join("jets.parquet");
    write_parquet(&parquet, 200_000, 1, true).expect("written");
    bench_file(c, "parquet_generated", &parquet);
}

criterion_group!(benches, ingest);
criterion_main!(benches);
