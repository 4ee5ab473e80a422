//! Per-block statistics of the decoded columns: the smallest and largest value of each numeric
//! original column in each block, as decoding gives them, so that a query's filter can skip
//! blocks without decoding them (`WHERE pt > 500`).
//!
//! They are exact statistics of the decoded values (what a query sees), not of the originals,
//! and never Parquet's statistics of the stored streams. Stored as JSON under the footer key
//! [`STATS_KEY`] (written after the blocks); a file without it is read as before and not pruned.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, UInt64Array};
use arrow::compute::cast;
use arrow::datatypes::{ArrowNumericType, DataType, Float64Type, Int64Type, Schema, UInt64Type};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// The footer key of the block statistics.
pub const STATS_KEY: &str = "baler.block_stats";

/// The smallest and largest decoded value of each numeric column in each block; `null` where a
/// block's column has no value to compare (all nulls, or a NaN).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockStats {
    pub columns: Vec<String>,
    /// `min[c][b]`: column `c`, block `b`.
    pub min: Vec<Vec<Value>>,
    pub max: Vec<Vec<Value>>,
}

/// How a column's values are compared and written.
#[derive(Clone, Copy)]
enum Kind {
    Float,
    Signed,
    Unsigned,
}

fn kind(dt: &DataType) -> Option<Kind> {
    if dt.is_floating() {
        Some(Kind::Float)
    } else if dt.is_signed_integer() {
        Some(Kind::Signed)
    } else if dt.is_unsigned_integer() {
        Some(Kind::Unsigned)
    } else {
        None
    }
}

/// The smallest and largest non-null value of `array` read as `T`.
fn extremes<T: ArrowNumericType>(
    array: &ArrayRef,
    dt: &DataType,
) -> Result<Option<(T::Native, T::Native)>> {
    let v = cast(array, dt)?;
    let v = v.as_primitive::<T>();
    Ok(arrow::compute::min(v).zip(arrow::compute::max(v)))
}

/// The (min, max) of one column of one block as JSON numbers, or nulls.
fn range(array: &ArrayRef) -> Result<(Value, Value)> {
    let none = (Value::Null, Value::Null);
    Ok(match kind(array.data_type()) {
        Some(Kind::Float) => {
            // A NaN compares with nothing: no statistics rather than ones a filter misreads.
            let v = cast(array, &DataType::Float64)?;
            if v.as_primitive::<Float64Type>()
                .iter()
                .flatten()
                .any(f64::is_nan)
            {
                return Ok(none);
            }
            match extremes::<Float64Type>(&v, &DataType::Float64)? {
                Some((lo, hi)) if lo.is_finite() && hi.is_finite() => (lo.into(), hi.into()),
                _ => none,
            }
        }
        Some(Kind::Signed) => extremes::<Int64Type>(array, &DataType::Int64)?
            .map_or(none, |(lo, hi)| (lo.into(), hi.into())),
        Some(Kind::Unsigned) => extremes::<UInt64Type>(array, &DataType::UInt64)?
            .map_or(none, |(lo, hi)| (lo.into(), hi.into())),
        None => none,
    })
}

impl BlockStats {
    /// Empty statistics for the numeric columns of `schema`.
    pub fn new(schema: &Schema) -> Self {
        let columns: Vec<String> = schema
            .fields()
            .iter()
            .filter(|f| kind(f.data_type()).is_some())
            .map(|f| f.name().clone())
            .collect();
        Self {
            min: vec![Vec::new(); columns.len()],
            max: vec![Vec::new(); columns.len()],
            columns,
        }
    }

    /// Adds the next block, from its decoded columns.
    ///
    /// # Errors
    /// [`Error::MissingColumn`] when `decoded` lacks a column, Arrow errors.
    pub fn add(&mut self, decoded: &RecordBatch) -> Result<()> {
        for (c, name) in self.columns.iter().enumerate() {
            let array = decoded
                .column_by_name(name)
                .ok_or_else(|| Error::MissingColumn(name.clone()))?;
            let (lo, hi) = range(array)?;
            self.min[c].push(lo);
            self.max[c].push(hi);
        }
        Ok(())
    }

    /// Checks that every column has one entry per block.
    ///
    /// # Errors
    /// [`Error::Damaged`] otherwise.
    pub fn check(&self, blocks: usize) -> Result<()> {
        let ok = self.min.len() == self.columns.len()
            && self.max.len() == self.columns.len()
            && self.min.iter().chain(&self.max).all(|v| v.len() == blocks);
        if ok {
            Ok(())
        } else {
            Err(Error::Damaged {
                key: STATS_KEY.into(),
                message: format!("not one entry per column for each of the {blocks} blocks"),
            })
        }
    }

    /// The minima and maxima of column `name`, one per block, as arrays of type `dt` (nulls
    /// where unknown); `None` for a column without statistics.
    pub fn arrays(&self, name: &str, dt: &DataType) -> Option<(ArrayRef, ArrayRef)> {
        let c = self.columns.iter().position(|n| n == name)?;
        let build = |values: &[Value]| -> Option<ArrayRef> {
            let array: ArrayRef = match kind(dt)? {
                Kind::Float => Arc::new(Float64Array::from(
                    values.iter().map(Value::as_f64).collect::<Vec<_>>(),
                )),
                Kind::Signed => Arc::new(Int64Array::from(
                    values.iter().map(Value::as_i64).collect::<Vec<_>>(),
                )),
                Kind::Unsigned => Arc::new(UInt64Array::from(
                    values.iter().map(Value::as_u64).collect::<Vec<_>>(),
                )),
            };
            cast(&array, dt).ok()
        };
        Some((build(&self.min[c])?, build(&self.max[c])?))
    }
}
