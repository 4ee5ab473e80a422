//! The fuzz corpus (`fuzz/corpus`, the failures found and fixed, and a few good files) replayed
//! through every reader, then a bounded number of deterministic mutations of each corpus file
//! and of every bundled file: no input may panic, and a failed compression leaves no file.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use baler_arrow::fuzzing::{self, Outcome};
use baler_arrow::ingest::ReadOptions;

use crate::common::data;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
}

/// Runs `target` on `bytes`; a panic fails the test, naming the input.
fn no_panic(what: &str, target: impl FnOnce() -> Outcome) -> Outcome {
    catch_unwind(AssertUnwindSafe(target)).unwrap_or_else(|_| panic!("{what} panicked"))
}

/// Each corpus file, and `mutations` mutations of it, through `target`; returns the names of
/// the corpus files that read.
fn replay(name: &str, mutations: u64, target: &dyn Fn(&[u8]) -> Outcome) -> Vec<String> {
    let mut read = Vec::new();
    for file in corpus(name) {
        let bytes = std::fs::read(&file).unwrap();
        let shown = file.file_name().unwrap().to_string_lossy().into_owned();
        if no_panic(&shown, || target(&bytes)) == Outcome::Read {
            read.push(shown.clone());
        }
        for seed in 0..mutations {
            let mutated = fuzzing::mutate(&bytes, seed);
            no_panic(&format!("{shown} mutation {seed}"), || target(&mutated));
        }
    }
    read
}

#[test]
fn the_corpus_and_its_mutations_never_crash_the_input_reader() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("input");
    let read = replay("input_file", 150, &|b| fuzzing::input_file(b, &scratch));
    // The good file reads; so do the two whose only damage is one key of `Jet_pt` (that branch
    // is left out by name, `ingest_root::a_damaged_basket_key_leaves_out_its_branch_by_name…`);
    // damaged counters and tree records are refused.
    assert_eq!(
        read,
        [
            "dy.root",
            "huge_basket_length.root",
            "negative_basket_length.root"
        ],
        "the good file reads, the damaged ones are refused"
    );
}

#[test]
fn the_corpus_and_its_mutations_never_crash_the_compressed_file_reader() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("file.parquet");
    let read = replay("compressed_file", 400, &|b| {
        fuzzing::compressed_file(b, &scratch)
    });
    assert_eq!(read, ["dy-ae.baler.parquet", "dy.baler.parquet"]);
}

#[test]
fn the_corpus_and_its_mutations_never_crash_the_header_parser() {
    let read = replay("header", 400, &fuzzing::header);
    // The good predict header builds its codec (an autoencoder's needs its weights); the
    // crafted ones are refused.
    assert_eq!(read, ["dy.json"]);
}

#[test]
fn mutated_bundled_files_never_crash_a_reader_or_leave_an_output() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("input");
    let out = dir.path().join("out.baler.parquet");
    for name in [
        "cms_nanoaod_small_dy.root",
        "cms_zmumu_2010.root",
        "zstd_jets.root",
        "lz4_jets.root",
    ] {
        let bytes = std::fs::read(data(name)).unwrap();
        for seed in 0..60 {
            let mutated = fuzzing::mutate(&bytes, seed);
            no_panic(&format!("{name} mutation {seed}"), || {
                fuzzing::input_file(&mutated, &scratch)
            });
            if seed % 10 == 0 {
                // Compressing a damaged input fails cleanly or succeeds: never a partial file.
                let result = catch_unwind(AssertUnwindSafe(|| {
                    baler_arrow::compress::compress(
                        &scratch,
                        &out,
                        &ReadOptions::default(),
                        &baler_arrow::options::CompressOptions {
                            force: true,
                            ..Default::default()
                        },
                    )
                }))
                .unwrap_or_else(|_| panic!("compressing {name} mutation {seed} panicked"));
                if result.is_err() {
                    assert!(!out.exists(), "{name} mutation {seed} left an output");
                } else {
                    baler_arrow::verify::verify(&scratch, &out, &ReadOptions::default()).unwrap();
                    std::fs::remove_file(&out).unwrap();
                }
            }
        }
    }
}
