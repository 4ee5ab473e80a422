//! ROOT input: trees of jet collections (`nJet` + `Jet_*`) or flat trees, to Arrow batches.
//!
//! oxyroot reads the file's directory and the tree's branch list; the basket data is read by
//! [`keys`], which checks every basket against the counter branch (see the module docs there for
//! why). Every oxyroot call runs under [`guard`] so that its panics become errors.

mod keys;

use std::collections::VecDeque;
use std::fs::File;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, UInt32Array, UInt64Array};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use oxyroot::{Branch, Named, RBuffer, ReaderTree, RootFile};

use self::keys::{BasketIndex, BasketKey};
use super::types::NumericType;
use super::{DroppedColumn, EVENT_COLUMN, Layout, ReadOptions};
use crate::error::{Error, Result};

/// Runs an oxyroot call, turning a panic into an error message a user can act on: oxyroot
/// panics on objects and layouts it does not implement, and on damaged records.
fn guard<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let detail = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        let detail = detail.lines().next().unwrap_or_default();
        format!(
            "the file holds an object or layout the ROOT reader (oxyroot) does not support, or a damaged record ({})",
            if detail.is_empty() { "no detail" } else { detail }
        )
    })
}

/// The description of one branch as the planner sees it.
#[derive(Debug, Clone)]
pub(crate) struct BranchInfo {
    pub name: String,
    pub type_name: String,
    /// `Some(t)` for a numeric scalar or a variable-length array of numbers.
    pub numeric: Option<NumericType>,
    /// Variable-length (`float[]`, counted by another branch).
    pub jagged: bool,
}

/// A tree's name, entry count and branches.
#[derive(Debug, Clone)]
pub(crate) struct TreeInfo {
    pub name: String,
    pub entries: u64,
    pub branches: Vec<BranchInfo>,
}

impl TreeInfo {
    fn branch(&self, name: &str) -> Option<&BranchInfo> {
        self.branches.iter().find(|b| b.name == name)
    }

    /// Collections: a flat integer counter `nX`/`NX` and at least one jagged `X_*` branch, or
    /// a jagged branch `X` itself (NanoAOD's `nLHEPdfWeight` + `LHEPdfWeight`).
    pub fn collections(&self) -> Vec<Collection> {
        self.branches
            .iter()
            .filter(|b| !b.jagged && b.numeric.is_some_and(|t| t != NumericType::Bool))
            .filter_map(|counter| {
                let name = counter
                    .name
                    .strip_prefix('n')
                    .or_else(|| counter.name.strip_prefix('N'))?;
                let members: Vec<_> = self
                    .branches
                    .iter()
                    .filter(|b| b.jagged && super::is_member(&b.name, name))
                    .map(|b| b.name.clone())
                    .collect();
                (!name.is_empty() && !members.is_empty()).then(|| Collection {
                    name: name.to_owned(),
                    counter: counter.name.clone(),
                    members,
                })
            })
            .collect()
    }
}

/// A jet-like collection: its name (`Jet`), counter branch (`nJet`) and member branches.
#[derive(Debug, Clone)]
pub(crate) struct Collection {
    pub name: String,
    pub counter: String,
    pub members: Vec<String>,
}

/// A ROOT file opened for planning: its trees and the basket index.
pub(crate) struct RootInput {
    path: PathBuf,
    file: RootFile,
    baskets: BasketIndex,
    pub trees: Vec<String>,
}

impl RootInput {
    pub fn open(path: &Path) -> Result<Self> {
        let root_err = |message: String| Error::Root {
            path: path.to_owned(),
            message,
        };
        let mut raw = File::open(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        let baskets = keys::scan_baskets(&mut raw).map_err(root_err)?;
        let file = guard(|| RootFile::open(path))
            .map_err(root_err)?
            .map_err(|e| root_err(e.to_string()))?;
        let mut trees: Vec<String> = guard(|| {
            file.keys()
                .iter()
                .filter(|k| k.class_name() == "TTree")
                .map(|k| k.name().to_owned())
                .collect()
        })
        .map_err(root_err)?;
        trees.dedup();
        Ok(Self {
            path: path.to_owned(),
            file,
            baskets,
            trees,
        })
    }

    /// Picks the tree: the one named, or the only one.
    pub fn choose_tree(&self, name: Option<&str>) -> Result<String> {
        let tree_err = |problem: String| Error::Tree {
            path: self.path.clone(),
            problem,
            available: self.trees.clone(),
        };
        match (name, self.trees.as_slice()) {
            (Some(n), trees) if trees.iter().any(|t| t == n) => Ok(n.to_owned()),
            (Some(n), _) => Err(tree_err(format!("tree `{n}` not found"))),
            (None, [only]) => Ok(only.clone()),
            (None, []) => Err(tree_err("no tree found".into())),
            (None, _) => Err(tree_err("several trees; choose one with `--tree`".into())),
        }
    }

    fn tree(&mut self, name: &str) -> Result<ReaderTree> {
        let path = self.path.clone();
        let file = &mut self.file;
        guard(|| file.get_tree(name))
            .map_err(|message| Error::Root {
                path: path.clone(),
                message,
            })?
            .map_err(|e| Error::Root {
                path,
                message: format!("cannot read tree `{name}`: {e}"),
            })
    }

    /// Reads a tree's description.
    pub fn tree_info(&mut self, name: &str) -> Result<TreeInfo> {
        let tree = self.tree(name)?;
        let branches = guard(|| tree.branches().map(branch_info).collect()).map_err(|message| {
            Error::Root {
                path: self.path.clone(),
                message: format!("cannot list the branches of tree `{name}`: {message}"),
            }
        })?;
        Ok(TreeInfo {
            name: name.to_owned(),
            entries: tree.entries().max(0) as u64,
            branches,
        })
    }
}

fn branch_info(branch: &Branch) -> BranchInfo {
    let type_name = if branch.branches().next().is_some() {
        format!("{} (split object)", branch.class())
    } else {
        branch.item_type_name()
    };
    let (base, jagged) = match type_name.strip_suffix("[]") {
        Some(base) => (base, true),
        None => (type_name.as_str(), false),
    };
    BranchInfo {
        name: branch.name().to_owned(),
        numeric: NumericType::from_root(base),
        jagged,
        type_name,
    }
}

/// What [`plan`] decided to read: the output schema and where each column comes from.
pub(crate) struct RootPlan {
    pub tree: TreeInfo,
    pub schema: SchemaRef,
    pub dropped: Vec<DroppedColumn>,
    /// Rows the reader will produce.
    pub rows: u64,
    counts: Option<Vec<u64>>,
    event: Option<BranchSource>,
    columns: Vec<BranchSource>,
}

/// Where a column's values are: the baskets of one branch.
struct BranchSource {
    branch: String,
    ty: NumericType,
    /// Baskets in entry order, with the range of values each holds.
    baskets: Vec<(Range<u64>, Basket)>,
}

enum Basket {
    Stored(BasketKey),
    /// The last basket, kept inside the TTree record rather than in a key of its own.
    Embedded(Vec<u8>),
}

/// Decides the columns to read from a tree, as [`ReadOptions`] ask.
pub(crate) fn plan(input: &mut RootInput, options: &ReadOptions) -> Result<RootPlan> {
    let tree_name = input.choose_tree(options.tree.as_deref())?;
    let tree = input.tree_info(&tree_name)?;
    let collection = choose_collection(&input.path, &tree, &options.layout)?;
    let reader = input.tree(&tree_name)?;
    let mut ctx = PlanContext {
        input,
        reader: &reader,
        tree: &tree,
    };
    match collection {
        Some(c) => ctx.plan_collection(c),
        None => ctx.plan_flat(),
    }
}

fn choose_collection(path: &Path, tree: &TreeInfo, layout: &Layout) -> Result<Option<Collection>> {
    let found = tree.collections();
    let err = |problem: String| Error::Collection {
        path: path.to_owned(),
        tree: tree.name.clone(),
        problem,
        available: found.iter().map(|c| c.name.clone()).collect(),
    };
    match layout {
        Layout::Flat => Ok(None),
        Layout::Collection(name) => found
            .iter()
            .find(|c| &c.name == name)
            .cloned()
            .map(Some)
            .ok_or_else(|| {
                err(format!(
                    "collection `{name}` (counter `n{name}` and `{name}_*` arrays) not found"
                ))
            }),
        Layout::Auto => {
            if let Some(jet) = found.iter().find(|c| c.name == "Jet") {
                return Ok(Some(jet.clone()));
            }
            match found.as_slice() {
                [] if tree.branches.iter().any(|b| b.jagged) => Err(err(
                    "variable-length branches without a counter `nX` matching `X_*`; pass `--flat` to read the flat branches".into(),
                )),
                [] => Ok(None),
                [only] => Ok(Some(only.clone())),
                _ => Err(err("several collections and none named `Jet`; choose one with `--collection`".into())),
            }
        }
    }
}

struct PlanContext<'a> {
    input: &'a RootInput,
    reader: &'a ReaderTree,
    tree: &'a TreeInfo,
}

impl PlanContext<'_> {
    fn branch_err(&self, branch: &str, message: String) -> Error {
        Error::Branch {
            path: self.input.path.clone(),
            tree: self.tree.name.clone(),
            branch: branch.to_owned(),
            message,
        }
    }

    fn plan_collection(&mut self, collection: Collection) -> Result<RootPlan> {
        let entries = self.tree.entries;
        let counter_info = self
            .tree
            .branch(&collection.counter)
            .expect("counter is a branch");
        let counter_ty = counter_info.numeric.expect("counter is numeric");
        let counter = self.source(&collection.counter, counter_ty, Offsets::Entries)?;
        let counts = self.read_counts(counter, entries)?;
        let offsets = cumulative(&counts);
        let rows = *offsets.last().unwrap_or(&0);

        let event = self.event_source()?;
        let mut fields = vec![event_field(event.as_ref())];
        let mut columns = Vec::new();
        let mut dropped = Vec::new();
        let prefix = format!("{}_", collection.name);
        for b in self
            .tree
            .branches
            .iter()
            .filter(|b| super::is_member(&b.name, &collection.name))
        {
            // `Jet_pt` is column `pt` of `Jet`; an array named as its collection keeps its name.
            let name = b.name.strip_prefix(&prefix).unwrap_or(&b.name).to_owned();
            match (b.numeric, b.jagged) {
                (Some(ty), true) => {
                    columns.push(self.source(&b.name, ty, Offsets::Table(&offsets))?);
                    fields.push(Field::new(name, ty.arrow(), false));
                }
                _ => dropped.push(DroppedColumn {
                    name: b.name.clone(),
                    reason: format!(
                        "`{}` is not a variable-length array of numbers",
                        b.type_name
                    ),
                }),
            }
        }
        self.finish(fields, columns, dropped, event, Some(counts), rows)
    }

    fn plan_flat(&mut self) -> Result<RootPlan> {
        let entries = self.tree.entries;
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        let mut dropped = Vec::new();
        for b in &self.tree.branches {
            match (b.numeric, b.jagged) {
                (Some(ty), false) => {
                    columns.push(self.source(&b.name, ty, Offsets::Entries)?);
                    fields.push(Field::new(b.name.clone(), ty.arrow(), false));
                }
                _ => dropped.push(DroppedColumn {
                    name: b.name.clone(),
                    reason: format!("`{}` is not a number", b.type_name),
                }),
            }
        }
        self.finish(fields, columns, dropped, None, None, entries)
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        fields: Vec<Field>,
        columns: Vec<BranchSource>,
        dropped: Vec<DroppedColumn>,
        event: Option<BranchSource>,
        counts: Option<Vec<u64>>,
        rows: u64,
    ) -> Result<RootPlan> {
        if columns.is_empty() {
            return Err(Error::NoNumericColumns {
                path: self.input.path.clone(),
            });
        }
        Ok(RootPlan {
            tree: self.tree.clone(),
            schema: Arc::new(Schema::new(fields)),
            dropped,
            rows,
            counts,
            event,
            columns,
        })
    }

    /// The tree's flat `event` branch, if it has one.
    fn event_source(&self) -> Result<Option<BranchSource>> {
        match self.tree.branch(EVENT_COLUMN) {
            Some(BranchInfo {
                numeric: Some(ty),
                jagged: false,
                ..
            }) => Ok(Some(self.source(EVENT_COLUMN, *ty, Offsets::Entries)?)),
            _ => Ok(None),
        }
    }

    /// Locates a branch's baskets and checks each against the values the counter (or the
    /// tree's entry count) gives it, before anything is read or allocated.
    fn source(&self, branch: &str, ty: NumericType, offsets: Offsets) -> Result<BranchSource> {
        let entries = self.tree.entries;
        let key = (self.tree.name.clone(), branch.to_owned());
        let stored = self.input.baskets.get(&key).cloned().unwrap_or_default();
        let mut baskets = Vec::with_capacity(stored.len() + 1);
        let mut entry = 0;
        for k in stored {
            let end = entry + k.entries;
            if end > entries {
                return Err(self.branch_err(
                    branch,
                    format!("baskets hold more than the tree's {entries} entries"),
                ));
            }
            let values = offsets.at(entry)..offsets.at(end);
            // Checked before anything is read or allocated: a damaged counter or key is
            // caught here, naming this branch.
            if let Some(message) = basket_mismatch(k.data_len(), values.end - values.start, ty) {
                return Err(
                    self.branch_err(branch, format!("the basket at byte {} {message}", k.seek))
                );
            }
            baskets.push((values, Basket::Stored(k)));
            entry = end;
        }
        if entry < entries {
            let bytes = self.embedded_bytes(branch)?;
            let values = offsets.at(entry)..offsets.at(entries);
            if let Some(message) =
                basket_mismatch(bytes.len() as u64, values.end - values.start, ty)
            {
                return Err(
                    self.branch_err(branch, format!("the basket in the tree record {message}"))
                );
            }
            baskets.push((values, Basket::Embedded(bytes)));
        }
        Ok(BranchSource {
            branch: branch.to_owned(),
            ty,
            baskets,
        })
    }

    /// The bytes of the basket kept in the TTree record. oxyroot hands it out as the first chunk.
    fn embedded_bytes(&self, branch: &str) -> Result<Vec<u8>> {
        let b = self
            .reader
            .branch(branch)
            .ok_or_else(|| self.branch_err(branch, "branch not found".into()))?;
        let first = guard(|| {
            b.get_basket(|r: &mut RBuffer| {
                let n = r.len().max(0) as usize;
                r.read_array_u8(n).map(<[u8]>::to_vec).unwrap_or_default()
            })
            .next()
        })
        .map_err(|m| self.branch_err(branch, m))?;
        first.ok_or_else(|| {
            self.branch_err(
                branch,
                "the basket stored in the tree record is missing".into(),
            )
        })
    }

    fn read_counts(&self, counter: BranchSource, entries: u64) -> Result<Vec<u64>> {
        let name = counter.branch.clone();
        let mut cursor = BranchCursor::new(&self.input.path, &self.tree.name, counter)?;
        let array = cursor.read(0..entries)?;
        let array = arrow::compute::cast(&array, &arrow::datatypes::DataType::Int64)?;
        let values = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(&array);
        values
            .values()
            .iter()
            .map(|&n| {
                u64::try_from(n).map_err(|_| self.branch_err(&name, format!("negative count {n}")))
            })
            .collect()
    }
}

/// Why a basket of `data_len` bytes cannot hold the `count` values of type `ty` the counter
/// gives it, if it cannot.
fn basket_mismatch(data_len: u64, count: u64, ty: NumericType) -> Option<String> {
    let width = ty.width() as u64;
    if data_len == count.saturating_mul(width) {
        None
    } else if data_len.is_multiple_of(width) {
        Some(format!(
            "holds {} values where the counter says {count} (entries' lengths disagree with the counter branch)",
            data_len / width
        ))
    } else {
        Some(format!(
            "holds {data_len} bytes, not a whole number of {width}-byte values"
        ))
    }
}

/// Where each entry's values start: at the entry number (one value per entry), or at the
/// cumulative counts of a counter.
#[derive(Clone, Copy)]
enum Offsets<'a> {
    Entries,
    Table(&'a [u64]),
}

impl Offsets<'_> {
    fn at(self, entry: u64) -> u64 {
        match self {
            Self::Entries => entry,
            Self::Table(t) => t[entry as usize],
        }
    }
}

fn cumulative(counts: &[u64]) -> Vec<u64> {
    std::iter::once(0)
        .chain(counts.iter().scan(0, |acc, &n| {
            *acc += n;
            Some(*acc)
        }))
        .collect()
}

fn event_field(event: Option<&BranchSource>) -> Field {
    let ty = event.map_or(arrow::datatypes::DataType::UInt64, |e| e.ty.arrow());
    Field::new(EVENT_COLUMN, ty, false)
}

/// Reads a branch's values in increasing, contiguous ranges, one basket at a time.
struct BranchCursor {
    path: PathBuf,
    tree: String,
    source: BranchSource,
    file: File,
    baskets: VecDeque<(Range<u64>, Basket)>,
    /// The basket being read: the index of its first value and its data.
    current: Option<(u64, Vec<u8>)>,
}

impl BranchCursor {
    fn new(path: &Path, tree: &str, mut source: BranchSource) -> Result<Self> {
        let file = File::open(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        let baskets = std::mem::take(&mut source.baskets).into();
        Ok(Self {
            path: path.to_owned(),
            tree: tree.to_owned(),
            source,
            file,
            baskets,
            current: None,
        })
    }

    fn err(&self, message: String) -> Error {
        Error::Branch {
            path: self.path.clone(),
            tree: self.tree.clone(),
            branch: self.source.branch.clone(),
            message,
        }
    }

    /// Reads the values `range` (by value index) as an Arrow array.
    fn read(&mut self, range: Range<u64>) -> Result<ArrayRef> {
        let width = self.source.ty.width() as u64;
        let mut bytes = Vec::with_capacity(((range.end - range.start) * width) as usize);
        let mut at = range.start;
        while at < range.end {
            let (start, data) = match &self.current {
                Some((start, data)) if at < start + data.len() as u64 / width => (*start, data),
                _ => {
                    self.load_next()?;
                    continue;
                }
            };
            let end = range.end.min(start + data.len() as u64 / width);
            bytes.extend_from_slice(
                &data[((at - start) * width) as usize..((end - start) * width) as usize],
            );
            at = end;
        }
        Ok(self.source.ty.decode_be(&bytes))
    }

    fn load_next(&mut self) -> Result<()> {
        let (values, basket) = self
            .baskets
            .pop_front()
            .ok_or_else(|| self.err("ran out of baskets before the last entry".into()))?;
        let expected = ((values.end - values.start) * self.source.ty.width() as u64) as usize;
        let data = match basket {
            Basket::Stored(key) => {
                keys::read_basket(&mut self.file, &key).map_err(|m| self.err(m))?
            }
            Basket::Embedded(bytes) => bytes,
        };
        if data.len() != expected {
            return Err(self.err(format!(
                "basket holds {} values where the counter says {} (entries' lengths disagree with the counter branch)",
                data.len() / self.source.ty.width(),
                values.end - values.start
            )));
        }
        self.current = Some((values.start, data));
        Ok(())
    }
}

/// Streams a [`RootPlan`] as record batches of about `batch_rows` rows.
pub(crate) struct RootBatches {
    schema: SchemaRef,
    counts: Option<Vec<u64>>,
    entries: u64,
    next_entry: u64,
    next_row: u64,
    batch_rows: u64,
    event: Option<BranchCursor>,
    columns: Vec<BranchCursor>,
}

impl RootBatches {
    pub fn new(path: &Path, plan: RootPlan, batch_rows: usize) -> Result<Self> {
        let tree = plan.tree.name.clone();
        let cursor = |s| BranchCursor::new(path, &tree, s);
        Ok(Self {
            schema: plan.schema,
            counts: plan.counts,
            entries: plan.tree.entries,
            next_entry: 0,
            next_row: 0,
            batch_rows: batch_rows.max(1) as u64,
            event: plan.event.map(cursor).transpose()?,
            columns: plan
                .columns
                .into_iter()
                .map(cursor)
                .collect::<Result<_>>()?,
        })
    }

    fn next_batch(&mut self) -> Result<RecordBatch> {
        let first = self.next_entry;
        let (last, rows) = match &self.counts {
            None => {
                let last = (first + self.batch_rows).min(self.entries);
                (last, last - first)
            }
            Some(counts) => {
                let mut last = first;
                let mut rows = 0;
                while last < self.entries && (rows < self.batch_rows || last == first) {
                    rows += counts[last as usize];
                    last += 1;
                }
                (last, rows)
            }
        };
        let values = self.next_row..self.next_row + rows;
        let mut arrays = Vec::with_capacity(self.columns.len() + 1);
        if let Some(counts) = &self.counts {
            let counts = &counts[first as usize..last as usize];
            arrays.push(event_column(&mut self.event, first..last, counts)?);
        }
        for c in &mut self.columns {
            arrays.push(c.read(values.clone())?);
        }
        self.next_entry = last;
        self.next_row = values.end;
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

/// The event index of every jet of entries `entries`: the `event` branch, else the entry number.
fn event_column(
    event: &mut Option<BranchCursor>,
    entries: Range<u64>,
    counts: &[u64],
) -> Result<ArrayRef> {
    let per_jet = counts
        .iter()
        .enumerate()
        .flat_map(|(i, &n)| std::iter::repeat_n(i as u32, n as usize));
    match event {
        Some(cursor) => {
            let events = cursor.read(entries)?;
            let take = UInt32Array::from_iter_values(per_jet);
            Ok(arrow::compute::take(&events, &take, None)?)
        }
        None => Ok(Arc::new(UInt64Array::from_iter_values(
            per_jet.map(|i| entries.start + i as u64),
        ))),
    }
}

impl Iterator for RootBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next_entry >= self.entries {
            return None;
        }
        let batch = self.next_batch();
        if batch.is_err() {
            self.next_entry = self.entries;
        }
        Some(batch)
    }
}
