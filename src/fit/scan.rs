//! The first pass over the input: column roles, ranges, bad values and the training sample.

use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, SchemaRef};
use arrow::util::display::array_value_to_string;

use baler_udfs::format::ColumnSpec;

use crate::error::{Error, Result};
use crate::ingest::{EVENT_COLUMN, JetReader, as_f64};
use crate::model::ColumnStats;
use crate::progress::Progress;

/// What the first pass learned about the columns the model may replace.
pub struct Scan {
    pub schema: SchemaRef,
    pub rows: u64,
    /// Indices (in `schema`) of the columns stored as they are.
    pub pass_through: Vec<usize>,
    /// Indices of the other columns, with their statistics and first value.
    pub candidates: Vec<Candidate>,
    /// The first rows of the input, every column ([`HEAD_ROWS`] at most): what size estimates
    /// encode.
    pub head: RecordBatch,
}

/// Rows of the input kept whole in [`Scan::head`].
pub const HEAD_ROWS: usize = 65_536;

impl Scan {
    /// The first `rows` sample rows of the model columns of `columns` (a header's), in
    /// header order.
    pub fn model_sample(&self, columns: &[ColumnSpec], rows: usize) -> Vec<Vec<f64>> {
        columns
            .iter()
            .enumerate()
            .filter(|(_, spec)| spec.storage.is_model())
            .filter_map(|(i, _)| self.candidates.iter().find(|c| c.index == i))
            .map(|c| c.sample[..rows.min(c.sample.len())].to_vec())
            .collect()
    }
}

/// A column that the model may replace (or that is constant).
pub struct Candidate {
    pub index: usize,
    pub stats: ColumnStats,
    /// The first value, as Arrow prints it (a constant column's value).
    pub first: Option<String>,
    /// The first rows' values, for training.
    pub sample: Vec<f64>,
}

/// The pass-through columns: `event` and every `keep` column.
///
/// # Errors
/// [`Error::Column`] for a `keep` column the input does not have.
pub fn pass_through(path: &Path, schema: &SchemaRef, keep: &[String]) -> Result<Vec<usize>> {
    for k in keep {
        crate::ingest::column_index(path, schema, k)?;
    }
    Ok(schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name() == EVENT_COLUMN || keep.contains(f.name()))
        .map(|(i, _)| i)
        .collect())
}

/// Reads every row once: ranges, NaN/Inf and null counts, and the first `sample_rows` rows.
///
/// # Errors
/// Read errors, [`Error::Empty`] without rows, and [`Error::Column`] for a column with NaN,
/// infinite or null values (which the tool cannot compress; `--keep` stores it losslessly),
/// unless `keep_non_finite` says to store such columns as they are.
pub fn scan(
    reader: JetReader,
    keep: &[String],
    keep_non_finite: bool,
    sample_rows: usize,
    progress: &dyn Progress,
) -> Result<Scan> {
    let path = reader.path().to_owned();
    let schema = reader.schema();
    let mut pass_through = pass_through(&path, &schema, keep)?;
    let mut candidates: Vec<Candidate> = (0..schema.fields().len())
        .filter(|i| !pass_through.contains(i))
        .map(|index| Candidate {
            index,
            stats: ColumnStats::default(),
            first: None,
            sample: Vec::new(),
        })
        .collect();
    let mut rows = 0u64;
    let mut head = Vec::new();
    progress.start("scan", reader.total_rows());
    for batch in reader {
        let batch = batch?;
        let room = HEAD_ROWS
            .saturating_sub(rows as usize)
            .min(batch.num_rows());
        if room > 0 {
            head.push(batch.slice(0, room));
        }
        for c in &mut candidates {
            let column = batch.column(c.index);
            if c.first.is_none() && !column.is_empty() {
                c.first = Some(array_value_to_string(column, 0)?);
            }
            let values = as_f64(column)?;
            let values = values.as_primitive::<Float64Type>();
            c.stats.update(values.iter());
            let take = sample_rows.saturating_sub(c.sample.len()).min(values.len());
            c.sample
                .extend(values.iter().take(take).map(|v| v.unwrap_or(f64::NAN)));
        }
        rows += batch.num_rows() as u64;
        progress.advance(batch.num_rows() as u64);
    }
    progress.finish();
    if rows == 0 {
        return Err(Error::Empty { path });
    }
    if keep_non_finite {
        candidates.retain(|c| {
            let bad = c.stats.non_finite + c.stats.nulls > 0;
            if bad {
                pass_through.push(c.index);
            }
            !bad
        });
        pass_through.sort_unstable();
    }
    for c in &candidates {
        let bad = c.stats.non_finite + c.stats.nulls;
        if bad > 0 {
            let name = schema.field(c.index).name();
            return Err(Error::Column {
                path,
                column: name.clone(),
                message: format!(
                    "{} NaN or infinite and {} null values cannot be compressed; store the column losslessly with `--keep {name}`",
                    c.stats.non_finite, c.stats.nulls
                ),
            });
        }
    }
    Ok(Scan {
        head: arrow::compute::concat_batches(&schema, &head)?,
        schema,
        rows,
        pass_through,
        candidates,
    })
}
