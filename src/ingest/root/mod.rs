//! ROOT input: trees of jet collections (`nJet` + `Jet_*`) or flat trees, to Arrow batches.
//!
//! oxyroot reads the file's directory, the tree's branch list and each branch's basket table;
//! the basket data is read by [`keys`], and every basket is checked against its basket table and
//! the counter branch (see the module docs there for why). Every oxyroot call runs under
//! [`guard`] so that its panics become errors.

mod keys;
mod packed;

use std::collections::VecDeque;
use std::fs::File;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use oxyroot::{Branch, ReaderTree, RootFile};

use self::keys::BasketKey;
use self::packed::{Packing, packed_type};
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

/// How a branch stores each entry's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One value per entry.
    Scalar,
    /// A variable-length array counted by another branch (`float[nJet]`).
    Counted,
    /// A `std::vector` of numbers: each entry carries its own length.
    Vector,
    /// A fixed-size array of this many values per entry (`float[3]`).
    Fixed(usize),
}

/// The description of one branch as the planner sees it.
#[derive(Debug, Clone)]
pub(crate) struct BranchInfo {
    pub name: String,
    pub type_name: String,
    /// The element type, for a branch of numbers in one of the [`Shape`]s.
    pub numeric: Option<NumericType>,
    pub shape: Shape,
    /// For a `std::vector` branch: after each stored basket, the entries and values so far
    /// (from the baskets' sizes, nothing read), to tell vectors of different lengths apart.
    pub value_ends: Vec<(u64, u64)>,
    /// For a counted array: the branch its leaf's title names as its counter (`Af4[n]`).
    pub counted_by: Option<String>,
    /// For a `Double32_t` or `Float16_t` leaf: how its values are packed.
    pub packing: Option<Packing>,
}

impl BranchInfo {
    /// Variable-length: counted, or a `std::vector`.
    pub fn jagged(&self) -> bool {
        matches!(self.shape, Shape::Counted | Shape::Vector)
    }
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

    /// Collections: a flat integer counter `nX`/`NX` and at least one variable-length `X_*`
    /// branch that it counts (as the array's leaf title says, if it names a counter), or a
    /// variable-length branch `X` itself (NanoAOD's `nLHEPdfWeight` + `LHEPdfWeight`); then the
    /// counted arrays no such counter claims, by the counter their title names; then the
    /// `std::vector` branches no counter claims, grouped by name ([`vector_collection`]:
    /// `jet_pt` and `jet_eta` are collection `jet`, as are `jet.pt` and `jet.eta`), whose
    /// lengths come from the vectors themselves.
    pub fn collections(&self) -> Vec<Collection> {
        let mut found: Vec<Collection> = self
            .branches
            .iter()
            .filter(|b| {
                b.shape == Shape::Scalar && b.numeric.is_some_and(|t| t != NumericType::Bool)
            })
            .filter_map(|counter| {
                let name = counter
                    .name
                    .strip_prefix('n')
                    .or_else(|| counter.name.strip_prefix('N'))?;
                let members: Vec<_> = self
                    .branches
                    .iter()
                    // An array's leaf names its counter (`Jet_pt[nJet]`): one counted by
                    // another branch is not this counter's.
                    .filter(|b| b.jagged() && super::is_member(&b.name, name))
                    .filter(|b| b.counted_by.as_ref().is_none_or(|c| *c == counter.name))
                    .map(|b| b.name.clone())
                    .collect();
                (!name.is_empty() && !members.is_empty()).then(|| Collection {
                    name: name.to_owned(),
                    counter: counter.name.clone(),
                    lengths_of: None,
                    members,
                })
            })
            .collect();
        // Arrays that no `nX` claims, counted by the branch their leaf's title names (`Af4[n]`,
        // `px[nTracks]`): a collection named as that counter, whose arrays keep their names.
        let claimed: std::collections::HashSet<String> =
            found.iter().flat_map(|c| c.members.clone()).collect();
        let mut by_title: Vec<Collection> = Vec::new();
        for b in self.branches.iter().filter(|b| !claimed.contains(&b.name)) {
            let Some(counter) = &b.counted_by else {
                continue;
            };
            let counts = self.branch(counter).is_some_and(|c| {
                c.shape == Shape::Scalar && c.numeric.is_some_and(|t| t != NumericType::Bool)
            });
            if !counts || found.iter().any(|f| &f.name == counter) {
                continue;
            }
            match by_title.iter_mut().find(|c| &c.counter == counter) {
                Some(c) => c.members.push(b.name.clone()),
                None => by_title.push(Collection {
                    name: counter.clone(),
                    counter: counter.clone(),
                    lengths_of: None,
                    members: vec![b.name.clone()],
                }),
            }
        }
        found.extend(by_title);
        let claimed: std::collections::HashSet<String> =
            found.iter().flat_map(|c| c.members.clone()).collect();
        let mut vectors: Vec<Collection> = Vec::new();
        for b in self
            .branches
            .iter()
            .filter(|b| b.shape == Shape::Vector && !claimed.contains(&b.name))
        {
            let name = vector_collection(&b.name);
            match vectors.iter_mut().find(|c| c.name == name) {
                Some(c) => c.members.push(b.name.clone()),
                None => vectors.push(Collection {
                    name: name.to_owned(),
                    counter: format!("n{name}"),
                    lengths_of: None,
                    members: vec![b.name.clone()],
                }),
            }
        }
        // Vectors named alike whose lengths differ (as their baskets' sizes show) are not one
        // collection: each such vector is a collection of its own, named as the branch.
        let mut split = Vec::new();
        for c in &mut vectors {
            let first = c
                .members
                .iter()
                .find_map(|m| self.branch(m).filter(|b| b.numeric.is_some()));
            let Some(first) = first.cloned() else {
                continue;
            };
            c.members.retain(|m| {
                let b = self.branch(m).expect("a member is a branch");
                let same = b.numeric.is_none() || same_lengths(&first.value_ends, &b.value_ends);
                if !same {
                    split.push(Collection {
                        name: m.clone(),
                        counter: format!("n{m}"),
                        lengths_of: None,
                        members: vec![m.clone()],
                    });
                }
                same
            });
        }
        vectors.extend(split);
        for mut c in vectors {
            // The first vector of numbers gives the lengths; one with none cannot be read.
            let Some(first) = c
                .members
                .iter()
                .find(|m| self.branch(m).is_some_and(|b| b.numeric.is_some()))
            else {
                continue;
            };
            if found.iter().any(|f| f.name == c.name) || self.branch(&c.counter).is_some() {
                continue;
            }
            c.lengths_of = Some(first.clone());
            found.push(c);
        }
        found
    }
}

/// Whether two `std::vector` branches can have the same lengths: as many values after every
/// entry at which both end a basket.
fn same_lengths(a: &[(u64, u64)], b: &[(u64, u64)]) -> bool {
    a.iter().all(|(entry, values)| {
        b.iter()
            .find(|(e, _)| e == entry)
            .is_none_or(|(_, v)| v == values)
    })
}

/// The collection a `std::vector` branch belongs to: its name before the first `.` (ATLAS's
/// `AnalysisJetsAuxDyn.pt`), else before the last `_` (`offline_akt4_pf_NOSYS_pt`), else the
/// branch itself.
fn vector_collection(branch: &str) -> &str {
    branch
        .split_once('.')
        .or_else(|| branch.rsplit_once('_'))
        .map(|(prefix, _)| prefix)
        .filter(|p| !p.is_empty())
        .unwrap_or(branch)
}

/// A jet-like collection: its name (`Jet`), counter branch (`nJet`) and member branches.
#[derive(Debug, Clone)]
pub(crate) struct Collection {
    pub name: String,
    /// The counter: a branch of the tree, or for `std::vector` collections the column `nX`
    /// that a flat read adds (from the lengths of [`Self::lengths_of`]).
    pub counter: String,
    /// For a collection of `std::vector` branches: the member whose lengths count it.
    pub lengths_of: Option<String>,
    /// The variable-length branches of the collection.
    pub members: Vec<String>,
}

impl Collection {
    /// A collection named as its counter (`n`, for arrays `Af4[n]`): its arrays keep their
    /// branch names, rather than `X_field` becoming field `field` of `X`.
    pub fn named_by_counter(&self) -> bool {
        self.name == self.counter
    }

    /// What counts the collection's elements, as `inspect` shows it.
    pub fn counter_label(&self) -> String {
        match &self.lengths_of {
            None => format!("counter `{}`", self.counter),
            Some(first) => format!("std::vector lengths of `{first}`"),
        }
    }
}

/// How many directories deep trees are looked for.
const MAX_DEPTH: usize = 8;

/// A ROOT file opened for planning: its trees.
pub(crate) struct RootInput {
    path: PathBuf,
    file: RootFile,
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
        keys::check_header(&mut raw).map_err(root_err)?;
        let file = guard(|| RootFile::open(path))
            .map_err(root_err)?
            .map_err(|e| root_err(e.to_string()))?;
        let mut file = file;
        // Trees at the top and inside directories (`demo/tree`, as CMS's TFileService writes).
        let mut trees: Vec<String> = guard(|| file.objects_of_class("TTree", MAX_DEPTH))
            .map_err(root_err)?
            .map_err(|e| root_err(format!("cannot list the file's directories: {e}")))?
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        trees.dedup();
        Ok(Self {
            path: path.to_owned(),
            file,
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
            (None, []) => Err(tree_err(format!(
                "no tree found (looked up to {MAX_DEPTH} directories deep)"
            ))),
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
        let mut branches: Vec<BranchInfo> = guard(|| tree.branches().map(branch_info).collect())
            .map_err(|message| Error::Root {
                path: self.path.clone(),
                message: format!("cannot list the branches of tree `{name}`: {message}"),
            })?;
        for b in branches.iter_mut().filter(|b| b.shape == Shape::Vector) {
            let Some(ty) = b.numeric else {
                continue;
            };
            // A branch whose baskets cannot be found is named when it is read.
            let total = tree.entries().max(0) as u64;
            let baskets = branch_baskets(&self.path, &tree, &b.name, total).unwrap_or_default();
            let mut values = 0;
            for (range, basket) in &baskets {
                let n = range.end - range.start;
                values += match basket {
                    Basket::Stored(k) => {
                        k.data_len().saturating_sub(n * VECTOR_HEADER) / ty.width() as u64
                    }
                    // A basket in the tree record (a small tree's only one): its lengths.
                    Basket::Embedded(bytes) => match unpack_vectors(bytes, n, ty.width()) {
                        Ok((lengths, _)) => lengths.iter().map(|&l| u64::from(l)).sum(),
                        Err(_) => break,
                    },
                };
                b.value_ends.push((range.end, values));
            }
        }
        Ok(TreeInfo {
            name: name.to_owned(),
            entries: tree.entries().max(0) as u64,
            branches,
        })
    }
}

fn branch_info(branch: &Branch) -> BranchInfo {
    let mut type_name = if branch.branches().next().is_some() {
        format!("{} (split object)", branch.class())
    } else {
        branch.item_type_name()
    };
    let (mut numeric, shape) = leaf_shape(&type_name);
    let titles = branch.leaf_titles();
    let mut packing = None;
    if let (Some(out), Shape::Scalar | Shape::Counted | Shape::Fixed(_)) = (numeric, shape) {
        let base = type_name.split('[').next().unwrap_or_default();
        if packed_type(base).is_some() {
            match titles.as_slice() {
                [title] => match Packing::from_title(out, title) {
                    Ok(p) => packing = Some(p),
                    Err(why) => {
                        numeric = None;
                        type_name = format!("{type_name}, {why}");
                    }
                },
                _ => numeric = None,
            }
        }
    }
    BranchInfo {
        name: branch.name().to_owned(),
        numeric,
        shape,
        packing,
        counted_by: (shape == Shape::Counted && packing.is_none())
            .then(|| counter_of(&titles))
            .flatten(),
        type_name,
        value_ends: Vec::new(),
    }
}

/// The counter a counted array's only leaf names in its title: `n` for `Af4[n]`.
fn counter_of(titles: &[String]) -> Option<String> {
    let [title] = titles else {
        return None;
    };
    let (_, rest) = title.split_once('[')?;
    let counter = rest.strip_suffix(']')?;
    let plain = !counter.is_empty()
        && counter.parse::<u64>().is_err()
        && !counter.contains(['[', ']', ',']);
    plain.then(|| counter.to_owned())
}

/// The element type and shape of a branch from its C++ type name: `float`, `float[]`
/// (counted), `float[3]`, `vector<float>` / `std::vector<float>`. Anything else (objects,
/// strings, nested vectors, multi-dimensional arrays) has no numeric type.
fn leaf_shape(type_name: &str) -> (Option<NumericType>, Shape) {
    let t = type_name.trim();
    let t = t.strip_prefix("std::").unwrap_or(t);
    // RDataFrame's `ROOT::VecOps::RVec<float>` is stored as a `std::vector`.
    let vector = t
        .strip_prefix("vector<")
        .or_else(|| t.strip_prefix("ROOT::VecOps::RVec<"))
        .or_else(|| t.strip_prefix("ROOT::RVec<"));
    if let Some(inner) = vector.and_then(|r| r.strip_suffix('>')) {
        // An allocator (RVec's `vector<float,ROOT::Detail::VecOps::RAdoptAllocator<float>>`)
        // does not change how the vector is stored.
        let element = inner.split_once(',').map_or(inner, |(element, _)| element);
        return (NumericType::from_root(element), Shape::Vector);
    }
    // `Double32_t` and `Float16_t` leaves are read as float64 and float32 (see [`packed`]).
    let number = |base: &str| NumericType::from_root(base).or_else(|| packed_type(base));
    if let Some(base) = t.strip_suffix("[]") {
        return (number(base), Shape::Counted);
    }
    if let Some((base, dim)) = t.strip_suffix(']').and_then(|r| r.split_once('[')) {
        return match dim.parse::<usize>() {
            Ok(n) if n > 0 => (number(base), Shape::Fixed(n)),
            _ => (None, Shape::Scalar),
        };
    }
    (number(t), Shape::Scalar)
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
    /// Each source gives [`BranchSource::columns`] consecutive columns of the schema.
    columns: Vec<BranchSource>,
}

/// How a branch's baskets hold its values, and what the reader makes of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// Values back to back (scalars, counted and fixed-size arrays).
    Plain,
    /// `std::vector` entries as ROOT streams them: a 4-byte byte count (flag `0x40000000`), a
    /// 2-byte class version, a 4-byte length, then the values.
    Vector,
    /// The lengths of a `std::vector` branch of `element`s, as `uint32` values: its
    /// collection's counter.
    VectorLengths { element: NumericType },
}

/// Bytes before the values of each `std::vector` entry.
const VECTOR_HEADER: u64 = 10;

/// Where a column's values are: the baskets of one branch.
struct BranchSource {
    branch: String,
    /// The type of the values read (for [`Encoding::VectorLengths`], `uint32`).
    ty: NumericType,
    /// For a `Double32_t` or `Float16_t` leaf: how its values are packed on disk.
    packing: Option<Packing>,
    encoding: Encoding,
    /// Values per row: the length of a fixed-size array, whose values become this many
    /// columns (`x[0]`, `x[1]`, …); 1 otherwise.
    columns: usize,
    /// For [`Encoding::Vector`]: where each entry's values start (the counter's), to check
    /// every entry's length against.
    offsets: Option<Arc<Vec<u64>>>,
    /// Baskets in entry order: the entries and the values each holds.
    baskets: Vec<(Range<u64>, Range<u64>, Basket)>,
}

impl Basket {
    /// Bytes of value data in the basket.
    fn data_len(&self) -> u64 {
        match self {
            Self::Stored(k) => k.data_len(),
            Self::Embedded(bytes) => bytes.len() as u64,
        }
    }
}

impl BranchSource {
    /// Bytes per value on disk.
    fn width(&self) -> usize {
        self.packing.map_or(self.ty.width(), Packing::width)
    }
}

enum Basket {
    Stored(BasketKey),
    /// A basket kept inside the TTree record rather than in a key of its own: its data.
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
                [] if tree.branches.iter().any(|b| b.shape == Shape::Counted) => Err(err(
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
        let counter = match &collection.lengths_of {
            None => {
                let info = self
                    .tree
                    .branch(&collection.counter)
                    .expect("counter is a branch");
                let ty = info.numeric.expect("counter is numeric");
                self.source(&collection.counter, ty, Encoding::Plain, Offsets::Entries)?
            }
            Some(first) => self.lengths_source(first)?,
        };
        let counts = self.read_counts(counter, entries)?;
        let offsets = Arc::new(cumulative(&counts));
        let rows = *offsets.last().unwrap_or(&0);

        let event = self.event_source()?;
        let mut fields = vec![event_field(event.as_ref())];
        let mut columns = Vec::new();
        let mut dropped = Vec::new();
        let prefixes = [
            format!("{}_", collection.name),
            format!("{}.", collection.name),
        ];
        let branches: Vec<&BranchInfo> = match collection.lengths_of {
            // Every branch named like a member: those that are not arrays are named as dropped.
            None if !collection.named_by_counter() => self
                .tree
                .branches
                .iter()
                .filter(|b| super::is_member(&b.name, &collection.name))
                .collect(),
            _ => collection
                .members
                .iter()
                .filter_map(|m| self.tree.branch(m))
                .collect(),
        };
        let mut seen = std::collections::HashSet::new();
        for b in branches {
            if !seen.insert(&b.name) {
                dropped.push(DroppedColumn::duplicate(&b.name));
                continue;
            }
            // `Jet_pt` (or `Jet.pt`) is column `pt` of `Jet`; an array named as its collection
            // keeps its name.
            let name = prefixes
                .iter()
                .filter(|_| !collection.named_by_counter())
                .find_map(|p| b.name.strip_prefix(p.as_str()))
                .unwrap_or(&b.name)
                .to_owned();
            let encoding = match b.shape {
                Shape::Counted => Encoding::Plain,
                _ => Encoding::Vector,
            };
            match (b.numeric, b.jagged()) {
                (Some(ty), true) => {
                    let offsets_of = Offsets::Table(&offsets);
                    let Some(mut source) =
                        self.source_or_drop(&b.name, ty, encoding, offsets_of, &mut dropped)
                    else {
                        continue;
                    };
                    source.offsets = (encoding == Encoding::Vector).then(|| offsets.clone());
                    columns.push(source);
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
        // When no array agrees with the counter, the counter is what is damaged (or is not
        // theirs): the collection is refused, naming it, rather than read as rows of nothing.
        let first = dropped
            .iter()
            .find(|d| DroppedColumn::is_unreadable(&d.reason));
        if let (true, Some(d)) = (columns.is_empty(), first) {
            return Err(self.branch_err(
                &collection.counter,
                format!(
                    "no array of collection `{}` agrees with it: `{}` {}",
                    collection.name, d.name, d.reason
                ),
            ));
        }
        self.finish(fields, columns, dropped, event, Some(counts), rows)
    }

    /// One row per entry: the scalar branches; each fixed-size array as one column per
    /// element (`x[0]`, `x[1]`, …); and for each collection of `std::vector` branches its
    /// counter `nX` (the vectors' lengths), so that the per-event layout can be rebuilt.
    fn plan_flat(&mut self) -> Result<RootPlan> {
        let entries = self.tree.entries;
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        let mut dropped = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for b in &self.tree.branches {
            if !seen.insert(&b.name) {
                dropped.push(DroppedColumn::duplicate(&b.name));
                continue;
            }
            match (b.numeric, b.shape) {
                (Some(ty), Shape::Scalar) => {
                    let (encoding, offsets) = (Encoding::Plain, Offsets::Entries);
                    if let Some(source) =
                        self.source_or_drop(&b.name, ty, encoding, offsets, &mut dropped)
                    {
                        columns.push(source);
                        fields.push(Field::new(b.name.clone(), ty.arrow(), false));
                    }
                }
                (Some(ty), Shape::Fixed(n)) => {
                    match self.locate(&b.name, ty, Encoding::Plain, Offsets::Fixed(n)) {
                        Ok(mut source) => {
                            source.columns = n;
                            columns.push(source);
                            fields.extend(
                                (0..n).map(|i| Field::new(format!("{}[{i}]", b.name), ty.arrow(), false)),
                            );
                        }
                        // oxyroot names `float[2][3]` as `float[2]`: its baskets tell.
                        Err(e) => dropped.push(DroppedColumn {
                            name: b.name.clone(),
                            reason: format!(
                                "`{}` could not be read as a fixed-size array (multi-dimensional arrays are not read): {e}",
                                b.type_name
                            ),
                        }),
                    }
                }
                (Some(_), Shape::Counted | Shape::Vector) => dropped.push(DroppedColumn {
                    name: b.name.clone(),
                    reason: format!(
                        "`{}` is a variable-length array: read it with its collection",
                        b.type_name
                    ),
                }),
                (None, _) => dropped.push(DroppedColumn {
                    name: b.name.clone(),
                    reason: format!("`{}` is not a number", b.type_name),
                }),
            }
        }
        for c in self.tree.collections() {
            if let Some(first) = &c.lengths_of {
                columns.push(self.lengths_source(first)?);
                fields.push(Field::new(c.counter.clone(), DataType::UInt32, false));
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
            // Numbers that could not be read are named, not called absent.
            if let Some(d) = dropped
                .iter()
                .find(|d| DroppedColumn::is_unreadable(&d.reason))
            {
                let message = d.reason.trim_start_matches(super::CANNOT_READ).to_owned();
                return Err(self.branch_err(&d.name, message));
            }
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
                shape: Shape::Scalar,
                ..
            }) => Ok(Some(self.source(
                EVENT_COLUMN,
                *ty,
                Encoding::Plain,
                Offsets::Entries,
            )?)),
            _ => Ok(None),
        }
    }

    /// The lengths of `std::vector` branch `branch`, one `uint32` per entry.
    fn lengths_source(&self, branch: &str) -> Result<BranchSource> {
        let element = self
            .tree
            .branch(branch)
            .and_then(|b| b.numeric)
            .expect("a collection's lengths come from a vector of numbers");
        self.source(
            branch,
            NumericType::UInt32,
            Encoding::VectorLengths { element },
            Offsets::Entries,
        )
    }

    /// Locates a branch's baskets and checks each against the values the counter (or the
    /// tree's entry count) gives it, before anything is read or allocated.
    fn source(
        &self,
        branch: &str,
        ty: NumericType,
        encoding: Encoding,
        offsets: Offsets,
    ) -> Result<BranchSource> {
        self.locate(branch, ty, encoding, offsets)
            .map_err(|m| self.branch_err(branch, m))
    }

    /// [`Self::source`] for a branch that, if it cannot be read, is left out and named in
    /// `dropped` (with [`super::CANNOT_READ`]) while the others are read.
    fn source_or_drop(
        &self,
        branch: &str,
        ty: NumericType,
        encoding: Encoding,
        offsets: Offsets,
        dropped: &mut Vec<DroppedColumn>,
    ) -> Option<BranchSource> {
        self.locate(branch, ty, encoding, offsets)
            .map_err(|m| dropped.push(DroppedColumn::unreadable(branch, &m)))
            .ok()
    }

    fn locate(
        &self,
        branch: &str,
        ty: NumericType,
        encoding: Encoding,
        offsets: Offsets,
    ) -> Result<BranchSource, String> {
        let entries = self.tree.entries;
        let packing = match encoding {
            Encoding::Plain => self.tree.branch(branch).and_then(|b| b.packing),
            _ => None,
        };
        let width = packing.map_or(ty.width(), Packing::width) as u64;
        let located = branch_baskets(&self.input.path, self.reader, branch, entries)?;
        let mut baskets = Vec::with_capacity(located.len());
        for (range, basket) in located {
            if range.end > entries {
                return Err(format!(
                    "baskets hold more than the tree's {entries} entries"
                ));
            }
            let values = offsets.at(range.start)..offsets.at(range.end);
            // Checked before anything is read or allocated: a damaged counter or key is
            // caught here, naming this branch.
            let n = range.end - range.start;
            let mismatch = basket_mismatch(basket.data_len(), n, &values, width, encoding);
            if let Some(message) = mismatch {
                return Err(match &basket {
                    Basket::Stored(k) => format!("the basket at byte {} {message}", k.seek),
                    Basket::Embedded(_) => format!("the basket in the tree record {message}"),
                });
            }
            baskets.push((range, values, basket));
        }
        Ok(BranchSource {
            branch: branch.to_owned(),
            ty,
            packing,
            encoding,
            columns: 1,
            offsets: None,
            baskets,
        })
    }

    fn read_counts(&self, counter: BranchSource, entries: u64) -> Result<Vec<u64>> {
        let name = counter.branch.clone();
        let mut cursor = BranchCursor::new(&self.input.path, &self.tree.name, counter)?;
        let array = cursor.read(0..entries)?.remove(0);
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

/// The baskets of `branch`, in entry order with the entries each holds, found as ROOT and uproot
/// find them: through the branch's basket table (`fBasketSeek`, `fBasketBytes`, `fBasketEntry`
/// in the tree record). A basket in a key of its own is read where the table puts it and checked
/// against the table (a basket of this branch, of the size and entries the table gives); one at
/// position 0, and the entries after the table's last, are the baskets kept in the tree record,
/// in order (a tree written from memory keeps all of them there).
fn branch_baskets(
    path: &Path,
    reader: &ReaderTree,
    branch: &str,
    entries: u64,
) -> Result<Vec<(Range<u64>, Basket)>, String> {
    let b = reader.branch(branch).ok_or("branch not found")?;
    let (table, end) = guard(|| b.basket_table())?;
    let mut in_record = guard(|| b.embedded_baskets())?.into_iter();
    let mut next_in_record = |range: &Range<u64>| {
        in_record.next().map(|(data, _)| data).ok_or_else(|| {
            format!(
                "entries {}..{} are in no basket: the tree record holds none for them",
                range.start, range.end
            )
        })
    };
    let mut file = None;
    let mut baskets = Vec::with_capacity(table.len() + 1);
    let mut entry = 0;
    for (i, &(seek, bytes, first)) in table.iter().enumerate() {
        let next = table.get(i + 1).map(|row| row.2).or(end);
        let (Ok(seek), Ok(bytes), Ok(first)) = (
            u64::try_from(seek),
            u64::try_from(bytes),
            u64::try_from(first),
        ) else {
            return Err(format!(
                "its basket table lists basket {i} at byte {seek} with {bytes} bytes from entry {first}"
            ));
        };
        let next = next.and_then(|n| u64::try_from(n).ok());
        if seek == 0 {
            let end = next
                .filter(|&n| n >= entry && first == entry)
                .ok_or_else(|| {
                    format!(
                        "its basket table gives basket {i}, kept in the tree record, no entries"
                    )
                })?;
            let range = entry..end;
            baskets.push((range.clone(), Basket::Embedded(next_in_record(&range)?)));
            entry = end;
            continue;
        }
        let file = match &mut file {
            Some(f) => f,
            None => file
                .insert(File::open(path).map_err(|e| format!("cannot open the file again: {e}"))?),
        };
        let key = keys::basket_at(file, seek, bytes, branch)?;
        if first != entry || next.is_some_and(|n| n != entry + key.entries) {
            return Err(format!(
                "the basket at byte {seek} holds entries {entry}..{} where its basket table says {first}..{}",
                entry + key.entries,
                next.map_or("?".into(), |n| n.to_string())
            ));
        }
        let end = entry + key.entries;
        baskets.push((entry..end, Basket::Stored(key)));
        entry = end;
    }
    if entry < entries {
        let range = entry..entries;
        baskets.push((range.clone(), Basket::Embedded(next_in_record(&range)?)));
    }
    Ok(baskets)
}

/// Why a basket of `data_len` bytes cannot hold `entries` entries with the `values` the counter
/// gives it (values of `width` bytes, stored as `encoding` says), if it cannot.
fn basket_mismatch(
    data_len: u64,
    entries: u64,
    values: &Range<u64>,
    width: u64,
    encoding: Encoding,
) -> Option<String> {
    let count = values.end - values.start;
    let headers = entries.saturating_mul(VECTOR_HEADER);
    let (data_len, width) = match encoding {
        Encoding::Plain => (data_len, width),
        Encoding::Vector if data_len < headers => {
            return Some(format!(
                "holds {data_len} bytes, too few for the headers of {entries} std::vector entries"
            ));
        }
        Encoding::Vector => (data_len - headers, width),
        // The lengths are what is read: only the size of the headers can be checked here.
        Encoding::VectorLengths { element } => {
            let width = element.width() as u64;
            return (data_len < headers || !(data_len - headers).is_multiple_of(width)).then(|| {
                format!("holds {data_len} bytes, not {entries} std::vector entries of {width}-byte values")
            });
        }
    };
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

/// Where each entry's values start: at the entry number (one value per entry), at a multiple
/// of it (a fixed-size array), or at the cumulative counts of a counter.
#[derive(Clone, Copy)]
enum Offsets<'a> {
    Entries,
    Fixed(usize),
    Table(&'a [u64]),
}

impl Offsets<'_> {
    fn at(self, entry: u64) -> u64 {
        match self {
            Self::Entries => entry,
            Self::Fixed(n) => entry * n as u64,
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

/// Splits a basket of `std::vector` entries into each entry's length and the values back to
/// back, checking every header: ROOT writes each entry as a byte count with flag `0x40000000`,
/// a 2-byte class version, the 4-byte length and the values.
fn unpack_vectors(data: &[u8], entries: u64, width: usize) -> Result<(Vec<u32>, Vec<u8>), String> {
    const BYTE_COUNT_FLAG: u32 = 0x4000_0000;
    // Every entry takes at least its header: a damaged entry count cannot size the table.
    let mut lengths =
        Vec::with_capacity((entries as usize).min(data.len() / VECTOR_HEADER as usize));
    let mut values = Vec::with_capacity(
        data.len()
            .saturating_sub((entries as usize).saturating_mul(10)),
    );
    let mut at = 0usize;
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    for entry in 0..entries {
        let bad = |what: &str| {
            format!("is not a std::vector as ROOT streams it: entry {entry} of the basket {what}")
        };
        let count = word(at).ok_or_else(|| bad("is cut short"))?;
        if count & BYTE_COUNT_FLAG == 0 {
            return Err(bad("has no byte count"));
        }
        let len = word(at + 6).ok_or_else(|| bad("is cut short"))?;
        let bytes = (len as usize)
            .checked_mul(width)
            .filter(|b| (count & !BYTE_COUNT_FLAG) as usize == b + 6)
            .ok_or_else(|| {
                bad(&format!(
                    "says {len} values in a byte count of {}",
                    count & !BYTE_COUNT_FLAG
                ))
            })?;
        let start = at + VECTOR_HEADER as usize;
        values.extend_from_slice(
            data.get(start..start + bytes)
                .ok_or_else(|| bad("is cut short"))?,
        );
        lengths.push(len);
        at = start + bytes;
    }
    if at != data.len() {
        return Err(format!(
            "is not a std::vector as ROOT streams it: {} bytes follow its {entries} entries",
            data.len() - at
        ));
    }
    Ok((lengths, values))
}

/// Reads a branch's values in increasing, contiguous ranges, one basket at a time.
struct BranchCursor {
    path: PathBuf,
    tree: String,
    source: BranchSource,
    file: File,
    baskets: VecDeque<(Range<u64>, Range<u64>, Basket)>,
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

    /// Reads the rows `range` (values, for a collection's arrays) as Arrow arrays: one, or one
    /// per element of a fixed-size array.
    fn read(&mut self, range: Range<u64>) -> Result<Vec<ArrayRef>> {
        let width = self.source.width() as u64;
        let per_row = self.source.columns as u64;
        let range = range.start * per_row..range.end * per_row;
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
        let values = match self.source.packing {
            Some(p) => p.decode(&bytes),
            None => self.source.ty.decode_be(&bytes),
        };
        if per_row == 1 {
            return Ok(vec![values]);
        }
        let rows = (range.end - range.start) / per_row;
        (0..per_row)
            .map(|i| {
                let take = UInt64Array::from_iter_values((0..rows).map(|r| r * per_row + i));
                Ok(arrow::compute::take(&values, &take, None)?)
            })
            .collect()
    }

    fn load_next(&mut self) -> Result<()> {
        let (entries, values, basket) = self
            .baskets
            .pop_front()
            .ok_or_else(|| self.err("ran out of baskets before the last entry".into()))?;
        let data = match basket {
            Basket::Stored(key) => {
                keys::read_basket(&mut self.file, &key).map_err(|m| self.err(m))?
            }
            Basket::Embedded(bytes) => bytes,
        };
        let n = entries.end - entries.start;
        let data = match self.source.encoding {
            Encoding::Plain => data,
            Encoding::Vector => {
                let (lengths, data) = unpack_vectors(&data, n, self.source.ty.width())
                    .map_err(|m| self.err(format!("the basket of entries {entries:?} {m}")))?;
                if let Some(offsets) = &self.source.offsets {
                    let entry = (entries.start..entries.end)
                        .zip(&lengths)
                        .find(|&(e, &len)| {
                            offsets[e as usize + 1] - offsets[e as usize] != u64::from(len)
                        });
                    if let Some((e, len)) = entry {
                        return Err(self.err(format!(
                            "entry {e} holds {len} values where its collection's counter says {}",
                            offsets[e as usize + 1] - offsets[e as usize]
                        )));
                    }
                }
                data
            }
            Encoding::VectorLengths { element } => {
                let (lengths, _) = unpack_vectors(&data, n, element.width())
                    .map_err(|m| self.err(format!("the basket of entries {entries:?} {m}")))?;
                lengths.iter().flat_map(|l| l.to_be_bytes()).collect()
            }
        };
        let expected = ((values.end - values.start) * self.source.width() as u64) as usize;
        if data.len() != expected {
            return Err(self.err(format!(
                "basket holds {} values where the counter says {} (entries' lengths disagree with the counter branch)",
                data.len() / self.source.width(),
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
            arrays.extend(c.read(values.clone())?);
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
            let events = cursor.read(entries)?.remove(0);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_give_element_types_and_shapes() {
        use NumericType::*;
        let cases = [
            ("float", Some(Float32), Shape::Scalar),
            ("int32_t[]", Some(Int32), Shape::Counted),
            ("double[3]", Some(Float64), Shape::Fixed(3)),
            ("vector<float>", Some(Float32), Shape::Vector),
            ("std::vector<unsigned int>", Some(UInt32), Shape::Vector),
            ("vector<unsignedchar>", Some(UInt8), Shape::Vector),
            (
                "vector<float,ROOT::Detail::VecOps::RAdoptAllocator<float>>",
                Some(Float32),
                Shape::Vector,
            ),
            ("ROOT::VecOps::RVec<float>", Some(Float32), Shape::Vector),
            ("Double32_t", Some(Float64), Shape::Scalar),
            ("Float16_t[3]", Some(Float32), Shape::Fixed(3)),
            ("vector<vector<float>>", None, Shape::Vector),
            ("vector<TLorentzVector>", None, Shape::Vector),
            ("char*", None, Shape::Scalar),
            ("float[0]", None, Shape::Scalar),
        ];
        for (name, numeric, shape) in cases {
            assert_eq!(leaf_shape(name), (numeric, shape), "{name}");
        }
    }

    /// One `std::vector<float>` entry as ROOT streams it.
    fn entry(values: &[f32]) -> Vec<u8> {
        let mut out = (0x4000_0000u32 | (6 + 4 * values.len() as u32))
            .to_be_bytes()
            .to_vec();
        out.extend(9u16.to_be_bytes());
        out.extend((values.len() as u32).to_be_bytes());
        values.iter().for_each(|v| out.extend(v.to_be_bytes()));
        out
    }

    #[test]
    fn vector_entries_unpack_to_lengths_and_values() {
        let data = [entry(&[1.0, 2.5]), entry(&[]), entry(&[-3.0])].concat();
        let (lengths, values) = unpack_vectors(&data, 3, 4).unwrap();
        assert_eq!(lengths, [2, 0, 1]);
        let expected: Vec<u8> = [1.0f32, 2.5, -3.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        assert_eq!(values, expected);
    }

    #[test]
    fn vector_entries_that_are_not_as_root_streams_them_are_refused() {
        let good = [entry(&[1.0]), entry(&[2.0, 3.0])].concat();
        // Too few entries for the bytes, too many, no byte-count flag, a length that disagrees
        // with the byte count, and a cut.
        let mut no_flag = good.clone();
        no_flag[0] &= 0xbf;
        let mut long = good.clone();
        long[9] = 7;
        for (data, entries, says) in [
            (good.clone(), 1, "bytes follow"),
            (good.clone(), 3, "entry 2 of the basket is cut short"),
            (no_flag, 2, "has no byte count"),
            (long, 2, "says 7 values"),
            (good[..good.len() - 1].to_vec(), 2, "entry 1 of the basket"),
        ] {
            let err = unpack_vectors(&data, entries, 4).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn vectors_named_alike_split_where_their_baskets_disagree() {
        let vector = |name: &str, value_ends: Vec<(u64, u64)>| BranchInfo {
            name: name.into(),
            type_name: "vector<float>".into(),
            numeric: Some(NumericType::Float32),
            shape: Shape::Vector,
            value_ends,
            counted_by: None,
            packing: None,
        };
        let tree = TreeInfo {
            name: "t".into(),
            entries: 20,
            branches: vec![
                vector("jet_pt", vec![(10, 40), (20, 75)]),
                vector("jet_eta", vec![(20, 75)]),
                vector("jet_z0", vec![(10, 40), (20, 60)]),
                vector("weights", vec![(20, 20)]),
                vector("Muons.pt_cone", vec![(20, 30)]),
                vector("Muons.eta", vec![(20, 30)]),
            ],
        };
        let found: Vec<_> = tree
            .collections()
            .into_iter()
            .map(|c| (c.name, c.counter, c.lengths_of, c.members))
            .collect();
        let s = |v: &str| v.to_owned();
        assert_eq!(
            found,
            [
                (
                    s("jet"),
                    s("njet"),
                    Some(s("jet_pt")),
                    vec![s("jet_pt"), s("jet_eta")]
                ),
                (
                    s("weights"),
                    s("nweights"),
                    Some(s("weights")),
                    vec![s("weights")]
                ),
                (
                    s("Muons"),
                    s("nMuons"),
                    Some(s("Muons.pt_cone")),
                    vec![s("Muons.pt_cone"), s("Muons.eta")]
                ),
                (
                    s("jet_z0"),
                    s("njet_z0"),
                    Some(s("jet_z0")),
                    vec![s("jet_z0")]
                ),
            ]
        );
    }

    #[test]
    fn arrays_no_nx_claims_are_counted_by_the_branch_their_leaf_title_names() {
        assert_eq!(counter_of(&["Af4[n]".into()]), Some("n".into()));
        assert_eq!(counter_of(&["x[3]".into()]), None);
        assert_eq!(counter_of(&["d[0,1,10]".into()]), None);
        assert_eq!(counter_of(&["a".into(), "b[n]".into()]), None);
        let branch = |name: &str, shape: Shape, counted_by: Option<&str>| BranchInfo {
            name: name.into(),
            type_name: String::new(),
            numeric: Some(NumericType::Int32),
            shape,
            value_ends: Vec::new(),
            counted_by: counted_by.map(str::to_owned),
            packing: None,
        };
        let tree = TreeInfo {
            name: "t".into(),
            entries: 5,
            branches: vec![
                branch("n", Shape::Scalar, None),
                branch("Ai4", Shape::Counted, Some("n")),
                branch("nJet", Shape::Scalar, None),
                branch("Jet_pt", Shape::Counted, Some("nJet")),
                branch("Af8", Shape::Counted, Some("n")),
                // A counter that is not a branch, or that is itself an array: not a collection.
                branch("lost", Shape::Counted, Some("nothere")),
                branch("nested", Shape::Counted, Some("Ai4")),
            ],
        };
        let found: Vec<_> = tree
            .collections()
            .into_iter()
            .map(|c| (c.named_by_counter(), c.name, c.counter, c.members))
            .collect();
        let s = |v: &str| v.to_owned();
        assert_eq!(
            found,
            [
                (false, s("Jet"), s("nJet"), vec![s("Jet_pt")]),
                (true, s("n"), s("n"), vec![s("Ai4"), s("Af8")]),
            ]
        );
    }
}
