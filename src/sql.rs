//! SQL over jet tables: plain Parquet files as they are, baler-compressed ones through the
//! decode functions of `baler-udfs`, in one DataFusion session.

use std::path::Path;

use arrow::record_batch::RecordBatch;
use baler_udfs::table::{is_compressed, register_compressed};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

use crate::error::{Error, Result};

/// How query results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// An aligned text table.
    #[default]
    Table,
    Csv,
    /// A JSON array of objects.
    Json,
}

/// A DataFusion session for jet tables. Identifiers keep their case, so that columns such as
/// `mChargedMultiplicity` or `Jet_pt` are written in SQL as they are named.
pub fn session() -> SessionContext {
    let config =
        SessionConfig::new().set_bool("datafusion.sql_parser.enable_ident_normalization", false);
    SessionContext::new_with_config(config)
}

/// Registers `path` (a Parquet file or a folder of them) as table `name`: through its decoder
/// when it is baler-compressed, as plain Parquet otherwise. Returns whether it was compressed.
/// A field file is decoded whole into a table of `frame`, `y`, `x` and the value.
///
/// # Errors
/// [`Error::Table`] naming the table and the file: unreadable, not Parquet, or a compressed file
/// whose footer is unusable or whose files hold different models.
pub async fn register(ctx: &SessionContext, name: &str, path: &Path) -> Result<bool> {
    let table_err = |source: baler_udfs::Error| Error::Table {
        name: name.to_owned(),
        path: path.to_owned(),
        source: Box::new(source),
    };
    if !path.exists() {
        return Err(Error::Open {
            path: path.to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    if path.is_file()
        && crate::ingest::detect_format(path).ok() == Some(crate::ingest::Format::Root)
    {
        return Err(Error::Options {
            message: format!(
                "`{}` is a ROOT file; SQL reads Parquet: convert it first with `baler-arrow convert {}`",
                path.display(),
                path.display()
            ),
        });
    }
    if crate::field::is_field_file(path) {
        // A field decodes whole (fields are small next to tables): one row per value.
        let batch = baler_udfs::field::FieldFile::open(path)
            .and_then(|f| f.to_batch())
            .map_err(table_err)?;
        ctx.register_batch(datafusion::common::TableReference::bare(name), batch)
            .map_err(|e| table_err(e.into()))?;
        return Ok(true);
    }
    let compressed = is_compressed(path).map_err(table_err)?;
    if compressed {
        register_compressed(ctx, name, path)
            .await
            .map_err(table_err)?;
    } else {
        let location = path.to_string_lossy();
        // A bare reference keeps the name's case (`Jet`); a string would be lowercased.
        let table = datafusion::common::TableReference::bare(name);
        ctx.register_parquet(table, location.as_ref(), ParquetReadOptions::default())
            .await
            .map_err(|e| table_err(e.into()))?;
    }
    Ok(compressed)
}

/// Runs `query` and collects its result.
///
/// # Errors
/// [`Error::Query`] with DataFusion's message (unknown column, bad syntax, …).
pub async fn run(ctx: &SessionContext, query: &str) -> Result<Vec<RecordBatch>> {
    let query_err = |e| Error::Query(Box::new(e));
    let frame = ctx.sql(query).await.map_err(query_err)?;
    frame.collect().await.map_err(query_err)
}

/// Writes `batches` in `format`.
///
/// # Errors
/// Arrow errors from the writers.
pub fn write_results(
    batches: &[RecordBatch],
    format: OutputFormat,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    match format {
        OutputFormat::Table => {
            let text = arrow::util::pretty::pretty_format_batches(batches)?;
            writeln!(out, "{text}").map_err(arrow::error::ArrowError::from)?;
        }
        OutputFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            for b in batches {
                writer.write(b)?;
            }
        }
        OutputFormat::Json => {
            let mut writer = arrow::json::ArrayWriter::new(out);
            writer.write_batches(&batches.iter().collect::<Vec<_>>())?;
            writer.finish()?;
        }
    }
    Ok(())
}
