//! Reading jets into Arrow: ROOT files (through oxyroot) and Parquet files.
//!
//! Both readers yield [`RecordBatch`]es of at most about [`ReadOptions::batch_rows`] rows, one
//! row per jet, with an [`EVENT_COLUMN`] that says which event each jet belongs to. Columns that
//! are not numeric are dropped and listed in [`JetReader::dropped`].
//!
//! ```no_run
//! use baler_arrow::ingest::{open, ReadOptions};
//!
//! let reader = open("tests/data/cms_nanoaod_2015_ttbar.root".as_ref(), &ReadOptions::default())?;
//! println!("{} columns, {:?} jets", reader.schema().fields().len(), reader.total_rows());
//! for batch in reader {
//!     let batch = batch?;
//!     assert!(batch.num_rows() > 0);
//! }
//! # Ok::<(), baler_arrow::Error>(())
//! ```

mod inspect;
mod parquet;
mod root;
mod types;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

pub use self::inspect::{Inspection, inspect};
pub use self::types::{NumericType, as_f64, f64_values};
use crate::error::{Error, Result};

/// The name of the column holding each jet's event number (or entry number).
pub const EVENT_COLUMN: &str = "event";

/// Rows per batch unless [`ReadOptions::with_batch_rows`] says otherwise.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

/// The kind of an input file, told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Root,
    Parquet,
}

/// How rows are formed from a ROOT tree or a Parquet table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Layout {
    /// The `Jet` collection if there is one, else the only collection, else a flat table.
    #[default]
    Auto,
    /// One row per element of a collection: counter `nNAME` (or `NNAME`) and arrays `NAME_*`.
    Collection(String),
    /// One row per entry; variable-length columns are dropped.
    Flat,
}

/// Options for [`open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    pub tree: Option<String>,
    pub layout: Layout,
    pub batch_rows: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            tree: None,
            layout: Layout::Auto,
            batch_rows: DEFAULT_BATCH_ROWS,
        }
    }
}

impl ReadOptions {
    /// Reads this tree of a ROOT file (ignored for Parquet).
    pub fn with_tree(mut self, tree: Option<String>) -> Self {
        self.tree = tree;
        self
    }

    /// Sets how rows are formed.
    pub fn with_layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Sets the target number of rows per batch.
    pub fn with_batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }
}

/// A column of the input that is not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedColumn {
    pub name: String,
    pub reason: String,
}

/// How the reason of a column that was left out because it could not be read (a damaged
/// basket, lengths that disagree with its counter) starts: such a column is data lost, not a
/// column of a kind the tool does not compress.
pub const CANNOT_READ: &str = "cannot be read: ";

impl DroppedColumn {
    /// A column left out because it could not be read, for the reason `message`.
    pub fn unreadable(name: &str, message: &str) -> Self {
        Self {
            name: name.to_owned(),
            reason: format!("{CANNOT_READ}{message}"),
        }
    }

    /// A second branch of a tree named as one before it (ROOT allows it): the first is read, as
    /// uproot reads it.
    pub fn duplicate(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            reason: "a second branch of this name (the first is read)".into(),
        }
    }

    /// Whether the column was left out because it could not be read.
    pub fn is_unreadable(reason: &str) -> bool {
        reason.starts_with(CANNOT_READ)
    }
}

/// A stream of jet batches from one input file.
pub struct JetReader {
    path: PathBuf,
    format: Format,
    schema: SchemaRef,
    dropped: Vec<DroppedColumn>,
    total_rows: Option<u64>,
    batches: Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
}

impl JetReader {
    /// The input file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the input is ROOT or Parquet.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Input columns that are not read, and why.
    pub fn dropped(&self) -> &[DroppedColumn] {
        &self.dropped
    }

    /// The number of rows the reader will produce, when known in advance.
    pub fn total_rows(&self) -> Option<u64> {
        self.total_rows
    }
}

impl Iterator for JetReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.batches.next()
    }
}

/// Tells ROOT from Parquet by the file's magic bytes.
///
/// # Errors
/// [`Error::Open`] if the file cannot be read, [`Error::UnknownFormat`] if it is neither.
pub fn detect_format(path: &Path) -> Result<Format> {
    let open_err = |source| Error::Open {
        path: path.to_owned(),
        source,
    };
    let mut magic = [0u8; 4];
    let mut file = File::open(path).map_err(open_err)?;
    let n = file.read(&mut magic).map_err(open_err)?;
    match &magic[..n] {
        b"root" => Ok(Format::Root),
        b"PAR1" => Ok(Format::Parquet),
        _ => Err(Error::UnknownFormat {
            path: path.to_owned(),
        }),
    }
}

/// Reads a whole ROOT or Parquet file into one batch (for baselines and benchmarks that need
/// every row at once).
///
/// # Errors
/// Those of [`open`] and of reading its batches.
pub fn read_table(path: &Path, options: &ReadOptions) -> Result<RecordBatch> {
    let reader = open(path, options)?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>>>()?;
    Ok(arrow::compute::concat_batches(&schema, &batches)?)
}

/// Whether ROOT branch `branch` belongs to collection `collection`: `Jet_pt` to `Jet`, and an
/// array named as its collection (`LHEPdfWeight`, counted by `nLHEPdfWeight`) to itself.
pub fn is_member(branch: &str, collection: &str) -> bool {
    branch == collection
        || branch
            .strip_prefix(collection)
            .is_some_and(|rest| rest.starts_with('_'))
}

/// The index of column `name` in `schema` (of the file `path`).
///
/// # Errors
/// [`Error::Column`] naming the column and listing the columns there are.
pub fn column_index(path: &Path, schema: &arrow::datatypes::Schema, name: &str) -> Result<usize> {
    schema.index_of(name).map_err(|_| {
        let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        Error::Column {
            path: path.to_owned(),
            column: name.to_owned(),
            message: format!("not found (columns: {})", names.join(", ")),
        }
    })
}

/// The collections of a ROOT file's tree (`tree`, or the only one): the tree's name and each
/// collection's name (`Jet` for `nJet` + `Jet_*`) with the branches it reads, in the tree's
/// branch order.
///
/// # Errors
/// A file that cannot be read, is not ROOT ([`Error::Options`]), or has no such tree.
#[allow(clippy::type_complexity)]
pub fn collections(
    path: &Path,
    tree: Option<&str>,
) -> Result<(String, Vec<(String, Vec<String>)>)> {
    if detect_format(path)? != Format::Root {
        return Err(Error::Options {
            message: format!(
                "`{}` is Parquet: a dataset of collections is read from a ROOT tree",
                path.display()
            ),
        });
    }
    let mut input = root::RootInput::open(path)?;
    let name = input.choose_tree(tree)?;
    let info = input.tree_info(&name)?;
    Ok((
        name,
        info.collections()
            .into_iter()
            .map(|c| (c.name, c.members))
            .collect(),
    ))
}

/// Opens a ROOT or Parquet file as a stream of jet batches.
///
/// # Errors
/// A missing or unreadable file, an unknown format, a missing tree or collection (the error lists
/// what exists), branches whose lengths disagree with their counter, no numeric column, or two
/// columns of one name.
pub fn open(path: &Path, options: &ReadOptions) -> Result<JetReader> {
    let reader = open_format(path, options)?;
    let fields = reader.schema.fields();
    if let Some((i, f)) = fields
        .iter()
        .enumerate()
        .find(|(i, f)| fields[..*i].iter().any(|g| g.name() == f.name()))
    {
        return Err(Error::Column {
            path: path.to_owned(),
            column: f.name().clone(),
            message: format!(
                "appears twice (columns {} and {}); rename one",
                fields
                    .iter()
                    .position(|g| g.name() == f.name())
                    .unwrap_or(0),
                i
            ),
        });
    }
    Ok(reader)
}

fn open_format(path: &Path, options: &ReadOptions) -> Result<JetReader> {
    match detect_format(path)? {
        Format::Root => {
            let mut input = root::RootInput::open(path)?;
            let plan = root::plan(&mut input, options)?;
            Ok(JetReader {
                path: path.to_owned(),
                format: Format::Root,
                schema: plan.schema.clone(),
                dropped: plan.dropped.clone(),
                total_rows: Some(plan.rows),
                batches: Box::new(root::RootBatches::new(path, plan, options.batch_rows)?),
            })
        }
        Format::Parquet => parquet::open(path, options),
    }
}
