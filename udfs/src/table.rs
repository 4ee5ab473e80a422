//! Compressed files as SQL tables with the original columns.
//!
//! [`register_compressed`] registers, for a compressed file or a folder of files compressed
//! with one model, a table `<name>` whose columns carry the original names and types, the
//! stored blocks as `<name>_stored`, and the model's [`DecodeFunc`] (which decodes the stored
//! blocks in SQL). Scanning `<name>` reads the blocks directly, spread over DataFusion's
//! partitions, and decodes in each block only what the query reads: no model column is decoded
//! for a query on pass-through columns alone. Blocks whose decoded columns' statistics
//! ([`crate::stats`]) prove a filter false are skipped without being read.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, UInt64Array, new_null_array};
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{
    Column, DFSchema, Result as DFResult, ScalarValue, TableReference, exec_datafusion_err,
    internal_err,
};
use datafusion::execution::TaskContext;
use datafusion::execution::context::ExecutionProps;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, ScalarUDF, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::{
    EquivalenceProperties, Partitioning, PhysicalExpr, create_physical_expr,
};
use datafusion::physical_optimizer::pruning::{PruningPredicateBuilder, PruningStatistics};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;

use crate::decode::DecodeFunc;
use crate::error::{Error, Result};
use crate::file::CompressedFile;

/// Suffix of the table holding the stored blocks.
pub const STORED_SUFFIX: &str = "_stored";

/// The Parquet files at `path`: the file itself, or the `.parquet` files of a folder.
///
/// # Errors
/// I/O errors, and [`Error::Header`] for a folder without Parquet files.
pub fn parquet_files(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Header(format!(
            "no .parquet files in `{}`",
            path.display()
        )));
    }
    Ok(files)
}

/// Whether `path` (a file, or the first Parquet file of a folder) is baler-compressed.
///
/// # Errors
/// I/O and Parquet errors.
pub fn is_compressed(path: &Path) -> Result<bool> {
    crate::file::is_compressed(&parquet_files(path)?.remove(0))
}

/// Opens every file at `path` (a file, or a folder of files compressed with one model).
///
/// # Errors
/// Footer and block-index errors naming the file ([`Error::File`]), and
/// [`Error::DifferentModels`] when the files were compressed with different models.
pub fn open_all(path: &Path) -> Result<Vec<CompressedFile>> {
    let mut files: Vec<CompressedFile> = Vec::new();
    let mut model = String::new();
    for p in parquet_files(path)? {
        let file = CompressedFile::open(&p).map_err(|e| Error::File {
            path: p.clone(),
            source: Box::new(e),
        })?;
        let id = file.footer.model_id();
        match files.first() {
            None => model = id,
            Some(first) if id != model => {
                return Err(Error::DifferentModels {
                    first: first.path.clone(),
                    other: p,
                });
            }
            Some(_) => {}
        }
        files.push(file);
    }
    Ok(files)
}

/// Registers a compressed file, or a folder of files compressed with one model, as table
/// `name` with the original columns; the stored blocks as `<name>_stored`; and the model's
/// decode function. Returns the function; its [`DecodeFunc::decodes`] counts the blocks whose
/// model columns were decoded, by the function and the table alike.
///
/// # Errors
/// Footer errors (not compressed, unknown version, damaged header, weights that do not fit the
/// header), files with different models, and DataFusion errors registering the Parquet data.
pub async fn register_compressed(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
) -> Result<Arc<DecodeFunc>> {
    let table = CompressedTable::open(path)?;
    let func = table.func.clone();
    let stored_name = format!("{name}{STORED_SUFFIX}");
    let path_str = path.to_string_lossy();
    // Bare references keep the names' case (`Jet`); strings would be lowercased.
    ctx.register_parquet(
        TableReference::bare(stored_name),
        path_str.as_ref(),
        ParquetReadOptions::default(),
    )
    .await?;
    ctx.register_udf(ScalarUDF::new_from_shared_impl(func.clone()));
    ctx.register_table(TableReference::bare(name), Arc::new(table))?;
    Ok(func)
}

/// The table of original columns over the blocks of compressed files: a DataFusion
/// [`TableProvider`] that decodes each block on the fly, only the columns a query reads (and
/// what their predictions use), its blocks spread over the session's partitions.
#[derive(Debug)]
pub struct CompressedTable {
    files: Arc<Vec<CompressedFile>>,
    func: Arc<DecodeFunc>,
    schema: SchemaRef,
}

impl CompressedTable {
    /// The table over a compressed file, or a folder of files compressed with one model.
    ///
    /// # Errors
    /// As [`open_all`]: footer errors naming the file, and files with different models.
    pub fn open(path: &Path) -> Result<Self> {
        let files = open_all(path)?;
        let first = &files[0];
        let func = Arc::new(DecodeFunc::new(
            first.codec.clone(),
            &first.footer.model_id(),
        ));
        Ok(Self {
            schema: first.codec.output_schema(),
            files: Arc::new(files),
            func,
        })
    }

    /// How many blocks have had model columns decoded through this table so far.
    pub fn decodes(&self) -> u64 {
        self.func.decodes()
    }
}

#[async_trait]
impl TableProvider for CompressedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Every filter may skip blocks (by the decoded columns' statistics), none is exact:
    /// DataFusion still applies each to the rows.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let projection: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..self.schema.fields().len()).collect());
        let all: Vec<(usize, usize)> = self
            .files
            .iter()
            .enumerate()
            .flat_map(|(f, file)| (0..file.blocks.len()).map(move |b| (f, b)))
            .collect();
        let keep = self.may_match(filters, all.len());
        let blocks: Vec<(usize, usize)> = all
            .into_iter()
            .zip(keep)
            .filter_map(|(b, k)| k.then_some(b))
            .collect();
        let partitions = state
            .config()
            .target_partitions()
            .clamp(1, blocks.len().max(1));
        let mut parts = vec![Vec::new(); partitions];
        for (i, block) in blocks.into_iter().enumerate() {
            parts[i % partitions].push(block);
        }
        let schema = Arc::new(self.schema.project(&projection)?);
        Ok(Arc::new(DecodeExec::new(
            self.files.clone(),
            self.func.clone(),
            projection,
            parts,
            schema,
        )))
    }
}

impl CompressedTable {
    /// For each block of every file, in order, whether it may hold rows that pass `filters`:
    /// `false` only where the decoded columns' statistics prove that none does. Filters that
    /// cannot be used for pruning keep every block.
    fn may_match(&self, filters: &[Expr], blocks: usize) -> Vec<bool> {
        let all = vec![true; blocks];
        let Some(predicate) = conjunction(filters.iter().cloned()) else {
            return all;
        };
        let pruned = (|| -> DFResult<Vec<bool>> {
            let df_schema = DFSchema::try_from(self.schema.as_ref().clone())?;
            // Planned here, not by the session: a session across the FFI boundary hands back
            // an opaque expression that pruning cannot read.
            let physical = create_physical_expr(
                &predicate,
                &df_schema,
                &ExecutionProps::new(),
                &PhysicalPlanningContext::default(),
            )?;
            let pruning = PruningPredicateBuilder::new()
                .with_file_schema(self.schema.clone())
                .try_build(physical)?;
            pruning.prune(&Containers { table: self })
        })();
        match pruned {
            Ok(keep) if keep.len() == blocks => keep,
            _ => all,
        }
    }
}

/// The blocks of a table's files, one container each, for pruning.
struct Containers<'a> {
    table: &'a CompressedTable,
}

impl Containers<'_> {
    /// One array over every block: each file's statistics of `column`, or nulls.
    fn values(&self, column: &Column, max: bool) -> Option<ArrayRef> {
        let dt = self
            .table
            .schema
            .field_with_name(column.name())
            .ok()?
            .data_type()
            .clone();
        let parts: Vec<ArrayRef> = self
            .table
            .files
            .iter()
            .map(|f| {
                f.stats
                    .as_ref()
                    .and_then(|s| s.arrays(column.name(), &dt))
                    .map(|(lo, hi)| if max { hi } else { lo })
                    .unwrap_or_else(|| new_null_array(&dt, f.blocks.len()))
            })
            .collect();
        let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
        arrow::compute::concat(&refs).ok()
    }
}

impl PruningStatistics for Containers<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        self.values(column, false)
    }

    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        self.values(column, true)
    }

    fn num_containers(&self) -> usize {
        self.table.files.iter().map(|f| f.blocks.len()).sum()
    }

    fn null_counts(&self, _column: &Column) -> Option<ArrayRef> {
        None
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        let rows: Vec<u64> = self
            .table
            .files
            .iter()
            .flat_map(|f| f.blocks.iter().map(|b| b.rows))
            .collect();
        Some(Arc::new(UInt64Array::from(rows)))
    }

    fn contained(&self, _column: &Column, _values: &HashSet<ScalarValue>) -> Option<BooleanArray> {
        None
    }
}

/// Reads and decodes blocks of compressed files, each partition its own share of them.
#[derive(Debug)]
struct DecodeExec {
    files: Arc<Vec<CompressedFile>>,
    func: Arc<DecodeFunc>,
    /// The original columns wanted, by index.
    projection: Vec<usize>,
    /// For each partition, the blocks it reads: (file, block).
    parts: Vec<Vec<(usize, usize)>>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl DecodeExec {
    fn new(
        files: Arc<Vec<CompressedFile>>,
        func: Arc<DecodeFunc>,
        projection: Vec<usize>,
        parts: Vec<Vec<(usize, usize)>>,
        schema: SchemaRef,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(parts.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            files,
            func,
            projection,
            parts,
            schema,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for DecodeExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "DecodeExec: {}, blocks={}, projection={:?}",
            datafusion::logical_expr::ScalarUDFImpl::name(self.func.as_ref()),
            self.parts.iter().map(Vec::len).sum::<usize>(),
            self.projection
        )
    }
}

impl ExecutionPlan for DecodeExec {
    fn name(&self) -> &str {
        "DecodeExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DFResult<TreeNodeRecursion>,
    ) -> DFResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        if !children.is_empty() {
            return internal_err!("DecodeExec takes no children, got {}", children.len());
        }
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> DFResult<SendableRecordBatchStream> {
        let blocks = self.parts.get(partition).cloned().unwrap_or_default();
        let (files, func, projection) = (
            self.files.clone(),
            self.func.clone(),
            self.projection.clone(),
        );
        let stream = futures::stream::iter(blocks).map(move |(f, b)| {
            let file = &files[f];
            let bytes = file.read_block(b).map_err(|e| in_file(file, e))?;
            let (batch, decoded) = file
                .codec
                .decode_projected(&bytes, &projection)
                .map_err(|e| in_file(file, e))?;
            if decoded {
                func.count_decode();
            }
            Ok(batch)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            stream,
        )))
    }
}

/// An execution error naming the file.
fn in_file(file: &CompressedFile, e: Error) -> datafusion::error::DataFusionError {
    exec_datafusion_err!("in `{}`: {e}", file.path.display())
}
