//! The Parquet reader: flat tables pass through, list columns flatten to one row per jet.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Int32Array, ListArray, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Float32Type, Int32Type, Schema};
use baler_arrow::ingest::{self, ReadOptions};

use crate::common::{data, read_jets, read_parquet, write_table};

fn events() -> Vec<(&'static str, ArrayRef)> {
    let pt = ListArray::from_iter_primitive::<Float32Type, _, _>([
        Some(vec![Some(50.0), Some(30.5)]),
        Some(vec![]),
        Some(vec![Some(12.25)]),
    ]);
    let n = ListArray::from_iter_primitive::<Int32Type, _, _>([
        Some(vec![Some(7), Some(3)]),
        Some(vec![]),
        Some(vec![Some(1)]),
    ]);
    vec![
        (
            "event",
            Arc::new(UInt64Array::from(vec![10, 11, 12])) as ArrayRef,
        ),
        ("MET_pt", Arc::new(Float32Array::from(vec![1.0, 2.0, 3.0]))),
        ("label", Arc::new(StringArray::from(vec!["a", "b", "c"]))),
        ("Jet_pt", Arc::new(pt)),
        ("Jet_nConst", Arc::new(n)),
    ]
}

#[test]
fn list_columns_flatten_to_jets_with_their_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.parquet");
    write_table(&path, events());
    let reader = ingest::open(&path, &ReadOptions::default()).unwrap();
    let dropped: Vec<_> = reader
        .dropped()
        .iter()
        .map(|d| (d.name.clone(), d.reason.clone()))
        .collect();
    assert_eq!(
        dropped,
        [
            ("label".to_owned(), "`Utf8` is not numeric".to_owned()),
            (
                "MET_pt".to_owned(),
                "one value per event, not per jet".to_owned()
            ),
        ]
    );
    let jets = read_jets(&path, &ReadOptions::default());
    let expected = Schema::new(vec![
        Field::new("event", DataType::UInt64, false),
        Field::new("pt", DataType::Float32, true),
        Field::new("nConst", DataType::Int32, true),
    ]);
    assert_eq!(jets.schema().as_ref(), &expected);
    assert_eq!(
        jets.column(0).as_ref(),
        &UInt64Array::from(vec![10, 10, 12]) as &dyn arrow::array::Array
    );
    assert_eq!(
        jets.column(1).as_ref(),
        &Float32Array::from(vec![50.0, 30.5, 12.25]) as &dyn arrow::array::Array
    );
    assert_eq!(
        jets.column(2).as_ref(),
        &Int32Array::from(vec![7, 3, 1]) as &dyn arrow::array::Array
    );
}

#[test]
fn list_columns_of_different_lengths_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.parquet");
    let mut columns = events();
    columns[4].1 = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>([
        Some(vec![Some(7), Some(3)]),
        Some(vec![Some(2)]),
        Some(vec![Some(1)]),
    ]));
    write_table(&path, columns);
    let err = ingest::open(&path, &ReadOptions::default())
        .unwrap()
        .find_map(Result::err)
        .unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "column `Jet_nConst` in `{}`: row 1 has 1 values where `Jet_pt` has 0; list columns must have equal lengths",
            path.display()
        )
    );
}

#[test]
fn converted_parquet_reads_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ttbar.parquet");
    let root = data("cms_nanoaod_2015_ttbar.root");
    baler_arrow::convert::convert(&root, &out, &ReadOptions::default(), &Default::default())
        .unwrap();
    let from_root = read_jets(&root, &ReadOptions::default());
    let from_parquet = read_jets(&out, &ReadOptions::default());
    assert_eq!(from_parquet, from_root);
    assert_eq!(read_parquet(&out), from_root);
}
