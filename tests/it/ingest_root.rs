//! The ROOT reader against uproot, value for value, and its errors on bad files.

use baler_arrow::Error;
use baler_arrow::ingest::{self, Layout, ReadOptions};

use crate::common::{data, read_jets, uproot_reference};

/// Every jet file and the flat tree read exactly as uproot reads them: same columns, same
/// types, same bits.
fn assert_equals_uproot(name: &str, tree: &str, layout: &str, batch_rows: usize) {
    let dir = tempfile::tempdir().unwrap();
    let file = data(name);
    let Some(expected) = uproot_reference(&file, tree, layout, &dir.path().join("ref.parquet"))
    else {
        return;
    };
    let options = ReadOptions::default().with_batch_rows(batch_rows);
    let actual = read_jets(&file, &options);
    assert_eq!(
        actual.schema().fields().len(),
        expected.schema().fields().len(),
        "{name}"
    );
    for (a, e) in actual
        .schema()
        .fields()
        .iter()
        .zip(expected.schema().fields())
    {
        assert_eq!(
            (a.name(), a.data_type()),
            (e.name(), e.data_type()),
            "{name}"
        );
    }
    assert_eq!(actual.num_rows(), expected.num_rows(), "{name}");
    for (i, field) in expected.schema().fields().iter().enumerate() {
        assert_eq!(
            actual.column(i).to_data(),
            expected.column(i).to_data(),
            "{name}: column `{}` differs from uproot",
            field.name()
        );
    }
}

#[test]
fn nanoaod_ttbar_matches_uproot() {
    // Every Jet_* basket of this file is stored inside the TTree record.
    assert_equals_uproot(
        "cms_nanoaod_2015_ttbar.root",
        "Events",
        "--collection Jet",
        100,
    );
}

#[test]
fn tutorial_hzz_matches_uproot() {
    assert_equals_uproot(
        "cms_hzz_2012_tutorial.root",
        "events",
        "--collection Jet",
        1000,
    );
}

#[test]
fn nanoaod_dy_with_several_baskets_matches_uproot() {
    assert_equals_uproot("cms_nanoaod_small_dy.root", "tree", "--collection Jet", 333);
}

#[test]
fn flat_zmumu_matches_uproot() {
    assert_equals_uproot("cms_zmumu_2010.root", "events", "--flat", 500);
}

#[test]
fn a_file_with_zstd_compressed_records_reads_as_its_zlib_twin() {
    // The same 2010 dimuon events written with zstd, streamer records included (oxyroot 0.1.25
    // could not open it; `vendor/oxyroot` can).
    assert_equals_uproot("zmumu_2010_zstd.root", "events", "--flat", 500);
    let zstd = read_jets(&data("zmumu_2010_zstd.root"), &ReadOptions::default());
    let zlib = read_jets(&data("cms_zmumu_2010.root"), &ReadOptions::default());
    assert_eq!(zstd.num_rows(), 2304);
    assert_eq!(zstd, zlib);
}

#[test]
fn generated_fixtures_match_uproot() {
    for name in ["multibasket_jets.root", "zstd_jets.root", "lz4_jets.root"] {
        assert_equals_uproot(name, "Events", "--collection Jet", 64);
    }
}

#[test]
fn jets_carry_their_event_number_and_batches_stay_bounded() {
    let reader = ingest::open(
        &data("cms_nanoaod_small_dy.root"),
        &ReadOptions::default().with_batch_rows(500),
    )
    .unwrap();
    assert_eq!(reader.total_rows(), Some(2165));
    let names: Vec<_> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["event", "jetId", "pt"]);
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    // Batches end on event boundaries, so one may run over by the jets of its last event.
    assert!(
        batches.iter().all(|b| b.num_rows() < 500 + 20),
        "{:?}",
        batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>()
    );
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2165);
}

#[test]
fn the_string_branch_of_a_flat_tree_is_dropped_and_named() {
    let reader = ingest::open(&data("cms_zmumu_2010.root"), &ReadOptions::default()).unwrap();
    let dropped: Vec<_> = reader
        .dropped()
        .iter()
        .map(|d| (d.name.as_str(), d.reason.as_str()))
        .collect();
    assert_eq!(dropped, [("Type", "`char*` is not a number")]);
    assert_eq!(reader.schema().fields().len(), 19);
}

/// The error from opening `name` or reading its batches.
fn open_err(name: &str, options: &ReadOptions) -> String {
    let err = match ingest::open(&data(name), options) {
        Err(e) => e,
        Ok(mut reader) => reader.find_map(Result::err).expect("an error"),
    };
    err.to_string().replace(&*data("").to_string_lossy(), "")
}

#[test]
fn bad_root_files_give_exact_errors() {
    let auto = ReadOptions::default();
    let cases = [
        ("not_root.root", &auto, "`not_root.root` is not a ROOT or Parquet file (expected the magic bytes `root` or `PAR1`)".to_owned()),
        ("truncated.root", &auto, "cannot read ROOT file `truncated.root`: file is truncated: header says 22443 bytes, file has 13465".to_owned()),
        ("two_trees.root", &auto, "several trees; choose one with `--tree` in `two_trees.root`; trees in the file: `a`, `b`".to_owned()),
        ("two_collections.root", &auto, "several collections and none named `Jet`; choose one with `--collection` in tree `Events` of `two_collections.root`; collections: `Muon`, `Electron`".to_owned()),
        ("no_numeric.root", &auto, "`no_numeric.root` has no numeric column to read".to_owned()),
    ];
    for (name, options, expected) in cases {
        assert_eq!(open_err(name, options), expected, "{name}");
    }
}

#[test]
fn a_missing_tree_or_collection_lists_what_exists() {
    let tree = ReadOptions::default().with_tree(Some("Jets".into()));
    assert_eq!(
        open_err("cms_hzz_2012_tutorial.root", &tree),
        "tree `Jets` not found in `cms_hzz_2012_tutorial.root`; trees in the file: `events`"
    );
    let collection = ReadOptions::default().with_layout(Layout::Collection("FatJet".into()));
    assert_eq!(
        open_err("cms_hzz_2012_tutorial.root", &collection),
        "collection `FatJet` (counter `nFatJet` and `FatJet_*` arrays) not found in tree `events` of `cms_hzz_2012_tutorial.root`; collections: `Jet`, `Muon`, `Electron`, `Photon`"
    );
}

#[test]
fn a_missing_file_names_the_path() {
    let err = ingest::open("no/such/file.root".as_ref(), &ReadOptions::default())
        .err()
        .unwrap();
    assert!(matches!(err, Error::Open { .. }));
    assert_eq!(err.to_string(), "cannot open `no/such/file.root`");
}

#[test]
fn other_collections_are_read_when_asked() {
    let options = ReadOptions::default().with_layout(Layout::Collection("Muon".into()));
    let muons = read_jets(&data("two_collections.root"), &options);
    assert_eq!(muons.num_rows(), 36);
    let names: Vec<_> = muons
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["event", "pt", "eta"]);
}

#[test]
fn a_damaged_basket_key_leaves_out_its_branch_by_name_and_the_others_read_as_before() {
    // The fuzz corpus's copy of `cms_nanoaod_small_dy.root` whose `Jet_pt` basket key says
    // 2^31 - 1 uncompressed bytes: `Jet_pt` is left out, named with the key and the length, and
    // `event` and `jetId` are the original's, value for value.
    let damaged = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus/input_file/huge_basket_length.root");
    let options = ReadOptions::default();
    let reader = ingest::open(&damaged, &options).unwrap();
    assert_eq!(
        reader.dropped(),
        [baler_arrow::ingest::DroppedColumn::unreadable(
            "Jet_pt",
            "corrupt key of basket `Jet_pt` (tree `tree`) at byte 1510: uncompressed length 2147483647"
        )]
    );
    let read = ingest::read_table(&damaged, &options).unwrap();
    let original = ingest::read_table(&data("cms_nanoaod_small_dy.root"), &options).unwrap();
    let names: Vec<_> = read
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["event", "jetId"]);
    for name in names {
        assert_eq!(
            read.column_by_name(&name).unwrap(),
            original.column_by_name(&name).unwrap(),
            "{name}"
        );
    }
}
