//! Compressed files as SQL tables with the original columns.
//!
//! [`register_compressed`] registers the stored data (pass-through, latent and residual columns) as
//! `<name>_stored`, the model's [`DecodeFunc`], and a table `<name>` whose columns carry the
//! original names and types. Scanning `<name>` reads only the stored columns a query needs and
//! runs the decoder once per batch, and only when a decoded column is asked for; filters on
//! pass-through columns are handed to the Parquet scan.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result as DFResult, internal_err};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, ScalarUDF, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
    SendableRecordBatchStream,
};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;
use parquet::file::metadata::ParquetMetaDataReader;

use crate::codec::Codec;
use crate::decode::DecodeFunc;
use crate::error::{Error, Result};
use crate::format::{Footer, Storage};

/// Suffix of the table holding the stored (pass-through, latent and residual) columns.
pub const STORED_SUFFIX: &str = "_stored";

/// The Parquet files at `path`: the file itself, or the `.parquet` files of a folder.
fn parquet_files(path: &Path) -> Result<Vec<PathBuf>> {
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

/// A file's footer key-value metadata.
fn footer_metadata(path: &Path) -> Result<HashMap<String, String>> {
    let file = std::fs::File::open(path)?;
    let metadata = ParquetMetaDataReader::new().parse_and_finish(&file)?;
    Ok(metadata
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?)))
        .collect())
}

/// Whether `path` (a file, or the first Parquet file of a folder) is baler-compressed.
///
/// # Errors
/// I/O and Parquet errors.
pub fn is_compressed(path: &Path) -> Result<bool> {
    let first = parquet_files(path)?.remove(0);
    Ok(footer_metadata(&first)?.contains_key(crate::format::FORMAT_KEY))
}

/// Reads the footer shared by every file at `path`.
///
/// # Errors
/// Footer errors (see [`Footer::from_metadata`]), naming the file, and
/// [`Error::DifferentModels`] when the files were compressed with different models.
pub fn shared_footer(path: &Path) -> Result<Footer> {
    let mut first: Option<(PathBuf, Footer)> = None;
    for file in parquet_files(path)? {
        let kv = footer_metadata(&file)?;
        let footer = Footer::from_metadata(&kv).map_err(|e| Error::File {
            path: file.clone(),
            source: Box::new(e),
        })?;
        match &first {
            None => first = Some((file, footer)),
            Some((first_file, f)) if f.model_id() != footer.model_id() => {
                return Err(Error::DifferentModels {
                    first: first_file.clone(),
                    other: file,
                });
            }
            Some(_) => {}
        }
    }
    Ok(first.expect("parquet_files is never empty").1)
}

/// Registers a compressed file, or a folder of files compressed with one model, as table
/// `name` with the original columns; the stored columns as `<name>_stored`; and the model's
/// decode function. Returns the function (its [`DecodeFunc::forward_passes`] counts decoder runs).
///
/// # Errors
/// Footer errors (not compressed, unknown version, bad checksum, decoder that does not fit the
/// header), files with different models, and DataFusion errors registering the Parquet data.
pub async fn register_compressed(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
) -> Result<Arc<DecodeFunc>> {
    let footer = shared_footer(path)?;
    let model_id = footer.model_id();
    let codec = Arc::new(Codec::try_new(&footer)?);
    let func = Arc::new(DecodeFunc::new(codec.clone(), &model_id));
    let stored_name = format!("{name}{STORED_SUFFIX}");
    let path_str = path.to_string_lossy();
    ctx.register_parquet(
        &stored_name,
        path_str.as_ref(),
        ParquetReadOptions::default(),
    )
    .await?;
    let stored = ctx.table_provider(&stored_name).await?;
    ctx.register_udf(ScalarUDF::new_from_shared_impl(func.clone()));
    let table = CompressedTable {
        stored,
        func: func.clone(),
        schema: codec.output_schema(),
    };
    ctx.register_table(name, Arc::new(table))?;
    Ok(func)
}

/// Where an output column of the compressed table comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// A column of the stored scan, by position.
    Stored(usize),
    /// Output `i` of [`DecodeFunc::decode`] (decoded and constant columns, in header order).
    Model(usize),
}

/// The table of original columns over the stored data of a compressed file.
#[derive(Debug)]
struct CompressedTable {
    stored: Arc<dyn TableProvider>,
    func: Arc<DecodeFunc>,
    schema: SchemaRef,
}

impl CompressedTable {
    fn pass_through_names(&self) -> Vec<&str> {
        self.func
            .codec()
            .header()
            .columns
            .iter()
            .filter(|c| matches!(c.storage, Storage::PassThrough))
            .map(|c| c.name.as_str())
            .collect()
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

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        let pass = self.pass_through_names();
        Ok(filters
            .iter()
            .map(|f| {
                if f.column_refs()
                    .iter()
                    .all(|c| pass.contains(&c.name.as_str()))
                {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let header = self.func.codec().header();
        let wanted: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..self.schema.fields().len()).collect());
        let stored_schema = self.stored.schema();
        let mut stored_columns: Vec<usize> = Vec::new();
        let mut sources = Vec::with_capacity(wanted.len());
        let mut needs_model = false;
        for &i in &wanted {
            let spec = &header.columns[i];
            if matches!(spec.storage, Storage::PassThrough) {
                let at = stored_schema.index_of(&spec.name)?;
                sources.push(Source::Stored(push_index(&mut stored_columns, at)));
            } else {
                needs_model = true;
                let model_index = header.columns[..i]
                    .iter()
                    .filter(|c| !matches!(c.storage, Storage::PassThrough))
                    .count();
                sources.push(Source::Model(model_index));
            }
        }
        let mut latents = Vec::new();
        if needs_model {
            for (name, _) in &header.model_inputs() {
                latents.push(push_index(
                    &mut stored_columns,
                    stored_schema.index_of(name)?,
                ));
            }
        }
        let input = self
            .stored
            .scan(state, Some(&stored_columns), filters, limit)
            .await?;
        let schema = Arc::new(self.schema.project(&wanted)?);
        Ok(Arc::new(DecodeExec::new(
            input,
            self.func.clone(),
            sources,
            latents,
            schema,
        )))
    }
}

/// The position of `index` in `list`, appending it when absent.
fn push_index(list: &mut Vec<usize>, index: usize) -> usize {
    list.iter().position(|&i| i == index).unwrap_or_else(|| {
        list.push(index);
        list.len() - 1
    })
}

/// Decodes each batch of the stored scan into the requested original columns.
#[derive(Debug)]
struct DecodeExec {
    input: Arc<dyn ExecutionPlan>,
    func: Arc<DecodeFunc>,
    sources: Vec<Source>,
    /// Positions of the model inputs (latents, residuals) in the input (empty when no model
    /// column is wanted).
    latents: Vec<usize>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl DecodeExec {
    fn new(
        input: Arc<dyn ExecutionPlan>,
        func: Arc<DecodeFunc>,
        sources: Vec<Source>,
        latents: Vec<usize>,
        schema: SchemaRef,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            input.output_partitioning().clone(),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            input,
            func,
            sources,
            latents,
            schema,
            properties: Arc::new(properties),
        }
    }
}

/// Builds the output batch: stored columns as they are, model columns from one decoder run.
fn decode_batch(
    batch: &RecordBatch,
    func: &DecodeFunc,
    sources: &[Source],
    latents: &[usize],
    schema: &SchemaRef,
) -> DFResult<RecordBatch> {
    let model = if latents.is_empty() {
        Vec::new()
    } else {
        let z: Vec<&ArrayRef> = latents.iter().map(|&i| batch.column(i)).collect();
        func.decode(&z)?
    };
    let columns = sources
        .iter()
        .map(|s| match *s {
            Source::Stored(i) => batch.column(i).clone(),
            Source::Model(i) => model[i].clone(),
        })
        .collect();
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &options,
    )?)
}

impl DisplayAs for DecodeExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "DecodeExec: {}, decodes={}",
            datafusion::logical_expr::ScalarUDFImpl::name(self.func.as_ref()),
            !self.latents.is_empty()
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
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DFResult<TreeNodeRecursion>,
    ) -> DFResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return internal_err!("DecodeExec takes one child, got {}", children.len());
        }
        Ok(Arc::new(Self::new(
            children.swap_remove(0),
            self.func.clone(),
            self.sources.clone(),
            self.latents.clone(),
            self.schema.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DFResult<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let (func, sources, latents, schema) = (
            self.func.clone(),
            self.sources.clone(),
            self.latents.clone(),
            self.schema.clone(),
        );
        let stream =
            input.map(move |batch| decode_batch(&batch?, &func, &sources, &latents, &schema));
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            stream,
        )))
    }
}
