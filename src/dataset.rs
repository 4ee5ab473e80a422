//! Datasets: a whole ROOT tree as a folder of tables, and the per-event layout HEP tools read.
//!
//! A dataset holds one Parquet file per collection of the tree (`Jet.parquet`: one row per jet,
//! with the `event` column, as a single-collection `convert` writes it) and `events.parquet`
//! with the event-level branches, the counters `nJet`, `nMuon`, … among them. Each file is
//! converted or compressed on its own, with its own model and bounds, so every table is an
//! ordinary file that `sql`, `decompress` and `baler-udfs` read.
//!
//! The counters of the events table give the jagged structure back: [`EventBatches`] rebuilds
//! the NanoAOD layout (one row per event, `nJet` followed by list columns `Jet_pt`, …) from the
//! tables, checking that every collection holds exactly the rows its counter says and that
//! each row's `event` is its event's.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeListArray, ListArray, RecordBatch, RecordBatchReader,
    UInt32Array,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use crate::compress::{self, CompressReport};
use crate::convert::{self, ConvertOptions, DEFAULT_ZSTD_LEVEL, lossless_properties, write_file};
use crate::decode::{self, Decoded};
use crate::error::{Error, Result};
use crate::ingest::{self, DroppedColumn, EVENT_COLUMN, Layout, ReadOptions};
use crate::options::{CompressOptions, ErrorBounds};
use crate::output::{AtomicDir, check_output, file_bytes};
use crate::progress::Progress;

/// The table of a dataset that holds the event-level branches.
pub const EVENTS_TABLE: &str = "events";

/// Which tables of a tree a dataset holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every collection and the event-level branches.
    All,
    /// These tables: collection names, and [`EVENTS_TABLE`] for the event-level branches.
    Named(Vec<String>),
}

impl Selection {
    /// Reads a `--collection` value: `all`, or a comma-separated list of two or more names.
    /// `None` for a single name (one collection, not a dataset).
    pub fn parse(value: &str) -> Option<Self> {
        if value == "all" {
            return Some(Self::All);
        }
        let names: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        (names.len() > 1).then_some(Self::Named(names))
    }
}

/// One table of a dataset: its name and how it is read from the tree.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub read: ReadOptions,
    /// The branches a collection's table reads (none for [`EVENTS_TABLE`]).
    pub members: Vec<String>,
}

impl Table {
    /// The file the table is stored in, inside the dataset's folder.
    pub fn file_name(&self) -> String {
        format!("{}.parquet", self.name)
    }
}

/// The tables of `input`'s tree that `selection` asks for: collections in the tree's order,
/// then the event-level branches.
///
/// # Errors
/// A Parquet input, a missing tree, or a name that is neither a collection nor
/// [`EVENTS_TABLE`] (the error lists the collections).
pub fn tables(input: &Path, tree: Option<&str>, selection: &Selection) -> Result<Vec<Table>> {
    let (tree, collections) = ingest::collections(input, tree)?;
    let found: Vec<String> = collections.iter().map(|(name, _)| name.clone()).collect();
    let mut names: Vec<String> = found.clone();
    names.push(EVENTS_TABLE.to_owned());
    if let Selection::Named(asked) = selection {
        if let Some(missing) = asked.iter().find(|a| !names.contains(a)) {
            return Err(Error::Collection {
                path: input.to_owned(),
                tree,
                problem: format!(
                    "table `{missing}` is neither a collection (counter `n{missing}` with `{missing}_*` arrays) nor `{EVENTS_TABLE}`"
                ),
                available: found,
            });
        }
        names.retain(|n| asked.contains(n));
    }
    let read = ReadOptions::default().with_tree(Some(tree));
    Ok(names
        .into_iter()
        .map(|name| Table {
            members: collections
                .iter()
                .find(|(c, _)| *c == name)
                .map(|(_, members)| members.clone())
                .unwrap_or_default(),
            read: read.clone().with_layout(if name == EVENTS_TABLE {
                Layout::Flat
            } else {
                Layout::Collection(name.clone())
            }),
            name,
        })
        .collect())
}

/// The bounds of one table: the entries that name no table and a column the table has (`pt=…`
/// bounds `pt` in every table with a `pt`), then those scoped to this table (`Jet.pt=…`;
/// `Jet.*=…` for every column of `Jet`), which win over every unscoped entry.
pub fn scoped_bounds(
    bounds: &ErrorBounds,
    table: &str,
    tables: &[Table],
    schema: &Schema,
) -> ErrorBounds {
    let mut own = ErrorBounds {
        all: bounds.all,
        columns: Vec::new(),
    };
    let mut scoped = ErrorBounds::default();
    for (name, bound) in &bounds.columns {
        match scope(name, tables) {
            None if schema.index_of(name).is_ok() => own.add(name, *bound),
            None => {}
            Some((t, column)) if t == table => {
                scoped.add(if column == "*" { "all" } else { column }, *bound);
            }
            Some(_) => {}
        }
    }
    if scoped.all.is_some() {
        // `Jet.*` covers every column of `Jet`, those that unscoped entries name too.
        own.columns.clear();
    }
    own.merge(scoped);
    own
}

/// `(table, column)` when `name` is `table.column` for a table of the dataset.
fn scope<'a>(name: &'a str, tables: &[Table]) -> Option<(&'a str, &'a str)> {
    name.split_once('.')
        .filter(|(t, _)| tables.iter().any(|x| x.name == *t))
}

/// The `--keep` columns of one table: those scoped to it (`Jet.area`) and unscoped names that
/// the table has.
fn scoped_keep(keep: &[String], table: &str, tables: &[Table], schema: &Schema) -> Vec<String> {
    keep.iter()
        .filter_map(|k| match scope(k, tables) {
            Some((t, column)) => (t == table).then(|| column.to_owned()),
            None => schema.index_of(k).is_ok().then(|| k.clone()),
        })
        .collect()
}

/// Refuses `--error-bound` and `--keep` entries that name no table's column.
fn unknown_names(
    input: &Path,
    options: &CompressOptions,
    tables: &[Table],
    schemas: &[SchemaRef],
) -> Result<()> {
    let bounds = options
        .bounds
        .iter()
        .flat_map(|b| b.columns.iter().map(|(n, _)| n));
    for name in bounds.chain(&options.keep) {
        let known = match scope(name, tables) {
            Some(_) => true,
            None => schemas.iter().any(|s| s.index_of(name).is_ok()),
        };
        if !known {
            return Err(Error::Column {
                path: input.to_owned(),
                column: name.clone(),
                message: "no table of the dataset has this column; name one as `TABLE.column` (`Jet.pt`), or every column of a table as `TABLE.*`".into(),
            });
        }
    }
    Ok(())
}

/// One table as a dataset operation wrote it.
#[derive(Debug, Clone, Serialize)]
pub struct TableSummary {
    pub table: String,
    pub file: PathBuf,
    pub rows: u64,
    pub columns: usize,
    pub bytes: u64,
    /// The same rows as lossless Parquet.
    pub lossless_bytes: u64,
    /// `lossless`, or the method that compressed the table.
    pub written: String,
    /// The compress report, for a compressed table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Box<CompressReport>>,
}

/// What a dataset operation wrote.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetSummary {
    pub output: PathBuf,
    /// The input file (the ROOT file, or the dataset folder's files together).
    pub input_bytes: u64,
    pub tables: Vec<TableSummary>,
    /// Branches no table reads, and why.
    pub dropped: Vec<(String, String)>,
}

impl DatasetSummary {
    /// The dataset's files together.
    pub fn bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.bytes).sum()
    }

    /// The tables as lossless Parquet together.
    pub fn lossless_bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.lossless_bytes).sum()
    }
}

/// Branches dropped by the tables' readers that no table of the dataset reads.
fn dropped(tables: &[Table], per_table: &[Vec<DroppedColumn>]) -> Vec<(String, String)> {
    let read_by_collection =
        |branch: &str| tables.iter().any(|t| t.members.iter().any(|m| m == branch));
    let mut seen = HashSet::new();
    tables
        .iter()
        .zip(per_table)
        .flat_map(|(t, d)| d.iter().map(move |d| (t, d)))
        // The events table drops every collection member; those are read by their table.
        .filter(|(t, d)| t.name != EVENTS_TABLE || !read_by_collection(&d.name))
        .filter(|(_, d)| seen.insert(d.name.clone()))
        .map(|(_, d)| (d.name.clone(), d.reason.clone()))
        .collect()
}

/// Runs `f` for one table, naming the table in its error.
fn in_table<T>(path: &Path, table: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    f().map_err(|source| Error::DatasetTable {
        path: path.to_owned(),
        table: table.to_owned(),
        source: Box::new(source),
    })
}

impl TableSummary {
    /// A table stored as lossless Parquet.
    fn lossless(table: &str, file: PathBuf, rows: u64, columns: usize, bytes: u64) -> Self {
        Self {
            table: table.to_owned(),
            file,
            rows,
            columns,
            bytes,
            lossless_bytes: bytes,
            written: "lossless".into(),
            report: None,
        }
    }
}

/// Converts table `t` losslessly into the folder `dir` that becomes `output`.
fn convert_table(
    input: &Path,
    dir: &AtomicDir,
    output: &Path,
    t: &Table,
    options: &ConvertOptions,
) -> Result<(TableSummary, Vec<DroppedColumn>)> {
    let file = dir.join(&t.file_name());
    let s = in_table(input, &t.name, || {
        convert::convert(input, &file, &t.read, options)
    })?;
    let summary = TableSummary::lossless(
        &t.name,
        output.join(t.file_name()),
        s.rows,
        s.columns,
        s.bytes,
    );
    Ok((summary, s.dropped))
}

/// Converts the tables of `input`'s tree into a dataset folder `output` of lossless Parquet.
///
/// # Errors
/// Those of [`tables`] and [`convert::convert`], naming the table; an existing output without
/// `force`. Nothing is left behind on failure.
pub fn convert(
    input: &Path,
    output: &Path,
    tables: &[Table],
    options: &ConvertOptions,
) -> Result<DatasetSummary> {
    check_output(input, output, options.force)?;
    let dir = AtomicDir::create(output, options.force)?;
    let mut summaries = Vec::new();
    let mut dropped_per_table = Vec::new();
    for t in tables {
        let (summary, dropped) = convert_table(input, &dir, output, t, options)?;
        summaries.push(summary);
        dropped_per_table.push(dropped);
    }
    dir.commit()?;
    Ok(DatasetSummary {
        output: output.to_owned(),
        input_bytes: file_bytes(input),
        dropped: dropped(tables, &dropped_per_table),
        tables: summaries,
    })
}

/// Compresses the tables of `input`'s tree into a dataset folder `output`, each table with its
/// own model and its [`scoped_bounds`]. Float columns holding NaN or infinite values are stored
/// as they are (a whole NanoAOD file has some, e.g. a rapidity of an absent Higgs boson).
///
/// # Errors
/// Those of [`compress::compress`], naming the table; an existing output without `force`.
/// Nothing is left behind on failure.
pub fn compress(
    input: &Path,
    output: &Path,
    tables: &[Table],
    options: &CompressOptions,
) -> Result<DatasetSummary> {
    check_output(input, output, options.force)?;
    let schemas = tables
        .iter()
        .map(|t| {
            in_table(
                input,
                &t.name,
                || Ok(ingest::open(input, &t.read)?.schema()),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    unknown_names(input, options, tables, &schemas)?;
    let dir = AtomicDir::create(output, options.force)?;
    let mut summaries = Vec::new();
    let mut dropped_per_table = Vec::new();
    for (t, schema) in tables.iter().zip(&schemas) {
        let file = dir.join(&t.file_name());
        let (columns, compressed) = in_table(input, &t.name, || {
            let table_options = CompressOptions {
                bounds: options
                    .bounds
                    .as_ref()
                    .map(|b| scoped_bounds(b, &t.name, tables, schema)),
                keep: scoped_keep(&options.keep, &t.name, tables, schema),
                keep_non_finite: true,
                ..options.clone()
            };
            let columns = schema.fields().len();
            match compress::compress(input, &file, &t.read, &table_options) {
                // Nothing to fit a model to (no event has a `FsrPhoton`; every `PSWeight` is
                // 1): the table is stored as it is.
                Err(Error::Empty { .. } | Error::NotApplicable { .. }) => Ok((columns, None)),
                other => other.map(|r| (columns, Some(r))),
            }
        })?;
        let summary = match compressed {
            Some(report) => {
                dropped_per_table.push(
                    report
                        .dropped
                        .iter()
                        .map(|(name, reason)| DroppedColumn {
                            name: name.clone(),
                            reason: reason.clone(),
                        })
                        .collect(),
                );
                TableSummary {
                    table: t.name.clone(),
                    file: output.join(t.file_name()),
                    rows: report.rows,
                    columns,
                    bytes: report.sizes.output_bytes,
                    lossless_bytes: report.sizes.lossless_bytes,
                    written: report.written.clone(),
                    report: Some(Box::new(report)),
                }
            }
            None => {
                let convert = ConvertOptions::default().with_force(true);
                let (summary, dropped) = convert_table(input, &dir, output, t, &convert)?;
                dropped_per_table.push(dropped);
                summary
            }
        };
        summaries.push(summary);
    }
    dir.commit()?;
    Ok(DatasetSummary {
        output: output.to_owned(),
        input_bytes: file_bytes(input),
        dropped: dropped(tables, &dropped_per_table),
        tables: summaries,
    })
}

/// The tables of a dataset folder: every `.parquet` file, by name (`Jet.parquet` is `Jet`),
/// the events table last.
///
/// # Errors
/// [`Error::Open`] for a folder that cannot be listed; [`Error::Options`] for one without
/// Parquet files.
pub fn table_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Open {
        path: dir.to_owned(),
        source,
    })?;
    let mut files: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "parquet"))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_owned(), p)))
        .collect();
    files.sort_by_key(|(name, _)| (name == EVENTS_TABLE, name.clone()));
    if files.is_empty() {
        return Err(Error::Options {
            message: format!(
                "`{}` holds no .parquet files; a dataset is written by `compress` or `convert` with `--collection all`",
                dir.display()
            ),
        });
    }
    Ok(files)
}

/// A table read batch by batch, from which exact numbers of rows are taken.
pub struct TableRows {
    pub name: String,
    pub schema: SchemaRef,
    batches: Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
    pending: Option<RecordBatch>,
}

impl TableRows {
    /// Reads a table: decoded when the file is baler-compressed, as it is otherwise.
    ///
    /// # Errors
    /// [`Error::Open`], [`Error::Parquet`] and the decoder's errors.
    pub fn open(name: &str, path: &Path) -> Result<Self> {
        let compressed = decode::is_compressed(path)?;
        let (schema, batches): (
            SchemaRef,
            Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
        ) = if compressed {
            let decoded = Decoded::open(path)?;
            (decoded.schema(), Box::new(decoded))
        } else {
            let parquet_err = |source| Error::Parquet {
                path: path.to_owned(),
                source,
            };
            let file = std::fs::File::open(path).map_err(|source| Error::Open {
                path: path.to_owned(),
                source,
            })?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| b.with_batch_size(ingest::DEFAULT_BATCH_ROWS).build())
                .map_err(parquet_err)?;
            let schema = reader.schema();
            let owned = path.to_owned();
            (
                schema,
                Box::new(reader.map(move |b| {
                    b.map_err(|e| Error::Parquet {
                        path: owned.clone(),
                        source: e.into(),
                    })
                })),
            )
        };
        Ok(Self::new(name, schema, batches))
    }

    /// Wraps a stream of batches of one schema.
    pub fn new(
        name: &str,
        schema: SchemaRef,
        batches: Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            schema,
            batches,
            pending: None,
        }
    }

    /// The next `rows` rows; `None` when fewer are left.
    fn take_rows(&mut self, rows: usize) -> Result<Option<RecordBatch>> {
        let batches = &mut self.batches;
        decode::take_rows(&self.schema, &mut self.pending, || batches.next(), rows)
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        self.pending.take().map(Ok).or_else(|| self.batches.next())
    }
}

impl Iterator for TableRows {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch()
    }
}

/// A collection placed in the event layout: after its counter, one list column per field.
struct Member {
    rows: TableRows,
    /// The counter's index in the events table.
    counter: usize,
    /// The collection's columns that become list columns (all but `event`).
    columns: Vec<usize>,
    /// The collection's `event` column, checked against the events table's.
    event: Option<usize>,
}

/// One place of the event layout's schema.
enum Slot {
    Events(usize),
    /// A fixed-size array branch `x`, from the events table's columns `x[0]` … `x[n-1]`,
    /// which start at this index.
    Fixed {
        first: usize,
        n: usize,
    },
    List {
        member: usize,
        column: usize,
    },
}

/// The fixed-size array the events table's columns from `first` on hold, as a flat read
/// writes it (`x[0]`, `x[1]`, … of one type): its name and length, if they do.
fn fixed_array(schema: &Schema, first: usize) -> Option<(String, usize)> {
    let fields = schema.fields();
    let base = fields[first].name().strip_suffix("[0]")?;
    let ty = fields[first].data_type();
    let n = fields[first..]
        .iter()
        .enumerate()
        .take_while(|(i, f)| f.name() == &format!("{base}[{i}]") && f.data_type() == ty)
        .count();
    Some((base.to_owned(), n))
}

/// The NanoAOD layout: one row per event, each collection's fields as list columns
/// (`Jet_pt: list<float>`) after its counter (`nJet`), built from the tables of a dataset.
pub struct EventBatches {
    path: PathBuf,
    schema: SchemaRef,
    events: TableRows,
    members: Vec<Member>,
    slots: Vec<Slot>,
    event: Option<usize>,
    done: bool,
}

impl EventBatches {
    /// Lines up `collections` with the counters of `events` (`nX` or `NX` for table `X`).
    /// `path` names the dataset in errors.
    ///
    /// # Errors
    /// [`Error::DatasetTable`] for a collection whose counter the events table lacks.
    pub fn new(path: &Path, events: TableRows, collections: Vec<TableRows>) -> Result<Self> {
        let mut members = Vec::new();
        for rows in collections {
            // A collection named as its counter (`n`, whose arrays are `Af4[n]`) is counted by
            // that column itself.
            let counter = [
                format!("n{}", rows.name),
                format!("N{}", rows.name),
                rows.name.clone(),
            ]
            .iter()
            .find_map(|c| events.schema.index_of(c).ok())
            .ok_or_else(|| Error::DatasetTable {
                path: path.to_owned(),
                table: rows.name.clone(),
                source: Box::new(Error::Options {
                    message: format!(
                        "the `{EVENTS_TABLE}` table has no counter `n{}` for it",
                        rows.name
                    ),
                }),
            })?;
            let event = rows.schema.index_of(EVENT_COLUMN).ok();
            let columns = (0..rows.schema.fields().len())
                .filter(|&i| Some(i) != event)
                .collect();
            members.push(Member {
                rows,
                counter,
                columns,
                event,
            });
        }
        let mut slots = Vec::new();
        let mut fields = Vec::new();
        let mut next = 0;
        for (i, f) in events.schema.fields().iter().enumerate() {
            if i < next {
                continue; // an element of the fixed-size array placed before
            }
            if let Some((name, n)) = fixed_array(&events.schema, i) {
                let item = Arc::new(Field::new("item", f.data_type().clone(), false));
                fields.push(Field::new(
                    name,
                    DataType::FixedSizeList(item, n as i32),
                    false,
                ));
                slots.push(Slot::Fixed { first: i, n });
                next = i + n;
                continue;
            }
            slots.push(Slot::Events(i));
            fields.push(f.as_ref().clone());
            for (m, member) in members.iter().enumerate().filter(|(_, m)| m.counter == i) {
                for &c in &member.columns {
                    let field = member.rows.schema.field(c);
                    let collection = &member.rows.name;
                    // `Jet`'s `pt` is `Jet_pt`; `LHEPdfWeight`'s own array keeps its name, and
                    // so do the arrays of a collection named as its counter (`n`'s `Af4`).
                    let by_counter = events.schema.field(i).name() == collection;
                    let name = if field.name() == collection || by_counter {
                        field.name().clone()
                    } else {
                        format!("{collection}_{}", field.name())
                    };
                    fields.push(Field::new(
                        name,
                        DataType::List(Arc::new(Field::new(
                            "item",
                            field.data_type().clone(),
                            false,
                        ))),
                        false,
                    ));
                    slots.push(Slot::List {
                        member: m,
                        column: c,
                    });
                }
            }
        }
        Ok(Self {
            path: path.to_owned(),
            schema: Arc::new(Schema::new(fields)),
            event: events.schema.index_of(EVENT_COLUMN).ok(),
            events,
            members,
            slots,
            done: false,
        })
    }

    /// The event layout's schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_err(&self, table: &str, message: String) -> Error {
        Error::DatasetTable {
            path: self.path.clone(),
            table: table.to_owned(),
            source: Box::new(Error::Options { message }),
        }
    }

    /// The event layout of one batch of the events table.
    fn assemble(&mut self, events: RecordBatch) -> Result<RecordBatch> {
        let mut elements = Vec::with_capacity(self.members.len());
        for m in 0..self.members.len() {
            let counter = events.column(self.members[m].counter).clone();
            let offsets = self.offsets(m, &counter)?;
            let total = *offsets.last().unwrap_or(&0) as usize;
            let name = self.members[m].rows.name.clone();
            let rows = self.members[m].rows.take_rows(total)?.ok_or_else(|| {
                self.table_err(
                    &name,
                    format!(
                        "has fewer rows than the `{EVENTS_TABLE}` table's counter `{}` adds up to",
                        events.schema().field(self.members[m].counter).name()
                    ),
                )
            })?;
            if let (Some(ev), Some(own)) = (self.event, self.members[m].event) {
                self.check_events(&name, events.column(ev), &offsets, rows.column(own))?;
            }
            elements.push((OffsetBuffer::new(offsets.into()), rows));
        }
        let columns: Vec<ArrayRef> = self
            .slots
            .iter()
            .map(|slot| match *slot {
                Slot::Events(i) => Ok(events.column(i).clone()),
                Slot::Fixed { first, n } => {
                    let elements: Vec<&dyn Array> = (first..first + n)
                        .map(|c| events.column(c).as_ref())
                        .collect();
                    let order: Vec<(usize, usize)> = (0..events.num_rows())
                        .flat_map(|row| (0..n).map(move |e| (e, row)))
                        .collect();
                    let values = arrow::compute::interleave(&elements, &order)?;
                    let item = Arc::new(Field::new("item", values.data_type().clone(), false));
                    Ok(
                        Arc::new(FixedSizeListArray::try_new(item, n as i32, values, None)?)
                            as ArrayRef,
                    )
                }
                Slot::List { member, column } => {
                    let (offsets, rows) = &elements[member];
                    let values = rows.column(column).clone();
                    let item = Arc::new(Field::new("item", values.data_type().clone(), false));
                    Ok(
                        Arc::new(ListArray::try_new(item, offsets.clone(), values, None)?)
                            as ArrayRef,
                    )
                }
            })
            .collect::<Result<_>>()?;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }

    /// List offsets from a counter column: 0, n₀, n₀+n₁, …
    fn offsets(&self, m: usize, counter: &ArrayRef) -> Result<Vec<i32>> {
        let name = &self.members[m].rows.name;
        let counts = arrow::compute::cast(counter, &DataType::Int64)?;
        let mut offsets = Vec::with_capacity(counts.len() + 1);
        let mut end = 0i64;
        offsets.push(0);
        for n in counts.as_primitive::<Int64Type>().iter() {
            match n {
                Some(n) if n >= 0 => end += n,
                _ => {
                    return Err(self.table_err(
                        name,
                        format!("its counter holds {n:?}, not a count of elements"),
                    ));
                }
            }
            offsets.push(i32::try_from(end).map_err(|_| {
                self.table_err(
                    name,
                    "more than 2^31 elements in one batch of events".into(),
                )
            })?);
        }
        Ok(offsets)
    }

    /// Checks that the `event` of every element is that of the event its counter puts it in.
    fn check_events(
        &self,
        name: &str,
        events: &ArrayRef,
        offsets: &[i32],
        own: &ArrayRef,
    ) -> Result<()> {
        let index: UInt32Array = offsets
            .windows(2)
            .enumerate()
            .flat_map(|(i, w)| std::iter::repeat_n(i as u32, (w[1] - w[0]) as usize))
            .collect();
        let expected = arrow::compute::take(events, &index, None)?;
        let own = arrow::compute::cast(own, expected.data_type())?;
        let same = arrow::compute::kernels::cmp::eq(&expected, &own)?;
        if same.true_count() != same.len() {
            return Err(self.table_err(
                name,
                format!(
                    "its `{EVENT_COLUMN}` column disagrees with the `{EVENT_COLUMN}` of the events its counter places it in"
                ),
            ));
        }
        Ok(())
    }

    /// Checks that no collection holds rows that no counter accounts for.
    fn check_exhausted(&mut self) -> Result<()> {
        for m in 0..self.members.len() {
            if let Some(batch) = self.members[m].rows.next_batch() {
                let batch = batch?;
                if batch.num_rows() > 0 {
                    let name = self.members[m].rows.name.clone();
                    return Err(self.table_err(
                        &name,
                        format!(
                            "has more rows than the `{EVENTS_TABLE}` table's counter adds up to"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Iterator for EventBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let batch = match self.events.next_batch() {
            Some(b) => b,
            None => {
                self.done = true;
                return self.check_exhausted().err().map(Err);
            }
        };
        let assembled = batch.and_then(|b| self.assemble(b));
        if assembled.is_err() {
            self.done = true;
        }
        Some(assembled)
    }
}

/// Opens the tables of a dataset folder in the event layout.
///
/// # Errors
/// A folder without `events.parquet`, and the errors of [`TableRows::open`] and
/// [`EventBatches::new`].
pub fn open_events(dir: &Path) -> Result<EventBatches> {
    let files = table_files(dir)?;
    let (events, collections): (Vec<_>, Vec<_>) =
        files.iter().partition(|(name, _)| name == EVENTS_TABLE);
    let Some((_, events)) = events.first() else {
        return Err(Error::Options {
            message: format!(
                "`{}` has no `{EVENTS_TABLE}.parquet`: the event layout needs the event-level table and its counters",
                dir.display()
            ),
        });
    };
    let events = TableRows::open(EVENTS_TABLE, events)?;
    let collections = collections
        .iter()
        .map(|(name, path)| TableRows::open(name, path))
        .collect::<Result<_>>()?;
    EventBatches::new(dir, events, collections)
}

/// Reads the tables of `input`'s tree straight into the event layout (for `convert --layout
/// events`), with the branches no table reads (as [`DatasetSummary::dropped`]).
///
/// # Errors
/// Those of [`ingest::open`] and [`EventBatches::new`]; the tables must include the events
/// table.
#[allow(clippy::type_complexity)]
pub fn read_events(
    input: &Path,
    tables: &[Table],
) -> Result<(EventBatches, Vec<(String, String)>)> {
    let at = tables
        .iter()
        .position(|t| t.name == EVENTS_TABLE)
        .ok_or_else(|| Error::Options {
            message: format!(
                "the event layout needs the `{EVENTS_TABLE}` table (its counters give each event's elements)"
            ),
        })?;
    let mut per_table = Vec::with_capacity(tables.len());
    let mut rows = Vec::with_capacity(tables.len());
    for t in tables {
        let reader = ingest::open(input, &t.read)?;
        per_table.push(reader.dropped().to_vec());
        rows.push(TableRows::new(&t.name, reader.schema(), Box::new(reader)));
    }
    let events = rows.remove(at);
    let batches = EventBatches::new(input, events, rows)?;
    Ok((batches, dropped(tables, &per_table)))
}

/// Writes the event layout to one lossless Parquet file; returns the number of events.
///
/// # Errors
/// Those of the batches, [`Error::OutputExists`] without `force`, and write failures (which
/// leave nothing behind).
pub fn write_events(
    events: EventBatches,
    output: &Path,
    force: bool,
    progress: &dyn Progress,
) -> Result<u64> {
    let schema = events.schema();
    let props = lossless_properties(&schema, DEFAULT_ZSTD_LEVEL)?;
    progress.start("events", None);
    let rows = write_file(output, schema, events, props, force, progress);
    progress.finish();
    rows
}

/// Decodes the dataset folder `input` into one file in the per-event layout; returns the
/// number of events.
///
/// # Errors
/// An output that is the input or exists without `force`; those of [`open_events`] and
/// [`write_events`].
pub fn decompress_events(
    input: &Path,
    output: &Path,
    force: bool,
    progress: &dyn Progress,
) -> Result<u64> {
    check_output(input, output, force)?;
    write_events(open_events(input)?, output, force, progress)
}

/// Decompresses every table of a dataset folder into a folder of lossless Parquet files
/// (tables already stored losslessly are copied).
///
/// # Errors
/// Those of [`decode::decompress`], naming the table; an existing output without `force`.
pub fn decompress(
    input: &Path,
    output: &Path,
    force: bool,
    progress: &dyn Progress,
) -> Result<DatasetSummary> {
    check_output(input, output, force)?;
    let dir = AtomicDir::create(output, force)?;
    let mut summaries = Vec::new();
    let mut input_bytes = 0;
    for (name, path) in table_files(input)? {
        input_bytes += file_bytes(&path);
        let file_name = format!("{name}.parquet");
        let target = dir.join(&file_name);
        let (rows, columns) = in_table(input, &name, || {
            if decode::is_compressed(&path)? {
                let s = decode::decompress(&path, &target, true, progress)?;
                Ok((s.rows, s.columns))
            } else {
                std::fs::copy(&path, &target).map_err(|source| Error::Write {
                    path: target.clone(),
                    source,
                })?;
                // Rows and columns from the footer; the copy needs no decoding.
                let parquet_err = |source| Error::Parquet {
                    path: path.clone(),
                    source,
                };
                let file = std::fs::File::open(&path).map_err(|source| Error::Open {
                    path: path.clone(),
                    source,
                })?;
                let builder =
                    ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?;
                let rows = builder.metadata().file_metadata().num_rows() as u64;
                Ok((rows, builder.schema().fields().len()))
            }
        })?;
        let bytes = file_bytes(&target);
        summaries.push(TableSummary::lossless(
            &name,
            output.join(file_name),
            rows,
            columns,
            bytes,
        ));
    }
    dir.commit()?;
    Ok(DatasetSummary {
        output: output.to_owned(),
        input_bytes,
        tables: summaries,
        dropped: Vec::new(),
    })
}

/// What [`verify`] checked in one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableCheck {
    pub table: String,
    pub verification: crate::verify::Verification,
    /// The table is stored losslessly; its values were compared bit for bit.
    pub lossless: bool,
}

/// Checks every table of the dataset folder `dir` against the tree of `original` it was made
/// from, value by value: compressed tables as [`crate::verify::verify`] does, lossless ones bit
/// for bit.
///
/// # Errors
/// Those of [`tables`] (a table the original lacks) and of the checks, naming the table.
pub fn verify(original: &Path, dir: &Path, tree: Option<&str>) -> Result<Vec<TableCheck>> {
    let files = table_files(dir)?;
    let names = files.iter().map(|(n, _)| n.clone()).collect();
    let tables = tables(original, tree, &Selection::Named(names))?;
    files
        .iter()
        .map(|(name, path)| {
            let table = tables
                .iter()
                .find(|t| &t.name == name)
                .expect("tables() returns every name asked");
            in_table(dir, name, || {
                let compressed = decode::is_compressed(path)?;
                let verification = if compressed {
                    crate::verify::verify(original, path, &table.read)?
                } else {
                    same_values(original, &table.read, path)?
                };
                Ok(TableCheck {
                    table: name.clone(),
                    verification,
                    lossless: !compressed,
                })
            })
        })
        .collect()
}

/// Compares a lossless table with its original bit for bit (as [`crate::verify`] compares
/// exact columns: a NaN equals itself, `-0.0` differs from `0.0`).
fn same_values(
    original: &Path,
    read: &ReadOptions,
    path: &Path,
) -> Result<crate::verify::Verification> {
    let expected = ingest::read_table(original, read)?;
    let rows = TableRows::open("", path)?;
    let schema = rows.schema.clone();
    let batches = rows.batches.collect::<Result<Vec<_>>>()?;
    let stored = arrow::compute::concat_batches(&schema, &batches)?;
    let mismatch = |message: String| Error::Verify {
        path: path.to_owned(),
        message,
    };
    if expected.schema().fields() != stored.schema().fields() {
        return Err(mismatch(format!(
            "its columns differ from the original's: {:?} against {:?}",
            stored.schema().fields(),
            expected.schema().fields()
        )));
    }
    if expected.num_rows() != stored.num_rows() {
        return Err(mismatch(format!(
            "{} rows, the original has {}",
            stored.num_rows(),
            expected.num_rows()
        )));
    }
    for (field, (a, b)) in expected
        .schema()
        .fields()
        .iter()
        .zip(expected.columns().iter().zip(stored.columns()))
    {
        if let Some(row) = crate::verify::first_difference(a, b) {
            return Err(mismatch(format!(
                "column `{}` differs from the original at row {row}",
                field.name()
            )));
        }
    }
    Ok(crate::verify::Verification {
        rows: stored.num_rows() as u64,
        checked: (stored.num_rows() * stored.num_columns()) as u64,
        unbounded: 0,
    })
}
