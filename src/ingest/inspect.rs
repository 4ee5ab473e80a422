//! What a file holds and what [`open`](super::open) would read from it.

use std::fmt;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;

use super::root::RootInput;
use super::{DroppedColumn, Format, ReadOptions, detect_format, open};
use crate::error::Result;

/// A table (ROOT tree or Parquet file) with its columns.
#[derive(Debug, Clone)]
pub struct TableSummary {
    pub name: String,
    /// Entries of a tree, rows of a Parquet file.
    pub entries: u64,
    /// Each branch or column with its type as the file names it.
    pub columns: Vec<(String, String)>,
    /// Collections found: name, what counts it ("counter `nJet`") and number of member branches.
    pub collections: Vec<(String, String, usize)>,
    /// For a baler-compressed Parquet file: what it stores, or why it cannot be decoded.
    pub compressed: Option<String>,
}

/// What [`open`](super::open) would produce: schema, row count and dropped columns.
#[derive(Debug, Clone)]
pub struct ReadPlan {
    pub schema: SchemaRef,
    pub rows: Option<u64>,
    pub dropped: Vec<DroppedColumn>,
}

/// The result of [`inspect`].
#[derive(Debug, Clone)]
pub struct Inspection {
    pub path: PathBuf,
    pub format: Format,
    pub tables: Vec<TableSummary>,
    /// The rows [`open`](super::open) would read, or why it would refuse.
    pub plan: std::result::Result<ReadPlan, String>,
    /// List every branch, not only the totals.
    pub show_columns: bool,
}

/// Describes a ROOT or Parquet file: its trees or columns, and what would be read.
///
/// # Errors
/// A file that cannot be opened or is neither ROOT nor Parquet. Problems that only stop
/// reading (several trees and none chosen, say) are reported in [`Inspection::plan`].
pub fn inspect(path: &Path, options: &ReadOptions) -> Result<Inspection> {
    let format = detect_format(path)?;
    let tables = match format {
        Format::Root => root_tables(path)?,
        Format::Parquet => vec![parquet_table(path)?],
    };
    let plan = open(path, options)
        .map(|r| ReadPlan {
            schema: r.schema(),
            rows: r.total_rows(),
            dropped: r.dropped().to_vec(),
        })
        .map_err(|e| e.to_string());
    Ok(Inspection {
        path: path.to_owned(),
        format,
        tables,
        plan,
        show_columns: false,
    })
}

fn root_tables(path: &Path) -> Result<Vec<TableSummary>> {
    let mut input = RootInput::open(path)?;
    let names = input.trees.clone();
    names
        .iter()
        .map(|name| {
            let tree = input.tree_info(name)?;
            Ok(TableSummary {
                name: tree.name.clone(),
                entries: tree.entries,
                collections: tree
                    .collections()
                    .into_iter()
                    .map(|c| {
                        let label = c.counter_label();
                        (c.name, label, c.members.len())
                    })
                    .collect(),
                columns: tree
                    .branches
                    .into_iter()
                    .map(|b| (b.name, b.type_name))
                    .collect(),
                compressed: None,
            })
        })
        .collect()
}

fn parquet_table(path: &Path) -> Result<TableSummary> {
    let file = std::fs::File::open(path).map_err(|source| crate::Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|source| crate::Error::Parquet {
            path: path.to_owned(),
            source,
        })?;
    Ok(TableSummary {
        name: "(parquet)".into(),
        entries: builder.metadata().file_metadata().num_rows() as u64,
        columns: builder
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().to_string()))
            .collect(),
        collections: vec![],
        compressed: compressed_summary(builder.metadata()),
    })
}

/// One line on a baler-compressed file; `None` for plain Parquet.
fn compressed_summary(metadata: &parquet::file::metadata::ParquetMetaData) -> Option<String> {
    use baler_udfs::Error as CodecError;
    use baler_udfs::codec::Codec;
    use baler_udfs::format::{Footer, MethodSpec};
    let kv = baler_udfs::file::key_values(metadata);
    match Footer::from_metadata(&kv).and_then(|f| Codec::try_new(&f)) {
        Err(CodecError::NotCompressed) => None,
        Err(e) => Some(format!("baler-compressed but not decodable: {e}")),
        Ok(codec) => {
            let h = codec.header();
            let model = codec.model_columns().len();
            let what = match &h.method {
                MethodSpec::Ae(a) => format!(
                    "{} latents decode {model} of {} columns; trained {} epochs on {} rows",
                    a.model.latent,
                    h.columns.len(),
                    a.training.epochs,
                    a.training.rows
                ),
                MethodSpec::Predict(p) | MethodSpec::Residual(p) => format!(
                    "{model} of {} columns predicted, {} of them with features; fitted on {} rows",
                    h.columns.len(),
                    p.predictors
                        .iter()
                        .filter(|p| !p.features.is_empty())
                        .count(),
                    p.fit.rows
                ),
            };
            Some(format!(
                "baler-compressed (format {}, method `{}`): {what}",
                h.format,
                h.method.name(),
            ))
        }
    }
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({:?})", self.path.display(), self.format)?;
        for t in &self.tables {
            writeln!(
                f,
                "  {}: {} entries, {} branches",
                t.name,
                t.entries,
                t.columns.len()
            )?;
            if let Some(c) = &t.compressed {
                writeln!(f, "    {c}")?;
            }
            for (name, counter, n) in &t.collections {
                writeln!(f, "    collection `{name}`: {counter}, {n} arrays")?;
            }
            if self.show_columns {
                for (name, ty) in &t.columns {
                    writeln!(f, "    {name:<32} {ty}")?;
                }
            }
        }
        match &self.plan {
            Err(e) => writeln!(f, "would not read: {e}"),
            Ok(plan) => {
                let rows = plan.rows.map_or("?".into(), |r| r.to_string());
                writeln!(
                    f,
                    "would read {rows} rows of {} columns:",
                    plan.schema.fields().len()
                )?;
                for field in plan.schema.fields() {
                    writeln!(f, "  {:<32} {}", field.name(), field.data_type())?;
                }
                if !plan.dropped.is_empty() {
                    writeln!(f, "would drop {} columns:", plan.dropped.len())?;
                }
                for d in &plan.dropped {
                    writeln!(f, "  {:<32} {}", d.name, d.reason)?;
                }
                Ok(())
            }
        }
    }
}
