//! Checking a compressed file against its original, value by value: every bounded column
//! within its bound with no slack beyond the format's (docs/format.md), every exact, integer,
//! constant and pass-through column bit for bit.

use std::path::Path;

use arrow::array::{Array, ArrayRef};
use baler_udfs::format::{Bound, Storage};
use baler_udfs::quantise::Quantiser;
use serde::Serialize;

use crate::decode::Decoded;
use crate::error::{Error, Result};
use crate::ingest::{self, ReadOptions, f64_values};

/// What [`verify`] checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub rows: u64,
    /// Values compared against a bound or bit for bit.
    pub checked: u64,
    /// Values of model columns without a bound (method `ae`), compared with nothing.
    pub unbounded: u64,
}

/// Decodes `compressed` and checks every value against `original` (read with `read`).
///
/// # Errors
/// Read and decode errors, files of different columns or rows, and [`Error::Verify`] naming the
/// first value that breaks its guarantee (column, row, original and decoded value, bound).
pub fn verify(original: &Path, compressed: &Path, read: &ReadOptions) -> Result<Verification> {
    let mut decoded = Decoded::open(compressed)?;
    let header = decoded.codec.header().clone();
    let reader = ingest::open(original, read)?;
    let schema = reader.schema();
    let names = |s: &arrow::datatypes::Schema| {
        s.fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), f.data_type()))
            .collect::<Vec<_>>()
    };
    if names(&schema) != names(&decoded.schema()) {
        return Err(Error::Verify {
            path: compressed.to_owned(),
            message: format!(
                "it decodes to columns [{}], the original has [{}]",
                names(&decoded.schema()).join(", "),
                names(&schema).join(", ")
            ),
        });
    }
    let checks = header
        .columns
        .iter()
        .map(|c| {
            let dt = c.arrow_type().map_err(|e| Error::Codec {
                path: compressed.to_owned(),
                source: Box::new(e),
            })?;
            Ok(match (&c.storage, c.bound) {
                (Storage::Decoded { .. } | Storage::Predicted, None) => Check::None,
                (Storage::Decoded { .. } | Storage::Predicted, Some(b))
                    if b != Bound::Exact && dt.is_floating() =>
                {
                    let codec_err = |e| Error::Codec {
                        path: compressed.to_owned(),
                        source: Box::new(e),
                    };
                    match c.quantiser().map_err(codec_err)? {
                        Some(q) => Check::Bound(q),
                        None => Check::Bits,
                    }
                }
                _ => Check::Bits,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut report = Verification {
        rows: 0,
        checked: 0,
        unbounded: 0,
    };
    for batch in reader {
        let batch = batch?;
        let rebuilt = decoded
            .take_rows(batch.num_rows())?
            .ok_or_else(|| rows_differ(compressed, report.rows + batch.num_rows() as u64))?;
        for (i, check) in checks.iter().enumerate() {
            let (x, y) = (batch.column(i), rebuilt.column(i));
            let name = schema.field(i).name();
            let broken = |row: usize, x: String, y: String, bound: String| Error::Verify {
                path: compressed.to_owned(),
                message: format!(
                    "column `{name}` row {}: {x} decoded as {y}, which breaks {bound}",
                    report.rows + row as u64
                ),
            };
            match check {
                Check::None => report.unbounded += x.len() as u64,
                Check::Bits => {
                    if let Some(row) = first_difference(x, y) {
                        let show = |a: &ArrayRef| {
                            arrow::util::display::array_value_to_string(a, row).unwrap_or_default()
                        };
                        return Err(broken(row, show(x), show(y), "exactness".into()));
                    }
                    report.checked += x.len() as u64;
                }
                Check::Bound(q) => {
                    let (xs, ys) = (f64_values(x)?, f64_values(y)?);
                    if let Some(row) = (0..xs.len()).find(|&r| !q.holds(xs[r], ys[r])) {
                        let bound = q.bound().to_string();
                        return Err(broken(row, xs[row].to_string(), ys[row].to_string(), bound));
                    }
                    report.checked += x.len() as u64;
                }
            }
        }
        report.rows += batch.num_rows() as u64;
    }
    if !decoded.is_exhausted()? {
        return Err(rows_differ(compressed, report.rows));
    }
    Ok(report)
}

/// How one column is checked.
enum Check {
    /// A model column without a bound: not checked.
    None,
    /// Within the quantiser's bound.
    Bound(Quantiser),
    /// Bit for bit (and null for null).
    Bits,
}

/// The first row where two arrays differ in validity or in the bits of a valid value (floats
/// by their bit patterns, so that `-0.0` differs from `0.0` and a NaN equals itself).
pub(crate) fn first_difference(x: &ArrayRef, y: &ArrayRef) -> Option<usize> {
    use arrow::array::AsArray;
    use arrow::datatypes::{Float16Type, Float32Type, Float64Type};
    if x.data_type() != y.data_type() || x.len() != y.len() {
        return Some(0);
    }
    let valid_differs = |r: usize| x.is_valid(r) != y.is_valid(r);
    // Float values by their bit patterns; `None` for other types.
    let float_bits = |a: &ArrayRef| -> Option<Vec<u64>> {
        match a.data_type() {
            arrow::datatypes::DataType::Float16 => Some(
                a.as_primitive::<Float16Type>()
                    .values()
                    .iter()
                    .map(|v| u64::from(v.to_bits()))
                    .collect(),
            ),
            arrow::datatypes::DataType::Float32 => Some(
                a.as_primitive::<Float32Type>()
                    .values()
                    .iter()
                    .map(|v| u64::from(v.to_bits()))
                    .collect(),
            ),
            arrow::datatypes::DataType::Float64 => Some(
                a.as_primitive::<Float64Type>()
                    .values()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect(),
            ),
            _ => None,
        }
    };
    let bits = float_bits(x).zip(float_bits(y));
    match bits {
        Some((a, b)) => (0..x.len()).find(|&r| valid_differs(r) || (x.is_valid(r) && a[r] != b[r])),
        None if x.to_data() == y.to_data() => None,
        None => (0..x.len()).find(|&r| {
            valid_differs(r)
                || (x.is_valid(r) && x.slice(r, 1).to_data() != y.slice(r, 1).to_data())
        }),
    }
}

fn rows_differ(compressed: &Path, rows: u64) -> Error {
    Error::Verify {
        path: compressed.to_owned(),
        message: format!("it holds a different number of rows than the original (from row {rows})"),
    }
}
