//! Whole trees: datasets of tables (`--collection all`), the per-event layout checked against
//! uproot, SQL joins across tables, and the errors of each.

use std::path::Path;

use crate::common::{baler, data, python_reference, stderr};

/// `tests/events_reference.py`'s summary of `parquet` against `root`: (branches, values,
/// missing branches); `None` when the uproot comparison is skipped.
fn events_reference(root: &Path, parquet: &Path, rel: f64) -> Option<(u64, u64, Vec<String>)> {
    let rel = rel.to_string();
    let out = python_reference(
        "events_reference.py",
        &[
            root.as_os_str(),
            parquet.as_os_str(),
            "--rel".as_ref(),
            rel.as_ref(),
        ],
    )?;
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let missing = v["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    Some((
        v["branches"].as_u64().unwrap(),
        v["values"].as_u64().unwrap(),
        missing,
    ))
}

fn run_ok(args: &[&str]) -> String {
    let out = baler(args);
    assert!(out.status.success(), "{args:?} failed: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `compress ROOT --collection all --method residual -o OUT`: its report. `residual` keeps the
/// debug-build tests short; the format and the guarantee are the same.
fn compress_all(root: &Path, out: &Path) -> String {
    run_ok(&[
        "compress",
        root.to_str().unwrap(),
        "--collection",
        "all",
        "--method",
        "residual",
        "-o",
        out.to_str().unwrap(),
        "-q",
    ])
}

/// `convert ROOT --layout events -o OUT`: its report.
fn convert_events(root: &Path, out: &Path) -> String {
    run_ok(&[
        "convert",
        root.to_str().unwrap(),
        "--layout",
        "events",
        "-o",
        out.to_str().unwrap(),
        "-q",
    ])
}

/// `decompress DATASET --layout events -o OUT --verify ROOT`: its report.
fn decompress_events(dataset: &Path, out: &Path, root: &Path) -> String {
    run_ok(&[
        "decompress",
        dataset.to_str().unwrap(),
        "--layout",
        "events",
        "-o",
        out.to_str().unwrap(),
        "--verify",
        root.to_str().unwrap(),
    ])
}

/// The bytes of every file in folder `dir`.
fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

fn sql_rows(query: &str, dataset: &Path) -> Vec<serde_json::Value> {
    let out = run_ok(&[
        "sql",
        query,
        "--dataset",
        dataset.to_str().unwrap(),
        "--format",
        "json",
    ]);
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_whole_nanoaod_file_compresses_and_round_trips_in_the_event_layout_as_uproot_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = data("cms_nanoaod_2015_ttbar.root");
    let (root_s, dir_s) = (root.to_str().unwrap(), dir.path());
    let compressed = dir_s.join("ttbar.baler");
    let lossless = dir_s.join("ttbar.dataset");
    let events = dir_s.join("ttbar.events.parquet");
    let report = compress_all(&root, &compressed);
    run_ok(&[
        "convert",
        root_s,
        "--collection",
        "all",
        "-o",
        lossless.to_str().unwrap(),
        "-q",
    ]);

    // 18 collections, the 4 bare arrays (`LHEPdfWeight`, …) and the event-level table.
    let tables: Vec<String> = std::fs::read_dir(&compressed)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(tables.len(), 23, "{tables:?}");
    for t in [
        "Jet",
        "Muon",
        "Electron",
        "GenPart",
        "LHEPdfWeight",
        "events",
    ] {
        assert!(tables.contains(&format!("{t}.parquet")), "{t}: {tables:?}");
        assert!(
            report.contains(&format!("\n{t} ")),
            "{t} in report:\n{report}"
        );
    }
    let root_bytes = std::fs::metadata(&root).unwrap().len();
    assert!(
        folder_bytes(&compressed) < root_bytes / 2
            && folder_bytes(&compressed) < folder_bytes(&lossless) / 2,
        "dataset {} B, lossless {} B, ROOT {root_bytes} B",
        folder_bytes(&compressed),
        folder_bytes(&lossless)
    );
    assert!(
        report.contains(&format!("the ROOT file: {root_bytes} B")),
        "{report}"
    );

    // Back to NanoAOD's layout, every table checked against the ROOT file by the tool, and
    // every branch by uproot.
    let out = decompress_events(&compressed, &events, &root);
    assert!(out.contains("verified 23 tables"), "{out}");
    if let Some((branches, values, missing)) =
        events_reference(&root, &events, baler_arrow::options::DEFAULT_RELATIVE_BOUND)
    {
        assert_eq!(branches, 947);
        assert!(values > 200_000, "{values}");
        assert!(missing.is_empty(), "{missing:?}");
    }

    // Or back to a folder of lossless tables, one per table.
    let restored = dir_s.join("restored");
    let out = run_ok(&[
        "decompress",
        compressed.to_str().unwrap(),
        "-o",
        restored.to_str().unwrap(),
        "-q",
    ]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("Jet ") && l.contains(" 537 ")),
        "{out}"
    );
    assert_eq!(std::fs::read_dir(&restored).unwrap().count(), 23);
    let jets = crate::common::read_parquet(&restored.join("Jet.parquet"));
    assert_eq!((jets.num_rows(), jets.num_columns()), (537, 41));

    // `inspect` lists every table.
    let listing = run_ok(&["inspect", compressed.to_str().unwrap()]);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("Jet ") && l.contains(" 537 ")),
        "{listing}"
    );

    // SQL joins across tables, on the compressed dataset as on the lossless one.
    let query = "SELECT count(*) AS jets, sum(j.pt) AS pt, max(e.MET_pt) AS met \
                 FROM Jet j JOIN events e USING (event) WHERE e.nMuon > 0";
    let (c, l) = (sql_rows(query, &compressed), sql_rows(query, &lossless));
    assert_eq!(c[0]["jets"], l[0]["jets"]);
    assert!(l[0]["jets"].as_u64().unwrap() > 0);
    for field in ["pt", "met"] {
        let (c, l) = (c[0][field].as_f64().unwrap(), l[0][field].as_f64().unwrap());
        assert!(
            (c - l).abs() <= baler_arrow::options::DEFAULT_RELATIVE_BOUND * l.abs(),
            "{field}: {c} against {l}"
        );
    }
}

#[test]
fn convert_writes_the_event_layout_bit_for_bit_as_uproot_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["cms_nanoaod_2015_ttbar.root", "cms_nanoaod_small_dy.root"] {
        let root = data(file);
        let events = dir.path().join(file).with_extension("parquet");
        let out = convert_events(&root, &events);
        assert!(out.contains(" events x "), "{out}");
        if let Some((branches, _, missing)) = events_reference(&root, &events, 0.0) {
            assert!(branches > 0);
            assert!(missing.is_empty(), "{file}: {missing:?}");
        }
    }
}

#[test]
fn a_dataset_whose_tables_disagree_with_their_counters_is_refused_naming_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let root = data("cms_nanoaod_2015_ttbar.root");
    let dataset = dir.path().join("d");
    run_ok(&[
        "convert",
        root.to_str().unwrap(),
        "--collection",
        "Jet,Muon,events",
        "-o",
        dataset.to_str().unwrap(),
        "-q",
    ]);
    let mut names: Vec<_> = std::fs::read_dir(&dataset)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["Jet.parquet", "Muon.parquet", "events.parquet"]);

    // The Jet table loses its last jet: the counters no longer add up.
    let jets = crate::common::read_parquet(&dataset.join("Jet.parquet"));
    let short = jets.slice(0, jets.num_rows() - 1);
    let file = std::fs::File::create(dataset.join("Jet.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, short.schema(), None).unwrap();
    writer.write(&short).unwrap();
    writer.close().unwrap();
    let out_file = dir.path().join("events.parquet");
    let out = baler(&[
        "decompress",
        dataset.to_str().unwrap(),
        "--layout",
        "events",
        "-o",
        out_file.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("table `Jet`")
            && err.contains("fewer rows than the `events` table's counter `nJet`"),
        "{err}"
    );
    assert!(!out_file.exists(), "no partial output");

    // One row too many is caught as well.
    let file = std::fs::File::create(dataset.join("Jet.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, jets.schema(), None).unwrap();
    writer.write(&jets).unwrap();
    writer.write(&jets.slice(0, 1)).unwrap();
    writer.close().unwrap();
    let err = stderr(&baler(&[
        "decompress",
        dataset.to_str().unwrap(),
        "--layout",
        "events",
        "-o",
        out_file.to_str().unwrap(),
    ]));
    assert!(
        err.contains("table `Jet`") && err.contains("more rows"),
        "{err}"
    );
    assert!(!out_file.exists(), "no partial output");
}

#[test]
fn dataset_options_that_cannot_work_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let root = data("cms_nanoaod_2015_ttbar.root");
    let root_s = root.to_str().unwrap();
    let out = dir.path().join("out");
    let out_s = out.to_str().unwrap();

    let err = stderr(&baler(&[
        "convert",
        root_s,
        "--collection",
        "Jet,Nope",
        "-o",
        out_s,
    ]));
    assert!(
        err.contains("table `Nope` is neither a collection (counter `nNope` with `Nope_*` arrays) nor `events`")
            && err.contains("collections: `CorrT1METJet`, `Electron`"),
        "{err}"
    );
    assert!(!out.exists());

    let jets = dir.path().join("jets.parquet");
    run_ok(&["convert", root_s, "-o", jets.to_str().unwrap(), "-q"]);
    let err = stderr(&baler(&[
        "compress",
        jets.to_str().unwrap(),
        "--collection",
        "all",
        "-o",
        out_s,
    ]));
    assert!(
        err.contains("is Parquet: a dataset of collections is read from a ROOT tree"),
        "{err}"
    );

    let err = stderr(&baler(&[
        "decompress",
        jets.to_str().unwrap(),
        "--layout",
        "events",
        "-o",
        out_s,
    ]));
    assert!(
        err.contains("`--layout events` needs a dataset folder"),
        "{err}"
    );
    assert!(!out.exists());

    // A folder without the events table has no counters to lay events out by.
    let partial = dir.path().join("partial");
    run_ok(&[
        "convert",
        root_s,
        "--collection",
        "Jet,Muon",
        "-o",
        partial.to_str().unwrap(),
        "-q",
    ]);
    let err = stderr(&baler(&[
        "decompress",
        partial.to_str().unwrap(),
        "--layout",
        "events",
        "-o",
        out_s,
    ]));
    assert!(err.contains("has no `events.parquet`"), "{err}");
    assert!(!out.exists());
}

#[test]
fn bounds_can_name_a_table_and_win_over_those_that_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let root = data("cms_nanoaod_2015_ttbar.root");
    let out = dir.path().join("d");
    let report = run_ok(&[
        "compress",
        root.to_str().unwrap(),
        "--collection",
        "Jet,Muon",
        "--method",
        "residual",
        "--error-bound",
        "all=1e-2rel,Jet.pt=1e-4rel,Muon.*=1e-3abs,eta=exact",
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let bound = |table: &str, column: &str| -> String {
        let t = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == table)
            .unwrap();
        let bounds = t["report"]["bounds"].as_array().unwrap();
        bounds
            .iter()
            .find(|b| b[0] == column)
            .map_or("none".into(), |b| b[1].as_str().unwrap().to_owned())
    };
    assert_eq!(bound("Jet", "pt"), "0.0001rel");
    assert_eq!(bound("Jet", "mass"), "0.01rel");
    assert_eq!(bound("Jet", "eta"), "exact");
    // The table's own `*` wins over the unscoped `eta=exact`.
    assert_eq!(bound("Muon", "eta"), "0.001abs");
    assert_eq!(bound("Muon", "pt"), "0.001abs");
}

#[test]
fn the_std_vector_collections_of_a_real_atlas_tree_compress_and_round_trip_as_uproot_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = data("atlas_minitree_issue816.root");
    let compressed = dir.path().join("atlas.baler");
    let events = dir.path().join("atlas.events.parquet");
    let report = compress_all(&root, &compressed);
    // Five collections of `std::vector` branches, by name, and the event-level table (with
    // each collection's counter, from the vectors' lengths).
    for (table, rows) in [
        ("offline_akt4_pf_NOSYS", 768),
        ("trigger_akt4_pf", 1951),
        ("offline_pv", 2977),
        ("truth_vx", 114_500),
        ("mcEventWeights", 2700),
        ("events", 100),
    ] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(&format!("{table} ")) && l.contains(&format!(" {rows} "))),
            "{table}: {report}"
        );
    }
    let bytes = folder_bytes(&compressed);
    let root_bytes = std::fs::metadata(&root).unwrap().len();
    assert!(bytes < root_bytes / 2, "{bytes} B against {root_bytes} B");

    let out = decompress_events(&compressed, &events, &root);
    assert!(out.contains("verified 6 tables"), "{out}");
    let layout = crate::common::read_parquet(&events);
    let schema = layout.schema();
    for (column, list) in [
        ("noffline_akt4_pf_NOSYS", false),
        ("offline_akt4_pf_NOSYS_pt", true),
        ("offline_akt4_pf_NOSYS_NNJvtPass", true),
        ("mcEventWeights", true),
        ("runNumber", false),
    ] {
        let field = schema.field_with_name(column).unwrap();
        assert_eq!(
            matches!(field.data_type(), arrow::datatypes::DataType::List(_)),
            list,
            "{column}"
        );
    }
    // Every numeric branch (the 8 `vector<vector<…>>` are not), each within the bound.
    if let Some((branches, values, missing)) =
        events_reference(&root, &events, baler_arrow::options::DEFAULT_RELATIVE_BOUND)
    {
        assert_eq!(branches, 7 + 27 + 5);
        assert!(values > 150_000, "{values}");
        assert!(missing.is_empty(), "{missing:?}");
    }
}

#[test]
fn vectors_named_alike_with_other_lengths_and_fixed_size_arrays_read_bit_for_bit_as_uproot_reads_them()
 {
    let dir = tempfile::tempdir().unwrap();
    // `rec_part_track_D0` and `rec_part_track_Z0` differ in length: two collections.
    let root = data("vectors_issue172.root");
    let listing = run_ok(&["inspect", root.to_str().unwrap()]);
    for c in [
        "`rec_part`",
        "`rec_part_track`",
        "`rec_part_track_Z0`",
        "`rec_part_px`",
    ] {
        assert!(
            listing.contains(&format!("collection {c}")),
            "{c}: {listing}"
        );
    }
    let events = dir.path().join("vectors.parquet");
    let convert = |root: &Path, out: &Path, layout: &[&str]| {
        let mut args = vec![
            "convert",
            root.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-q",
        ];
        args.extend(layout);
        run_ok(&args)
    };
    convert(&root, &events, &["--layout", "events"]);
    if let Some((branches, _, missing)) = events_reference(&root, &events, 0.0) {
        assert_eq!(branches, 10 + 6);
        assert!(missing.is_empty(), "{missing:?}");
    }

    // Fixed-size arrays are a column per element, `x[0]`, `x[1]`, … in a table; arrays counted
    // by a branch named `n` alone (`Af4[n]`, as their leaf titles say) are a collection named as
    // that counter, whose arrays keep their names.
    let root = data("sample_6.20.04_zlib.root");
    let listing = run_ok(&["inspect", root.to_str().unwrap()]);
    assert!(
        listing.contains("collection `n`: counter `n`, 11 arrays"),
        "{listing}"
    );
    let flat = dir.path().join("sample.parquet");
    convert(&root, &flat, &["--flat"]);
    let table = crate::common::read_parquet(&flat);
    let schema = table.schema();
    for (column, ty) in [
        ("af8[0]", arrow::datatypes::DataType::Float64),
        ("af8[2]", arrow::datatypes::DataType::Float64),
        ("ab[1]", arrow::datatypes::DataType::Boolean),
        ("au2[2]", arrow::datatypes::DataType::UInt16),
    ] {
        assert_eq!(
            schema.field_with_name(column).unwrap().data_type(),
            &ty,
            "{column}"
        );
    }
    assert!(schema.field_with_name("af8[3]").is_err());
    // In the event layout they are fixed-size lists again (`ab: 3 * bool`, as uproot reads).
    let events = dir.path().join("sample.events.parquet");
    convert(&root, &events, &["--layout", "events"]);
    let layout = crate::common::read_parquet(&events);
    assert!(matches!(
        layout.schema().field_with_name("af8").unwrap().data_type(),
        arrow::datatypes::DataType::FixedSizeList(_, 3)
    ));
    assert!(matches!(
        layout.schema().field_with_name("Af4").unwrap().data_type(),
        arrow::datatypes::DataType::List(_)
    ));
    if let Some((branches, _, missing)) = events_reference(&root, &events, 0.0) {
        assert_eq!(branches, 12 + 11 + 11);
        assert!(missing.is_empty(), "{missing:?}");
    }
}

#[test]
fn trees_inside_directories_read_as_uproot_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = data("nested_dirs.root");
    let listing = run_ok(&["inspect", root.to_str().unwrap()]);
    for tree in ["one/tree", "one/two/tree", "three/tree"] {
        assert!(
            listing.contains(&format!("  {tree}: ")),
            "{tree}: {listing}"
        );
    }
    let events = dir.path().join("nested.parquet");
    let convert = |root: &Path, tree: &str, out: &Path| {
        run_ok(&[
            "convert",
            root.to_str().unwrap(),
            "--tree",
            tree,
            "--layout",
            "events",
            "-o",
            out.to_str().unwrap(),
            "-q",
        ])
    };
    let reference = |root: &Path, tree: &str, out: &Path| {
        let out = python_reference(
            "events_reference.py",
            &[
                root.as_os_str(),
                out.as_os_str(),
                "--tree".as_ref(),
                tree.as_ref(),
            ],
        )?;
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        Some((
            v["branches"].as_u64().unwrap(),
            v["missing"].as_array().unwrap().len(),
        ))
    };
    convert(&root, "one/two/tree", &events);
    if let Some((branches, missing)) = reference(&root, "one/two/tree", &events) {
        // 7 scalars (a string dropped), 6 fixed-size arrays and the 6 arrays counted by `N`.
        assert_eq!((branches, missing), (19, 0));
    }

    // `std::vector`s inside a directory, their only basket in the tree record: `v_bool`,
    // `v_float` and `v_double` hold 2 values where the others hold 3, so they are collections
    // of their own.
    let root = data("vectors_in_dir_issue38a.root");
    let listing = run_ok(&["inspect", root.to_str().unwrap()]);
    for c in ["`v`", "`v_bool`", "`v_float`", "`v_double`"] {
        assert!(
            listing.contains(&format!("collection {c}")),
            "{c}: {listing}"
        );
    }
    let events = dir.path().join("vectors.parquet");
    convert(&root, "ntupler/tree", &events);
    if let Some((branches, missing)) = reference(&root, "ntupler/tree", &events) {
        assert_eq!((branches, missing), (9 + 4, 0));
    }
}

#[test]
fn packed_double32_and_float16_leaves_read_bit_for_bit_as_uproot_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = data("double32_float16.root");
    let events = dir.path().join("packed.parquet");
    convert_events(&root, &events);
    let table = crate::common::read_parquet(&events);
    let schema = table.schema();
    assert_eq!(
        schema.field_with_name("double32_10").unwrap().data_type(),
        &arrow::datatypes::DataType::Float64
    );
    assert_eq!(
        schema.field_with_name("float16_10").unwrap().data_type(),
        &arrow::datatypes::DataType::Float32
    );
    if let Some((branches, values, missing)) = events_reference(&root, &events, 0.0) {
        // 6 Double32_t and 4 Float16_t scalars, and one fixed-size array of each.
        assert_eq!((branches, values), (12, 17 * 10 + 2 * 17 * 3));
        assert!(missing.is_empty(), "{missing:?}");
    }
}

#[test]
fn a_collection_none_of_whose_arrays_agree_with_its_counter_is_refused_naming_both() {
    // `pmthits` is a std::vector named like the counter `npmthits`, whose lengths it does not
    // have (uproot reads it by its own lengths): refused, naming the counter, the array, the
    // basket and the counts, and nothing is written.
    let dir = tempfile::tempdir().unwrap();
    let root = data("pmthits_issue64.root");
    let events = dir.path().join("pmt.parquet");
    let run = baler(&[
        "convert",
        root.to_str().unwrap(),
        "--tree",
        "events/events",
        "--layout",
        "events",
        "-o",
        events.to_str().unwrap(),
        "-q",
    ]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "cannot read branch `npmthits` of tree `events/events` in `"
        ) && err.ends_with(
            "`: no array of collection `pmthits` agrees with it: `pmthits` cannot be read: the basket at byte 1023 holds 7872 values where the counter says 3 (entries' lengths disagree with the counter branch)\n"
        ),
        "{err}"
    );
    assert!(!events.exists());
}

#[test]
fn an_array_is_counted_by_the_branch_its_leaf_names_not_by_a_counter_named_like_it() {
    // `nJet` disagrees with `Jet_pt`'s lengths; the leaf title `Jet_pt[nJet_pt]` names the
    // counter that holds them, as uproot reads it.
    let dir = tempfile::tempdir().unwrap();
    let root = data("mismatched_jets.root");
    let listing = run_ok(&["inspect", root.to_str().unwrap()]);
    assert!(
        listing.contains("collection `Jet_pt`: counter `nJet_pt`, 1 arrays"),
        "{listing}"
    );
    let events = dir.path().join("jets.parquet");
    convert_events(&root, &events);
    if let Some((branches, values, missing)) = events_reference(&root, &events, 0.0) {
        assert_eq!((branches, values), (4, 3 * 40 + 57));
        assert!(missing.is_empty(), "{missing:?}");
    }
}

#[test]
fn baskets_written_without_entry_offsets_read_as_their_twin_with_offsets() {
    // The IO-features byte of each basket key (ROOT's `TBasket::Streamer` reads it when the
    // size field is negative) must not shift the key; uproot itself cannot read this file's
    // jagged branches, so it is checked against uproot's reading of its twin.
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("nooffsets.parquet");
    convert_events(&data("small_dy_nooffsets.root"), &events);
    let twin = data("cms_nanoaod_small_dy.root");
    if let Some((branches, values, missing)) = events_reference(&twin, &events, 0.0) {
        assert_eq!((branches, values), (8, 6938));
        assert!(missing.is_empty(), "{missing:?}");
    }
}
