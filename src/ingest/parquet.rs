//! Parquet input: numeric columns, and list columns of numbers flattened to one row per element.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, GenericListArray, OffsetSizeTrait, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::types::NumericType;
use super::{DroppedColumn, EVENT_COLUMN, Format, JetReader, Layout, ReadOptions};
use crate::error::{Error, Result};

/// How an input column is used.
enum Role {
    Scalar,
    List,
}

fn role(field: &Field) -> Option<Role> {
    match field.data_type() {
        DataType::List(item) | DataType::LargeList(item) => {
            NumericType::from_arrow(item.data_type()).map(|_| Role::List)
        }
        dt => NumericType::from_arrow(dt).map(|_| Role::Scalar),
    }
}

/// The plan for one file: which input columns become which output columns.
struct Plan {
    /// Indices (in the file's schema) of the columns to read, in output order.
    read: Vec<usize>,
    /// For a jagged table: the position (in `read`) of the `event` column, if present.
    event: Option<usize>,
    jagged: bool,
    schema: SchemaRef,
    dropped: Vec<DroppedColumn>,
}

fn plan(path: &Path, schema: &Schema, layout: &Layout) -> Result<Plan> {
    let mut dropped = Vec::new();
    let mut scalars = Vec::new();
    let mut lists = Vec::new();
    for (i, field) in schema.fields().iter().enumerate() {
        match role(field) {
            Some(Role::Scalar) => scalars.push(i),
            Some(Role::List) => lists.push(i),
            None => dropped.push(DroppedColumn {
                name: field.name().clone(),
                reason: format!("`{}` is not numeric", field.data_type()),
            }),
        }
    }
    if let Layout::Collection(name) = layout {
        let prefix = format!("{name}_");
        let (keep, other): (Vec<_>, Vec<_>) = lists
            .into_iter()
            .partition(|&i| schema.field(i).name().starts_with(&prefix));
        if keep.is_empty() {
            return Err(Error::Collection {
                path: path.to_owned(),
                tree: "(parquet)".into(),
                problem: format!("no list column named `{prefix}*`"),
                available: common_prefix(schema, &other).into_iter().collect(),
            });
        }
        drop_all(schema, &other, "not in the chosen collection", &mut dropped);
        lists = keep;
    }
    let jagged = !lists.is_empty() && *layout != Layout::Flat;
    if !jagged {
        drop_all(
            schema,
            &lists,
            "variable-length column in a flat table",
            &mut dropped,
        );
        if scalars.is_empty() {
            return Err(Error::NoNumericColumns {
                path: path.to_owned(),
            });
        }
        let fields: Vec<FieldRef> = scalars
            .iter()
            .map(|&i| schema.fields()[i].clone())
            .collect();
        return Ok(Plan {
            read: scalars,
            event: None,
            jagged,
            schema: Arc::new(Schema::new(fields)),
            dropped,
        });
    }
    let event = scalars
        .iter()
        .copied()
        .find(|&i| schema.field(i).name() == EVENT_COLUMN);
    let per_event: Vec<_> = scalars
        .iter()
        .copied()
        .filter(|&i| Some(i) != event)
        .collect();
    drop_all(
        schema,
        &per_event,
        "one value per event, not per jet",
        &mut dropped,
    );
    let prefix = common_prefix(schema, &lists);
    let mut fields = vec![match event {
        Some(i) => schema.fields()[i].clone(),
        None => Arc::new(Field::new(EVENT_COLUMN, DataType::UInt64, false)),
    }];
    for &i in &lists {
        let (DataType::List(item) | DataType::LargeList(item)) = schema.field(i).data_type() else {
            unreachable!("list role has a list type");
        };
        let name = schema.field(i).name();
        let name = prefix
            .as_ref()
            .map_or(name.as_str(), |p| &name[p.len() + 1..]);
        fields.push(Arc::new(Field::new(
            name,
            item.data_type().clone(),
            item.is_nullable(),
        )));
    }
    let read: Vec<usize> = event.into_iter().chain(lists).collect();
    Ok(Plan {
        event: event.map(|_| 0),
        read,
        jagged,
        schema: Arc::new(Schema::new(fields)),
        dropped,
    })
}

fn drop_all(schema: &Schema, columns: &[usize], reason: &str, dropped: &mut Vec<DroppedColumn>) {
    dropped.extend(columns.iter().map(|&i| DroppedColumn {
        name: schema.field(i).name().clone(),
        reason: reason.to_owned(),
    }));
}

/// `Jet` when every column is named `Jet_*`.
fn common_prefix(schema: &Schema, columns: &[usize]) -> Option<String> {
    let mut names = columns.iter().map(|&i| schema.field(i).name());
    let (first, _) = names.next()?.split_once('_')?;
    names
        .all(|n| {
            n.split_once('_')
                .is_some_and(|(p, rest)| p == first && !rest.is_empty())
        })
        .then(|| first.to_owned())
}

pub(super) fn open(path: &Path, options: &ReadOptions) -> Result<JetReader> {
    let parquet_err = |source| Error::Parquet {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?;
    let plan = plan(path, builder.schema(), &options.layout)?;
    let total_rows = (!plan.jagged).then(|| builder.metadata().file_metadata().num_rows() as u64);
    let mask = ProjectionMask::roots(builder.parquet_schema(), plan.read.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(options.batch_rows)
        .build()
        .map_err(parquet_err)?;
    let mut flatten = Flatten {
        path: path.to_owned(),
        schema: plan.schema.clone(),
        event: plan.event,
        next_event: 0,
    };
    let jagged = plan.jagged;
    let owned_path = path.to_owned();
    let batches = reader.map(move |batch| {
        let batch = batch.map_err(|e| Error::Parquet {
            path: owned_path.clone(),
            source: e.into(),
        })?;
        if jagged {
            flatten.batch(&batch)
        } else {
            Ok(batch)
        }
    });
    Ok(JetReader {
        path: path.to_owned(),
        format: Format::Parquet,
        schema: plan.schema,
        dropped: plan.dropped,
        total_rows,
        batches: Box::new(batches),
    })
}

/// Turns a batch of events with list columns into a batch of jets.
struct Flatten {
    path: PathBuf,
    schema: SchemaRef,
    /// Position of the `event` column among the batch's columns.
    event: Option<usize>,
    /// Row number of the batch's first event, for files without an `event` column.
    next_event: u64,
}

impl Flatten {
    fn batch(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let first_list = usize::from(self.event.is_some());
        let mut lengths: Option<(String, Vec<usize>)> = None;
        let mut columns = vec![];
        for (i, column) in batch.columns().iter().enumerate().skip(first_list) {
            let name = batch.schema().field(i).name().clone();
            let (lens, values) = list_parts(column);
            match &lengths {
                None => lengths = Some((name, lens)),
                Some((first, expected)) => self.check_lengths(&name, first, expected, &lens)?,
            }
            columns.push(values);
        }
        let (_, lens) = lengths.expect("a jagged table has a list column");
        let per_jet: Vec<u32> = lens
            .iter()
            .enumerate()
            .flat_map(|(i, &n)| std::iter::repeat_n(i as u32, n))
            .collect();
        let event = match self.event {
            Some(i) => arrow::compute::take(batch.column(i), &UInt32Array::from(per_jet), None)?,
            None => Arc::new(UInt64Array::from_iter_values(
                per_jet.iter().map(|&i| self.next_event + u64::from(i)),
            )) as ArrayRef,
        };
        self.next_event += batch.num_rows() as u64;
        columns.insert(0, event);
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }

    fn check_lengths(
        &self,
        name: &str,
        first: &str,
        expected: &[usize],
        lens: &[usize],
    ) -> Result<()> {
        match expected.iter().zip(lens).position(|(a, b)| a != b) {
            None => Ok(()),
            Some(row) => Err(Error::Column {
                path: self.path.clone(),
                column: name.to_owned(),
                message: format!(
                    "row {} has {} values where `{first}` has {}; list columns must have equal lengths",
                    self.next_event + row as u64,
                    lens[row],
                    expected[row]
                ),
            }),
        }
    }
}

/// Each row's length and the values of a `List` or `LargeList` array.
fn list_parts(array: &ArrayRef) -> (Vec<usize>, ArrayRef) {
    fn parts<O: OffsetSizeTrait>(list: &GenericListArray<O>) -> (Vec<usize>, ArrayRef) {
        let offsets = list.value_offsets();
        let lens = offsets
            .windows(2)
            .map(|w| (w[1] - w[0]).as_usize())
            .collect();
        let start = offsets[0].as_usize();
        let end = offsets[offsets.len() - 1].as_usize();
        (lens, list.values().slice(start, end - start))
    }
    match array.data_type() {
        DataType::LargeList(_) => parts(array.as_list::<i64>()),
        _ => parts(array.as_list::<i32>()),
    }
}
